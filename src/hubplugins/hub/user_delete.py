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
then ``user.stop``), after waiting for a start or stop in progress to end.
JupyterHub then finds every server stopped and deletes what the policy says
goes with the user (:func:`hubplugins.spawner.storage.delete_forever`).

If a start or stop in progress does not end within :data:`SETTLE_WAIT`,
nothing is stopped and :class:`UserDeleteError` is raised before anything is
deleted: JupyterHub logs it and answers 500 at the first running server, and
the user keeps everything. A stop that fails raises the same error, but the
servers stopped before it are stopped: JupyterHub still deletes their own
volumes (``delete_with_server``) on its way to the failed one.
"""

from __future__ import annotations

import asyncio
import json
from typing import Any

from jupyterhub.utils import maybe_future

SETTLE_WAIT = 60.0
"""Seconds to wait for a start or stop in progress before giving up on the delete."""


class UserDeleteError(RuntimeError):
    """A server of a user being deleted could not be stopped; nothing was deleted."""


async def _settled(spawner: Any) -> None:
    """Wait (at most :data:`SETTLE_WAIT` seconds each) for a start or stop in progress."""
    for attr in ("_spawn_future", "_stop_future"):
        future = getattr(spawner, attr, None)
        if future is not None and not future.done():
            try:
                await asyncio.wait_for(asyncio.shield(future), SETTLE_WAIT)
            except Exception:  # the request that started it reports how it ended
                pass


async def stop_server(spawner: Any) -> None:
    """Stop one server as the hub's own stop does: its route first, then ``user.stop``."""
    user = spawner.user
    proxy = (getattr(user, "settings", None) or {}).get("proxy")
    if proxy is not None:
        await proxy.delete_user(user, spawner.name)
    await maybe_future(user.stop(spawner.name))


async def stop_other_servers(spawner: Any) -> None:
    """Stop every server of ``spawner``'s user but ``spawner`` itself.

    Starts and stops in progress are waited for first; if one is still in
    progress after that, nothing is stopped. Raises :class:`UserDeleteError`
    naming the servers still pending or running.
    """
    user = spawner.user
    others = [
        other
        for name, other in list(user.spawners.items())
        if name != spawner.name and (other.active or other._stop_pending)
    ]
    if not others:
        return
    payload = {"event": "user_delete_stops", "user": user.name, "servers": [o.name for o in others]}
    spawner.log.info("hubplugins %s", json.dumps(payload, sort_keys=True))
    await asyncio.gather(*(_settled(other) for other in others))
    pending = [f"{o.name} ({o.pending})" for o in others if o.pending]
    if pending:
        raise UserDeleteError(
            f"Deleting {user.name}: servers {', '.join(pending)} still in progress; "
            "nothing was stopped or deleted"
        )
    running = [other for other in others if other.active]
    results = await asyncio.gather(*(stop_server(o) for o in running), return_exceptions=True)
    still = [other.name for other in running if other.active]
    failed = [str(r) for r in results if isinstance(r, BaseException)]
    if still or failed:
        raise UserDeleteError(
            f"Deleting {user.name}: servers {', '.join(still) or 'none'} still running"
            + (f" ({'; '.join(failed)})" if failed else "")
            + "; nothing was deleted"
        )
