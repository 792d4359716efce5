"""A server removed while the GPU line serves its place is not started.

The line serves a place in steps: it reserves the GPUs, asks the authenticator
again (``refresh_user``, a request to the provider), then starts the server.
A removal (``DELETE .../servers/<name>`` with ``remove``) in between ends the
place and gives the GPUs back (``server_removed``, from ``delete_forever``,
before JupyterHub drops the server's record). The serving step does not look
at its place again after the refresh: the record is still there, so it starts
the server being removed, on GPUs the pool no longer holds for it, and the
record is then deleted under the start.
"""

from __future__ import annotations

import time
from types import SimpleNamespace
from typing import Any

from hubplugins.policy.rules.gpu_pool import GpuPool
from hubplugins.spawner import gpu_line

SERVER_ID = "rita/gpu"


async def test_a_place_removed_during_the_refresh_is_not_started() -> None:
    pool = GpuPool({"nvidia.com/gpu": 1})
    hub = gpu_line._HubLine("removed-while-served", pool)
    gpu_line._LINES[hub.key] = hub
    place = hub.line.join(SERVER_ID, {"nvidia.com/gpu": 1}, {}, time.time(), 3600)
    assert pool.reserve(SERVER_ID, dict(place.demand)).allowed
    place.serving = True  # as the pump marks it before it serves the place
    spawned: list[str] = []
    spawner = SimpleNamespace(
        active=False, pending=None, gpu_pool_name=hub.key, _server_key=SERVER_ID
    )

    class _Authenticator:
        async def refresh_user(self, user: Any, handler: Any = None) -> bool:
            # the owner removes the server meanwhile: delete_forever runs, record still there
            gpu_line.server_removed(spawner)
            return True

    async def spawn(name: str, options: Any = None) -> None:
        spawned.append(name)
        raise RuntimeError("started")

    user = SimpleNamespace(
        id=1,
        name="rita",
        spawners={"gpu": spawner},
        orm_spawners={"gpu": object()},
        get_spawner=lambda name, replace_failed=False: spawner,
        spawn=spawn,
    )
    user.settings = {"users": {1: user}, "authenticator": _Authenticator()}
    hub.users[SERVER_ID] = user
    try:
        await gpu_line._serve(hub, SERVER_ID)
    finally:
        gpu_line._LINES.pop(hub.key, None)
    assert SERVER_ID not in hub.line.places
    assert spawned == [], "the removed server was started from the line"
