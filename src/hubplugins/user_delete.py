"""Deleting a user: every other server of theirs is stopped before anything is deleted.

JupyterHub's ``DELETE /users/{name}`` (5.5 and 6.x alike) stops only the
default server, then calls each server's ``delete_forever()`` in turn and
answers 500 at the first server that is still running, after the servers
before it have deleted their volumes (and the default server the user's SSH
key Secret, still mounted by the running pods). The user is then left with
records whose volumes are gone and pods that mount deleted objects.

The default server's ``delete_forever()`` is called only when its user is
deleted, and JupyterHub calls it first (the default server's record is the
user's first). :func:`stop_other_servers`, called from there, stops the user's
other servers the way the hub's own stop does (route removed from the proxy,
then ``user.stop``), waiting for a start or stop in progress to finish first.
JupyterHub then finds every server stopped and deletes what the policy says
goes with the user (:func:`hubplugins.storage.delete_forever`). If a server
cannot be stopped, :class:`UserDeleteError` is raised before anything is
deleted; JupyterHub logs it and refuses the delete at that server, the user
keeps everything.
"""

from __future__ import annotations

import asyncio
import json
from typing import Any

from jupyterhub.utils import maybe_future

STOP_WAIT = 60.0
"""Seconds to wait for a stop already in progress before giving up on the delete."""


class UserDeleteError(RuntimeError):
    """A server of a user being deleted could not be stopped; nothing was deleted."""


async def _settled(spawner: Any) -> None:
    """Wait for a start or stop of ``spawner`` in progress (bounded by its own timeouts)."""
    for future, timeout in (
        (getattr(spawner, "_spawn_future", None), spawner.start_timeout + spawner.http_timeout),
        (getattr(spawner, "_stop_future", None), STOP_WAIT),
    ):
        if future is not None and not future.done():
            try:
                await asyncio.wait_for(asyncio.shield(future), timeout)
            except Exception:  # its own handler reports how it ended
                pass


async def _stop(spawner: Any) -> None:
    user = spawner.user
    await _settled(spawner)
    if spawner.pending:
        raise UserDeleteError(f"{spawner._log_name} is still {spawner.pending}")
    if not spawner.active:
        return
    proxy = (getattr(user, "settings", None) or {}).get("proxy")
    if proxy is not None:
        await proxy.delete_user(user, spawner.name)
    await maybe_future(user.stop(spawner.name))


async def stop_other_servers(spawner: Any) -> None:
    """Stop every server of ``spawner``'s user but ``spawner`` itself.

    Raises :class:`UserDeleteError` naming the servers that are still
    running or pending afterwards.
    """
    user = spawner.user
    others = [
        other
        for name, other in list(user.spawners.items())
        if name != spawner.name and (other.active or other._stop_pending)
    ]
    if not others:
        return
    names = [other.name for other in others]
    payload = {"event": "user_delete_stops", "user": user.name, "servers": names}
    spawner.log.info("hubplugins %s", json.dumps(payload, sort_keys=True))
    results = await asyncio.gather(*(_stop(other) for other in others), return_exceptions=True)
    still = [other.name for other in others if other.active]
    failed = [str(r) for r in results if isinstance(r, BaseException)]
    if still or failed:
        raise UserDeleteError(
            f"Deleting {user.name}: servers {', '.join(still) or 'none'} still running"
            + (f" ({'; '.join(failed)})" if failed else "")
            + "; nothing was deleted"
        )
