"""The fair GPU line in the hub: places outside the spawn, started when a GPU frees.

A tier with ``resources.gpu.queue.max_wait`` (see :mod:`hubplugins.policy.rules.gpu_queue`)
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

Its endpoints (where a user stands, leaving the line) are
:mod:`hubplugins.spawner.gpu_line_api`'s.

A start the namespace ``ResourceQuota`` refuses (another hub took the GPUs
this hub's pool saw free) takes a place too, or keeps the one it came from,
held back and tried again after a back-off (see :mod:`hubplugins.policy.rules.gpu_queue`):
the other hub's pods are not this hub's to watch, so the quota's frees are
found by trying, one create at a time, first in line first.

The places are kept in the hub's database too (:mod:`hubplugins.spawner.line_store`):
when the hub has started again (after an upgrade, or a crash) the line is
read back in the order of asking and its pump started; a place whose owner's
account was deleted or renamed meanwhile is dropped, one whose ``max_wait``
passed ends with its message. The line is per hub; across hubs sharing a
namespace quota, the quota decides.
"""

from __future__ import annotations

import asyncio
import functools
import inspect
import logging
import time
from typing import Any

from hubplugins.hub.started import hub_app
from hubplugins.policy.decision import Decision
from hubplugins.policy.errors import PolicyRefusal
from hubplugins.policy.grant import Grant
from hubplugins.policy.pod_holdings import pooled_holdings
from hubplugins.policy.rules.gpu_pool import RULE as POOL_RULE
from hubplugins.policy.rules.gpu_pool import GpuPool
from hubplugins.policy.rules.gpu_queue import GpuLine, Place
from hubplugins.spawner import line_store, pool_sync

__all__ = [
    "being_served",
    "pool_freed",
    "quota_refused",
    "reserve_or_queue",
    "setup_gpu_queue",
]

TICK = 1.0  # seconds between looks at the pods while anybody waits

log = logging.getLogger("JupyterHub")  # the hub's own log, as its messages are


async def _awaited(value: Any) -> Any:
    return await value if inspect.isawaitable(value) else value


class _HubLine:
    """One pool's line, the users to start servers for, and its pump."""

    def __init__(self, key: str, pool: GpuPool) -> None:
        self.key = key
        self.pool = pool
        self.line = GpuLine()
        self.users: dict[str, Any] = {}  # server id -> jupyterhub.user.User
        # server id -> its place, while its start from the line creates the pod
        self.started: dict[str, Place] = {}
        self.freed = asyncio.Event()
        self.pump: asyncio.Task[None] | None = None
        self.watching: asyncio.Future[Any] | None = None
        self.served: list[str] = []  # server ids in the order served (for benchmarks)
        # server ids whose record the start that queued them made and its refusal removed
        # (a new named server): the line makes it again when it serves the place. Any
        # other place whose record is gone was removed or renamed by its owner, and ends.
        self.made: set[str] = set()


_LINES: dict[str, _HubLine] = {}


def _hub_line(spawner: Any) -> _HubLine:
    key = spawner.gpu_pool_name or "default"
    found = _LINES.get(key)
    if found is None or found.pool is not spawner.gpu_pool:
        found = _LINES[key] = _HubLine(key, spawner.gpu_pool)
    return found


def _db() -> Any:
    """The hub's database session (None outside a running hub)."""
    return getattr(hub_app(), "db", None)


def _joined(hub: _HubLine, place: Place, user: Any) -> None:
    hub.users[place.server_id] = user
    db = _db()
    if db is not None:
        line_store.save(db, hub.key, user.id, place)


def _left(hub: _HubLine, server_id: str, why: str | None = None) -> bool:
    """Leave the line (``why``: the message its owner reads next), in the database too."""
    had = hub.line.leave(server_id, why)
    hub.users.pop(server_id, None)
    hub.made.discard(server_id)
    db = _db() if had or why is not None else None
    if db is not None:
        if why is None:
            line_store.drop(db, hub.key, server_id)
        else:
            line_store.end(db, hub.key, server_id, why)
    return had


def reserve_or_queue(spawner: Any, policy: Any, grant: Grant, pods: Any) -> dict[str, int]:
    """:func:`pool_sync.reserve`, or a place in line when the pool is full and the tier queues.

    Raises :class:`PolicyRefusal`: the pool's 409 (no line for this tier) or
    the line's ``queued`` 409 with the place.
    """
    hub = _hub_line(spawner)
    server_id = spawner._server_key
    demand = pool_sync.demand(spawner, grant, hub.pool)
    if not _same_account(hub, server_id, spawner.user):
        _left(hub, server_id)  # an earlier account's of this name: never inherited
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
            or not _room_for(hub, policy, server_id, demand)
        ):
            _left(hub, server_id)
            raise
        options = dict(spawner.user_options or {})
        place = hub.line.join(server_id, demand, options, time.time(), max_wait)
        if spawner._record_made_for_this_start():
            hub.made.add(server_id)
        _joined(hub, place, spawner.user)
        _ensure_pump(hub)
        queued = hub.line.queued(server_id, decision.details["in_use"], decision.details["size"])
        raise PolicyRefusal(queued) from None
    place = hub.line.places.get(server_id)
    if _left(hub, server_id):
        hub.served.append(server_id)
        if place is not None:
            hub.started[server_id] = place  # back in line if the quota refuses its pod
    return wanted


def _same_account(hub: _HubLine, server_id: str, user: Any) -> bool:
    """Whether the place of ``server_id`` (if any) is the account ``user``'s (the hub
    keeps one ``User`` per account; a database may give a deleted account's id to
    the next one made)."""
    owner = hub.users.get(server_id)
    return owner is None or owner is user


def _is_current(user: Any) -> bool:
    """Whether ``user`` is still the hub's account of its id: not deleted, not
    replaced by a later account of the same name (and perhaps the same id)."""
    users = user.settings.get("users")
    return isinstance(users, dict) and dict.get(users, user.id) is user


def _room_for(hub: _HubLine, policy: Any, server_id: str, demand: dict[str, int]) -> bool:
    return hub.line.room_for(
        server_id,
        demand,
        functools.partial(policy.quota.gpu_for, main=policy.resources.gpu.resource),
        policy.servers.max_running,
    )


def quota_refused(spawner: Any, decision: Decision) -> Decision:
    """A pod the namespace ``ResourceQuota`` refused for its GPUs: in a tier with a
    line, a place (the one it came from, if any), held back and tried again after a
    back-off, and the ``queued`` answer; otherwise ``decision`` as it is."""
    policy = spawner.resolve_policy()
    max_wait = policy.resources.gpu.queue_max_wait
    if decision.rule != POOL_RULE or not max_wait:
        return decision
    hub = _hub_line(spawner)
    server_id = spawner._server_key
    grant: Grant | None = spawner._grant
    demand = dict(spawner._pool_demand or {})
    if not demand and grant is not None and grant.gpu:
        demand = {grant.gpu_resource: grant.gpu}
    earlier = hub.started.pop(server_id, None) or hub.line.places.get(server_id)
    if not demand or (earlier is None and not _room_for(hub, policy, server_id, demand)):
        return decision
    now = time.time()
    options = dict(spawner.user_options or {})
    if earlier is not None:
        hub.line.restore(earlier)  # its place in the order of asking
    place = hub.line.join(server_id, demand, options, now, max_wait)
    hub.line.hold_back(server_id, now)
    _joined(hub, place, spawner.user)
    _ensure_pump(hub)
    return hub.line.queued(server_id, decision.usage, decision.limit)


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


def server_removed(spawner: Any) -> None:
    """A server is removed (``DELETE ... {"remove": true}``, or its user deleted): its
    place in line ends, and nothing reserved for it stays reserved."""
    hub = _LINES.get(spawner.gpu_pool_name or "default")
    if hub is not None and spawner._server_key in hub.line.places:
        _left(hub, spawner._server_key)
        if hub.pool.release(spawner._server_key):
            hub.freed.set()


def pool_freed(spawner: Any) -> None:
    """A server of this hub gave GPUs back: serve the line now (places the quota
    refused too, unless what freed is such a place's own reservation)."""
    hub = _LINES.get(spawner.gpu_pool_name or "default")
    if hub is not None:
        server_id = spawner._server_key
        hub.started.pop(server_id, None)
        if server_id not in hub.line.places:
            hub.line.retry_now()
        hub.freed.set()


def _ensure_pump(hub: _HubLine) -> None:
    if hub.pump is None or hub.pump.done():
        hub.pump = asyncio.get_running_loop().create_task(_pump(hub))


def _holdings(pool: GpuPool) -> dict[str, dict[str, int]] | None:
    from hubplugins.spawner.usage_api import _hub_pods

    pods = _hub_pods()
    if pods is None:
        return None
    return pooled_holdings(list(pods.items()), set(pool.capacity))


def _available(pool: GpuPool, held: Any, resource: str) -> int | None:
    return pool.available(resource, held)


def _watch_pods(hub: _HubLine) -> None:
    """Start KubeSpawner's pod reflector through a spawner of a user in line (a
    restarted hub with no running server has none yet): no server record made."""
    if hub.watching is not None and not hub.watching.done():
        return
    for server_id, place in hub.line.places.items():
        user = hub.users.get(server_id)
        if user is None:
            continue
        names = [n for n in (place.server, "") if n in user.orm_spawners]
        if names:
            spawner = user.spawners[names[0]]
            hub.watching = asyncio.ensure_future(pool_sync.live_pods(spawner))
            return


async def _pump(hub: _HubLine) -> None:
    """Serve and expire places until the line is empty."""
    while hub.line.places:
        now = time.time()
        for place in hub.line.expire(now):
            _left(hub, place.server_id, hub.line.ended.get(place.server_id))
            log.info("hubplugins: %s left the GPU line after max_wait", place.server_id)
        held = _holdings(hub.pool)
        if held is None:
            _watch_pods(hub)
        else:
            free = functools.partial(_available, hub.pool, held)
            for place in hub.line.ready(free, now):
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
    if not _is_current(user) or user.name != place.user:
        # deleted or renamed while waiting: nobody starts a server in their name
        _left(hub, server_id)
        hub.pool.release(server_id)
        return
    allowed = await _still_allowed(user)
    if hub.line.places.get(server_id) is not place:
        return  # ended meanwhile (the server removed, the place left): nothing to start
    if not allowed:
        _left(
            hub,
            server_id,
            "The server was not started from the GPU line: your sign-in could not be "
            "confirmed (access ended or expired). Sign in again and start it to take a new place.",
        )
        hub.pool.release(server_id)
        return
    spawner = user.spawners.get(name)
    if spawner is not None and (spawner.active or spawner.pending):
        # started by other means meanwhile: the line's work is done
        _left(hub, server_id)
        if not spawner.active:
            hub.pool.release(server_id)
        return
    if name and name not in user.orm_spawners:
        refused = _no_record(hub, user, place)
        if refused is not None:
            _left(hub, server_id, f"The server was not started from the GPU line: {refused}")
            hub.pool.release(server_id)
            return
        make = getattr(user, "get_or_create_spawner", None)  # 6.x; 5.5 makes it on lookup
        if make is not None:
            make(name, name)
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
        hub.started.pop(server_id, None)
        if not spawner.active:
            hub.pool.release(server_id)
        still = hub.line.places.get(server_id)
        if still is not None and still.serving:  # not put back in line by the start itself
            message = getattr(error, "jupyterhub_message", None) or str(error)
            _left(hub, server_id, f"The start from the GPU line failed: {message}")
        elif still is not None:
            _ensure_pump(hub)


def _no_record(hub: _HubLine, user: Any, place: Place) -> str | None:
    """Why the place of a named server with no record cannot start, or None: the record
    was the queued first start's (a new named server) and the policy still lets the
    user create it now, so the line makes it as JupyterHub's start would."""
    if place.server_id not in hub.made:
        return "it was removed or renamed while it waited."
    from hubplugins.hub.config import HubPolicy, named_server_check

    table = HubPolicy.instance_for(user.settings.get("config")).table
    groups = [g.name for g in user.groups]
    _, decision = named_server_check(table, groups, user.orm_spawners, place.server)
    return None if decision.allowed else decision.message


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


def setup_gpu_queue(c: Any) -> None:
    """The ``setup(c)`` step: the line's endpoints, and its restore once the hub started."""
    hub = c.JupyterHub
    existing = list(hub.extra_handlers) if "extra_handlers" in hub else []
    paths = {entry[0] for entry in existing}
    from hubplugins.spawner.gpu_line_api import handlers
    from hubplugins.spawner.line_restore import when_started

    hub.extra_handlers = [*existing, *(h for h in handlers() if h[0] not in paths)]
    app = hub_app()
    if app is not None:  # the hub loading its configuration, not a check of it
        when_started(app)
