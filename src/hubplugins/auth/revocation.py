"""Revocation that holds on every path, shared by every hubplugins authenticator.

JupyterHub calls ``Authenticator.refresh_user`` at most every
``auth_refresh_age`` seconds; every hubplugins authenticator answers False
there when the account is revoked upstream (disabled in the directory, out of
the allowed GitHub organisations or OIDC entitlements, ...). What then ends:

- browser sessions: JupyterHub asks for a new sign-in (both series);
- API tokens: JupyterHub 5.5 ends them too; 6.1 only with
  ``Authenticator.auth_refresh_strict``, and otherwise keeps honouring a token
  made before, so a revoked account could go on starting servers.
  :class:`Revocation` makes True the default (an admin may still say False);
- running servers: stopped in the background (``stop_servers_when_revoked``,
  on by default), each with a log line naming the reason; volumes are kept.

Starts are refused by each authenticator's own ``pre_spawn_start`` re-check.
"""

from __future__ import annotations

import asyncio
from typing import Any

from jupyterhub.auth import Authenticator
from traitlets import Bool, default
from traitlets.config import Configurable

from hubplugins.hub.trait_help import example, trait_help


class Revocation(Configurable):
    """Mixin for authenticators: strict refresh, and :meth:`end_access`."""

    stop_servers_when_revoked = Bool(
        True,
        config=True,
        help=trait_help(
            """
            Stop a user's running servers when a refresh (every ``auth_refresh_age``
            seconds) finds the account revoked: disabled, expired, locked, deleted
            or no longer allowed. Volumes are kept. A log line names the user, the
            server and the reason. False means servers keep running until they are
            stopped otherwise (the account still cannot reach them through the
            hub). Set on the authenticator class in use (the example uses
            ``GitHubAuthenticator``; ``DirectoryAuthenticator``,
            ``OIDCAuthenticator`` and ``MultiAuthenticator`` take it too).
            """,
            example("GitHubAuthenticator", "stop_servers_when_revoked", False),
        ),
    )

    if "auth_refresh_strict" in Authenticator.class_trait_names():  # JupyterHub 6.1+

        @default("auth_refresh_strict")
        def _default_refresh_strict(self) -> bool:
            return True

    def end_access(self, user: Any, handler: Any, reason: str) -> None:
        """Stop the user's running servers in the background (when so configured).

        ``reason`` completes "the account ...", e.g. "is disabled in the directory".
        """
        if not self.stop_servers_when_revoked:
            return
        user = getattr(user, "_user", user)  # the hub's user behind a combined page's child
        spawners = getattr(user, "spawners", None) or {}
        for name, spawner in list(spawners.items()):
            if not getattr(spawner, "ready", False):
                continue  # a pending start is refused or stopped at the next request
            self.log.warning(  # type: ignore[attr-defined]
                "hubplugins: stopping server %r of %s: the account %s", name, user.name, reason
            )
            task = asyncio.ensure_future(self._stop_server(user, handler, name))
            self._stopping.add(task)
            task.add_done_callback(self._stopping.discard)

    @property
    def _stopping(self) -> set[asyncio.Future[None]]:
        tasks = self.__dict__.get("_stopping_tasks")
        if tasks is None:
            tasks = self.__dict__["_stopping_tasks"] = set()
        return tasks

    async def _stop_server(self, user: Any, handler: Any, name: str) -> None:
        try:
            if handler is not None and hasattr(handler, "stop_single_user"):
                await handler.stop_single_user(user, name)
            else:
                await user.stop(name)
        except Exception:
            self.log.exception("hubplugins: stopping server %r of %s failed", name, user.name)  # type: ignore[attr-defined]
