"""A bounded chaos run of the GPU pool: random starts, stops, deletes and hub kills.

The longer run is ``benchmarks/gpu_pool_chaos.py``.
"""

from __future__ import annotations

import random

import pytest

from .pool_chaos import POOL, Chaos
from .pool_hub import start_pool_hub

STEPS = 16  # per JupyterHub series
# hang, hang, kill -9 with both pending, starts, a second kill, deletes, hangs
SEED = 21


@pytest.mark.slow
async def test_pool_chaos_never_holds_more_gpus_than_the_pool(
    jupyterhub_version, fresh_devcluster, tmp_path
):
    hub = await start_pool_hub(
        tmp_path / "hub", POOL, jupyterhub_version, fresh_devcluster.kubeconfig, start_timeout=20
    )
    lines: list[str] = []
    try:
        chaos = Chaos(hub, fresh_devcluster, random.Random(SEED), log=lines.append)
        violations = await chaos.run(STEPS)
        print("\n".join(lines))  # shown with -s, and on failure
        assert not violations, "\n".join([*violations, *lines])
        # the run went through what it is about: kills while GPU pods ran or started
        assert {"start 201", "hang pending", "kill busy"} <= set(chaos.ops), chaos.ops
    finally:
        await hub.stop()
