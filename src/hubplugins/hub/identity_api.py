"""Admin endpoint to see and re-link an account's identity.

``GET /hub/api/hubplugins/identities/<user>`` (scope ``admin:users``) answers
``{"user", "owner", "provider", "subject"}``. ``PUT`` with
``{"provider": "github", "subject": "5834201"}`` links the account to that
identity (the refusal page and the hub log name the id someone signed in
with); ``{"subject": null}`` unlinks it, so that the next sign-in under the
name is recorded as its identity. The owner id, and so every volume and key
of the account, stays with the account either way.
"""

from __future__ import annotations

import json
from typing import Any

from hubplugins._lazy import lazy_classes
from hubplugins.hub import identity

HANDLER_PATH = r"/api/hubplugins/identities/([^/]+)"


def _handler_class() -> type:
    from jupyterhub.apihandlers.base import APIHandler
    from jupyterhub.scopes import needs_scope
    from tornado import web

    class IdentityHandler(APIHandler):
        """One account's stable identity; admins re-link it with ``PUT``."""

        def _account(self, name: str) -> Any:
            user = self.find_user(name)
            if user is None:
                raise web.HTTPError(404, f"No such user: {name[:64]}")
            return user

        def _model(self, user: Any) -> dict[str, Any]:
            identity.owner_of(self.db, user.id)
            row = identity.record(self.db, user.id) or {}
            return {
                "user": user.name,
                "owner": row.get("owner"),
                "provider": None if row.get("subject") is None else row.get("provider"),
                "subject": row.get("subject"),
            }

        @needs_scope("admin:users")
        async def get(self, name: str) -> None:
            self.finish(self._model(self._account(name)))

        @needs_scope("admin:users")
        async def put(self, name: str) -> None:
            user = self._account(name)
            try:
                body = json.loads(self.request.body or b"{}")
            except ValueError:
                raise web.HTTPError(400, "The body must be JSON") from None
            if not isinstance(body, dict) or "subject" not in body:
                raise web.HTTPError(
                    400, 'Send {"provider": "github", "subject": "<id>"} or {"subject": null}'
                )
            provider, subject = body.get("provider"), body["subject"]
            if subject is None:
                provider = None
            elif not (
                isinstance(provider, str)
                and isinstance(subject, (str, int))
                and 0 < len(provider) <= 64
                and 0 < len(str(subject)) <= 255
            ):
                raise web.HTTPError(
                    400, "provider must be a name (e.g. github) and subject a non-empty id"
                )
            identity.relink(self.db, user.id, provider, None if subject is None else str(subject))
            self.log.info(
                "hubplugins identity: %s re-linked %s to %s id %s",
                self.current_user.name if self.current_user else "?",
                user.name,
                provider,
                subject,
            )
            self.finish(self._model(user))

    return IdentityHandler


# the handler classes, built on first use (see hubplugins._lazy)
__getattr__ = lazy_classes(__name__, _handler_class, "IdentityHandler")


def setup_handlers(c: Any) -> None:
    """The ``setup(c)`` step: serve the identity endpoint from the hub."""
    existing = list(c.JupyterHub.extra_handlers) if "extra_handlers" in c.JupyterHub else []
    if HANDLER_PATH not in {entry[0] for entry in existing}:
        c.JupyterHub.extra_handlers = [*existing, (HANDLER_PATH, __getattr__("IdentityHandler"))]
