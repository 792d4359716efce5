"""The saved GPU line read back once the hub has started (see :mod:`hubplugins.spawner.line_store`).

The ``setup(c)`` step hooks the hub's start (:mod:`hubplugins.hub.started`)
while the hub reads its configuration, so the line is back
without waiting for any spawner to be made, and costs one query plus one
user lookup per saved place: nothing for users with no place.
"""

from __future__ import annotations

from typing import Any

from hubplugins.hub import started as hub_start
from hubplugins.policy.rules.gpu_pool import GpuPool
from hubplugins.spawner import line_store
from hubplugins.spawner.gpu_line import _LINES, _ensure_pump, _HubLine, log

__all__ = ["restore_line", "when_started"]


def _pool(app: Any, key: str) -> GpuPool:
    """The spawners' pool ``key`` (made as :attr:`PolicySpawner.gpu_pool` makes it)."""
    from hubplugins.hub.config import HubPolicy
    from hubplugins.spawner.policy_spawner import PolicySpawner

    pools = getattr(app.spawner_class, "_gpu_pools", PolicySpawner._gpu_pools)
    pool = pools.get(key)
    if pool is None:
        table = HubPolicy.instance_for(app.config, log=app.log).table
        pool = pools[key] = GpuPool(dict(table.cluster.gpu_pool))
    return pool


def restore_line(app: Any) -> int:
    """Read the saved line back into this hub and start its pumps; the places restored.

    One query, then one user lookup per saved place (none for anybody else): a
    place whose account is gone or has another name now is dropped.
    """
    rows = line_store.load(app.db)
    restored = 0
    for row in rows:
        place = row.place
        hub = _LINES.get(row.pool)
        if hub is None:
            hub = _LINES[row.pool] = _HubLine(row.pool, _pool(app, row.pool))
        if row.ended is not None:
            hub.line.ended[place.server_id] = row.ended
            continue
        try:
            user = app.users[row.user_id]
        except KeyError:
            user = None
        if user is None or user.name != place.user:
            line_store.drop(app.db, row.pool, place.server_id)
            continue
        hub.line.restore(place)
        hub.users[place.server_id] = user
        restored += 1
    for hub in _LINES.values():
        if hub.line.places:
            _ensure_pump(hub)
    if restored:
        log.info("hubplugins: %d places restored in the GPU line", restored)
    return restored


def when_started(app: Any) -> None:
    """Restore the line when ``app`` (the JupyterHub being configured) has started."""
    hub_start.when_started(app, "restoring the saved GPU line", restore_line)
