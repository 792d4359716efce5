"""The fair GPU line in the hub: places outside the spawn, started when a GPU frees.

A tier with ``resources.gpu.queue.max_wait`` (see :mod:`hubplugins.gpu_queue`)
answers a start that finds the pool full with a 409 ``queued: 2nd in line for
1 GPU; 4 of 4 in use`` and keeps a place for the server in this hub's line.
The start itself has ended, so the wait holds none of JupyterHub's
``concurrent_spawn_limit`` slots and never runs into ``start_timeout``.

When a GPU frees (a server of this hub stops, or a pod elsewhere goes: the pod
reflector is read every second while anybody waits), the first place that
fits is served: its GPUs are reserved for it at once (so no other start takes
them) and the server is started through JupyterHub's own ``User.spawn`` with
the options it asked with, every policy check run again, then added to the
proxy as the hub's spawn handler does. A place that waited ``max_wait`` ends
with a message the user reads next.

- ``GET /hub/api/hubplugins/gpu-queue/{user}``: the user's places and last
  messages (scope ``read:servers`` on that user).
- ``DELETE /hub/api/hubplugins/gpu-queue/{user}/{server}``: leave the line
  (scope ``servers`` on that server: its owner or an admin).

The line lives in this hub's memory: a restarted hub has none (users ask
again); across hubs sharing a namespace quota, the quota decides.
"""

from __future__ import annotations

import asyncio
import functools
import inspect
import logging
import time
from typing import Any

from . import pool_sync
from .decisions import Decision
from .errors import PolicyRefusal
from .gpu_pool import RULE as POOL_RULE
from .gpu_pool import GpuPool
from .gpu_queue import QUEUE_RULE, GpuLine, ordinal
from .pod_holdings import pooled_holdings

__all__ = [
    "LINE_PATH",
    "being_served",
    "line_report",
    "pool_freed",
    "reserve_or_queue",
    "setup_gpu_queue",
]

LINE_PATH = r"/api/hubplugins/gpu-queue/([^/]+)"
PLACE_PATH = r"/api/hubplugins/gpu-queue/([^/]+)/([^/]*)"
TICK = 1.0  # seconds between looks at the pods while anybody waits

log = logging.getLogger("hubplugins.gpu_line")


async def _awaited(value: Any) -> Any:
    return await value if inspect.isawaitable(value) else value


class _HubLine:
    """One pool's line, the users to start servers for, and its pump."""

    def __init__(self, pool: GpuPool) -> None:
        self.pool = pool
        self.line = GpuLine()
        self.users: dict[str, Any] = {}  # server id -> jupyterhub.user.User
        self.freed = asyncio.Event()
        self.pump: asyncio.Task[None] | None = None
        self.served: list[str] = []  # server ids in the order served (for benchmarks)


_LINES: dict[str, _HubLine] = {}


def _hub_line(spawner: Any) -> _HubLine:
    key = spawner.gpu_pool_name or "default"
    found = _LINES.get(key)
    if found is None or found.pool is not spawner.gpu_pool:
        found = _LINES[key] = _HubLine(spawner.gpu_pool)
    return found


def reserve_or_queue(spawner: Any, policy: Any, grant: dict[str, Any], pods: Any) -> dict[str, int]:
    """:func:`pool_sync.reserve`, or a place in line when the pool is full and the tier queues.

    Raises :class:`PolicyRefusal`: the pool's 409 (no line for this tier) or
    the line's ``queued`` 409 with the place.
    """
    hub = _hub_line(spawner)
    server_id = spawner._server_key
    demand = pool_sync.demand(spawner, grant, hub.pool)
    try:
        wanted = pool_sync.reserve(spawner, server_id, grant, pods)
        # a GPU free this moment is still theirs who wait for its kind
        ahead = hub.line.waiting_ahead(server_id, wanted)
        if ahead:
            hub.pool.release(server_id)
            _behind(hub, ahead, pods).enforce()
    except PolicyRefusal as refusal:
        decision = refusal.decision
        max_wait = policy.resources.gpu.queue_max_wait
        if (
            decision.rule != POOL_RULE
            or "size" not in decision.details
            or not max_wait
            or not hub.line.room_for(
                server_id,
                demand,
                functools.partial(policy.quota.gpu_for, main=policy.resources.gpu.resource),
                policy.servers.max_running,
            )
        ):
            hub.line.leave(server_id)
            raise
        options = dict(spawner.user_options or {})
        hub.line.join(server_id, demand, options, time.time(), max_wait)
        hub.users[server_id] = spawner.user
        _ensure_pump(hub)
        queued = hub.line.queued(server_id, decision.details["in_use"], decision.details["size"])
        raise PolicyRefusal(queued) from None
    if hub.line.leave(server_id):
        hub.served.append(server_id)
    hub.users.pop(server_id, None)
    return wanted


def _behind(hub: _HubLine, ahead: list[Any], pods: Any) -> Decision:
    """The pool's refusal of a start that finds others waiting for its GPU kind:
    what frees is theirs first, whether or not a GPU is free this moment."""
    kind = ahead[0].resource
    held = pool_sync.pool_holdings(pods, hub.pool, [kind])
    in_use, size = hub.pool.in_use(kind, held), hub.pool.size(kind)
    waiting = "1 server is" if len(ahead) == 1 else f"{len(ahead)} servers are"
    return Decision.refuse(
        POOL_RULE,
        f"GPU pool: {waiting} waiting in line for {kind}, and the GPUs that free go to "
        f"them first; {in_use} of {size} in use.",
        status=409,
        limit=size,
        usage=in_use,
        resource=kind,
        in_use=in_use,
        size=size,
        waiting=len(ahead),
    )


def being_served(spawner: Any) -> bool:
    """Whether the server's start is the line's own: its GPUs were reserved for its
    place, and the ``clear_state`` JupyterHub calls as the start begins must keep them."""
    hub = _LINES.get(spawner.gpu_pool_name or "default")
    place = hub.line.places.get(spawner._server_key) if hub is not None else None
    return place is not None and place.serving


def pool_freed(spawner: Any) -> None:
    """A server of this hub gave GPUs back: serve the line now."""
    hub = _LINES.get(spawner.gpu_pool_name or "default")
    if hub is not None:
        hub.freed.set()


def _ensure_pump(hub: _HubLine) -> None:
    if hub.pump is None or hub.pump.done():
        hub.pump = asyncio.get_running_loop().create_task(_pump(hub))


def _holdings(pool: GpuPool) -> dict[str, dict[str, int]] | None:
    from .usage_api import _hub_pods

    pods = _hub_pods()
    if pods is None:
        return None
    return pooled_holdings(list(pods.items()), set(pool.capacity))


def _available(pool: GpuPool, held: Any, resource: str) -> int | None:
    return pool.available(resource, held)


async def _pump(hub: _HubLine) -> None:
    """Serve and expire places until the line is empty."""
    while hub.line.places:
        for place in hub.line.expire(time.time()):
            hub.users.pop(place.server_id, None)
            log.info("hubplugins: %s left the GPU line after max_wait", place.server_id)
        held = _holdings(hub.pool)
        if held is not None:
            free = functools.partial(_available, hub.pool, held)
            for place in hub.line.ready(free):
                decision = hub.pool.reserve(place.server_id, dict(place.demand), pods=held)
                if not decision.allowed:
                    break
                place.serving = True
                asyncio.get_running_loop().create_task(_serve(hub, place.server_id))
        hub.freed.clear()
        try:
            await asyncio.wait_for(hub.freed.wait(), TICK)
        except TimeoutError:
            pass


async def _serve(hub: _HubLine, server_id: str) -> None:
    """Start a served place's server as JupyterHub's spawn handler would."""
    place = hub.line.places.get(server_id)
    user = hub.users.get(server_id)
    if place is None or user is None:
        hub.pool.release(server_id)
        return
    name = place.server
    users = user.settings.get("users") or {}
    if user.id not in users or user.name != place.user:
        # deleted or renamed while waiting: nobody starts a server in their name
        hub.line.leave(server_id)
        hub.users.pop(server_id, None)
        hub.pool.release(server_id)
        return
    if not await _still_allowed(user):
        hub.line.leave(
            server_id,
            "The server was not started from the GPU line: your sign-in could not be "
            "confirmed (access ended or expired). Sign in again and start it to take a new place.",
        )
        hub.users.pop(server_id, None)
        hub.pool.release(server_id)
        return
    spawner = user.spawners.get(name)
    if spawner is not None and (spawner.active or spawner.pending):
        # started by other means meanwhile: the line's work is done
        hub.line.leave(server_id)
        hub.users.pop(server_id, None)
        if not spawner.active:
            hub.pool.release(server_id)
        return
    spawner = user.get_spawner(name, replace_failed=True)
    # pending from now on, as the spawn handler marks it: nobody starts it twice
    spawner._spawn_pending = True
    started = asyncio.ensure_future(_start(user, name, dict(place.options)))
    spawner._spawn_future = started

    def _done(future: asyncio.Future[None]) -> None:
        if future.cancelled() or future.exception() is None:
            spawner._spawn_future = None
        spawner._spawn_pending = False

    started.add_done_callback(_done)
    try:
        await started
    except Exception as error:
        if not spawner.active:
            hub.pool.release(server_id)
        still = hub.line.places.get(server_id)
        if still is not None and still.serving:  # not put back in line by the start itself
            message = getattr(error, "jupyterhub_message", None) or str(error)
            hub.line.leave(server_id, f"The start from the GPU line failed: {message}")
            hub.users.pop(server_id, None)
        elif still is not None:
            _ensure_pump(hub)


async def _still_allowed(user: Any) -> bool:
    """Ask the authenticator again (its ``refresh_user``): nobody waiting is started
    for an account whose access ended while it waited."""
    authenticator = user.settings.get("authenticator")
    if authenticator is None:
        return True
    try:
        fresh = await _awaited(authenticator.refresh_user(user, None))
    except Exception:
        log.exception(
            "hubplugins: refreshing %s before a start from the GPU line failed", user.name
        )
        return False
    return bool(fresh)


async def _start(user: Any, name: str, options: dict[str, Any]) -> None:
    """``User.spawn``, then the proxy's route and the poll, as the spawn handler does."""
    await user.spawn(name, options=options)  # 6.x takes a display name second
    spawner = user.spawners[name]
    proxy = user.settings.get("proxy")
    spawner._proxy_pending = True
    try:
        if proxy is not None:
            await proxy.add_user(user, name)
    except Exception:
        log.exception("hubplugins: adding %s to the proxy failed; stopping it", spawner._log_name)
        await user.stop(name)
        raise
    finally:
        spawner._proxy_pending = False
    spawner.add_poll_callback(_stopped, user, name)


async def _stopped(user: Any, name: str) -> None:
    """The poll found the server gone: what JupyterHub's handler does then."""
    proxy = user.settings.get("proxy")
    try:
        if proxy is not None:
            await proxy.delete_user(user, name)
    finally:
        await user.stop(name)


def line_report(user_name: str, server_name: str | None = None) -> dict[str, Any]:
    """The places of ``user_name`` (or one server) in every line, and their last word."""
    places: list[dict[str, Any]] = []
    ended: list[dict[str, Any]] = []
    for hub in _LINES.values():
        for server_id, place in hub.line.places.items():
            if place.user != user_name or server_name not in (None, place.server):
                continue
            held = _holdings(hub.pool) or {}
            position = hub.line.position(server_id) or 0
            n = place.demand.get(place.resource, 0)
            in_use, size = hub.pool.in_use(place.resource, held), hub.pool.size(place.resource)
            places.append(
                {
                    "server": place.server,
                    "position": position,
                    "resource": place.resource,
                    "gpus": n,
                    "in_use": in_use,
                    "size": size,
                    "starting": place.serving,
                    "max_wait": place.deadline - place.asked,
                    "text": (
                        f"{ordinal(position)} in line for {'1 GPU' if n == 1 else f'{n} GPUs'}; "
                        f"{in_use} of {size} in use" + ("; starting now" if place.serving else "")
                    ),
                }
            )
        for server_id, message in hub.line.ended.items():
            user, _, server = server_id.partition("/")
            if user == user_name and server_name in (None, server):
                ended.append({"server": server, "message": message})
    return {"user": user_name, "places": places, "ended": ended}


def _leave(user_name: str, server_name: str) -> bool:
    server_id = f"{user_name}/{server_name}"
    left = False
    for hub in _LINES.values():
        place = hub.line.places.get(server_id)
        if place is not None and place.serving:
            continue  # its start is under way: stop the server instead
        if hub.line.leave(server_id):
            hub.users.pop(server_id, None)
            left = True
        hub.line.ended.pop(server_id, None)
    return left


def _handler_classes() -> tuple[type, type]:
    from jupyterhub.apihandlers.base import APIHandler
    from jupyterhub.scopes import needs_scope
    from tornado import web

    from .edge import http_error, log_decision

    class LineHandler(APIHandler):
        """``GET``: a user's places in the GPU line."""

        @needs_scope("read:servers")
        async def get(self, user_name: str) -> None:
            if self.find_user(user_name) is None:
                raise web.HTTPError(404, f"No such user: {user_name[:64]}")
            self.finish(line_report(user_name))

    class PlaceHandler(APIHandler):
        """``GET`` one server's place; ``DELETE``: leave the line."""

        @needs_scope("read:servers")
        async def get(self, user_name: str, server_name: str) -> None:
            if self.find_user(user_name) is None:
                raise web.HTTPError(404, f"No such user: {user_name[:64]}")
            self.finish(line_report(user_name, server_name))

        @needs_scope("servers")
        async def delete(self, user_name: str, server_name: str) -> None:
            if self.find_user(user_name) is None:
                raise web.HTTPError(404, f"No such user: {user_name[:64]}")
            fields = {"user": user_name, "server": server_name}
            if not _leave(user_name, server_name):
                decision = Decision.refuse(
                    QUEUE_RULE,
                    f"Server {server_name[:64]!r} of {user_name[:64]} has no place in the "
                    "GPU line (never queued, already started or gave up).",
                    status=404,
                )
                refusal = PolicyRefusal(decision)
                log_decision(self.log, "gpu-queue-leave", refusal, **fields)
                raise http_error(refusal)
            log_decision(self.log, "gpu-queue-leave", {"outcome": "left"}, **fields)
            self.set_status(204)
            self.finish()

    return LineHandler, PlaceHandler


def __getattr__(name: str) -> Any:
    # built on first use so that importing this module needs no JupyterHub
    if name in ("LineHandler", "PlaceHandler"):
        line, place = _handler_classes()
        globals().update(LineHandler=line, PlaceHandler=place)
        return globals()[name]
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def handlers() -> list[tuple[str, Any]]:
    return [(LINE_PATH, __getattr__("LineHandler")), (PLACE_PATH, __getattr__("PlaceHandler"))]


def setup_gpu_queue(c: Any) -> None:
    """The ``setup(c)`` step: the line's endpoints."""
    hub = c.JupyterHub
    existing = list(hub.extra_handlers) if "extra_handlers" in hub else []
    paths = {entry[0] for entry in existing}
    hub.extra_handlers = [*existing, *(h for h in handlers() if h[0] not in paths)]
