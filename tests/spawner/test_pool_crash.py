"""The GPU pool and the GPU quota after the hub was killed (SIGKILL) with servers starting.

A start the crash interrupted has no saved grant; its pod still holds a GPU,
and the restarted hub counts it from the pods Kubernetes has.
"""

from __future__ import annotations

import pytest

from .pool_hub import (
    add_gpu_users,
    gpu_pods,
    hang_start,
    start_gpu,
    start_pool_hub,
    wait_settled,
)

CASES = [
    # (case, pool size, servers running at the crash, servers starting at the crash)
    pytest.param(1, 0, 1, id="pool1-one-starting"),
    pytest.param(2, 1, 1, id="pool2-one-running-one-starting"),
]


@pytest.mark.slow
@pytest.mark.parametrize(("pool", "running", "starting"), CASES)
async def test_pool_counts_every_gpu_pod_after_a_crash(
    pool, running, starting, jupyterhub_version, fresh_devcluster, tmp_path
):
    tag = f"p{pool}v{jupyterhub_version.replace('.', '')}"
    up = [f"run{i}{tag}" for i in range(running)]
    hung = [f"hang{i}{tag}" for i in range(starting)]
    late = f"late{tag}"
    hub = await start_pool_hub(
        tmp_path / "hub", pool, jupyterhub_version, fresh_devcluster.kubeconfig
    )
    try:
        await add_gpu_users(hub, *up, *hung, late)
        for user in up:
            resp = await start_gpu(hub, user)
            assert resp.status_code in (201, 202), resp.text
            await hub.wait_for_server(user)
        for user in hung:
            assert await hang_start(hub, fresh_devcluster, user) == "pending"
        assert len(gpu_pods(fresh_devcluster)) == pool

        await hub.kill()
        await hub.start()

        # the pool is full: the starting server's pod counts though it has no saved grant
        resp = await start_gpu(hub, late)
        assert resp.status_code == 409, resp.text
        message = resp.json()["message"]
        assert f"GPU pool exhausted: {pool} of the {pool} nvidia.com/gpu GPUs" in message
        # and so does that user's quota (1 GPU): a second server is over it
        resp = await start_gpu(hub, hung[0], "second")
        assert resp.status_code == 403, resp.text
        assert "GPU quota reached" in resp.json()["message"]
        assert len(gpu_pods(fresh_devcluster)) == pool

        # once one of them stops, the next start gets its GPU
        if up:
            resp = await hub.api("DELETE", f"/users/{up[0]}/server")
            assert resp.status_code in (202, 204), resp.text
            await hub.wait_for_server(up[0], ready=False)
        else:  # the restarted hub gives up on the interrupted start and stops it
            model = await wait_settled(hub, hung[0])
            assert not model.get("ready"), model
        resp = await start_gpu(hub, late)
        assert resp.status_code in (201, 202), resp.text
        await hub.wait_for_server(late)
        assert len(gpu_pods(fresh_devcluster)) <= pool
        for user in [*up, *hung, late]:
            await wait_settled(hub, user)
            await hub.api("DELETE", f"/users/{user}/server")
        for user in [*up, *hung, late]:
            await hub.wait_for_server(user, ready=False)
        assert gpu_pods(fresh_devcluster) == {}
    finally:
        await hub.stop()
