"""Two kinds of GPU pooled separately: whole GPUs and MIG slices, each its own pool."""

from __future__ import annotations

import os
import sys
from pathlib import Path

import pytest
from harness.hub import start_hub

from hubplugins_dev.devcluster.testing import arun_devcluster

from .pool_hub import GROUP, add_gpu_users, pod_of

GPU = "nvidia.com/gpu"
MIG = "nvidia.com/mig-1g.10gb"

POLICY = {
    "defaults": {"resources": {"gpu": {"max": 0}}, "quota": {"gpu": 0}},
    "groups": {
        GROUP: {
            "resources": {"gpu": {"max": 1}, "gpu_kinds": {MIG: 2}},
            "quota": {"gpu": 1, "gpu_kinds": {MIG: 2}},
        }
    },
    "cluster": {"gpu_pool": {GPU: 1, MIG: 2}},
}

CONFIG = f"""
import hubplugins
c.JupyterHub.spawner_class = "hubplugins.PolicySpawner"
c.HubPolicy.policy = {POLICY!r}
c.JupyterHub.load_groups = {{"{GROUP}": {{"users": []}}}}
hubplugins.setup(c)
"""


def limits(pod: dict) -> dict[str, str]:
    return dict(pod["spec"]["containers"][0]["resources"]["limits"])


@pytest.mark.slow
async def test_whole_gpus_and_slices_are_pooled_apart(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # one series: the kinds are read and pooled alike on both; the refusal's way out
    # of the hub is the pool's own, tested on both by the other pool tests
    path = os.pathsep.join([str(Path(sys.executable).parent), os.environ["PATH"]])
    monkeypatch.setenv("PATH", path)
    capacity = {GPU: "1", MIG: "7"}
    async with arun_devcluster(tmp_path / "devcluster", capacity=capacity) as dev:
        hub = await start_hub(tmp_path / "hub", CONFIG, jupyterhub="5.5", kubeconfig=dev.kubeconfig)
        try:
            users = ("kwhole", "kslices", "klate")
            await add_gpu_users(hub, *users)
            resp = await hub.api("POST", "/users/kwhole/server", json={"gpu": 1})
            assert resp.status_code in (201, 202), resp.text
            # the one whole GPU is taken; slices are a pool of their own
            resp = await hub.api("POST", "/users/kslices/server", json={"gpu": 1})
            assert resp.status_code == 409, resp.text
            assert f"1 of the 1 {GPU} GPUs" in resp.json()["message"]
            resp = await hub.api("POST", "/users/kslices/server", json={"gpu": 2, "gpu_kind": MIG})
            assert resp.status_code in (201, 202), resp.text
            resp = await hub.api("POST", "/users/klate/server", json={"gpu_kind": MIG})
            assert resp.status_code == 409, resp.text
            assert f"2 of the 2 {MIG} GPUs" in resp.json()["message"]
            for user in users[:2]:
                await hub.wait_for_server(user)
            whole, slices = pod_of(dev, "kwhole"), pod_of(dev, "kslices")
            assert whole is not None and slices is not None
            assert limits(whole)[GPU] == "1" and MIG not in limits(whole)
            assert limits(slices)[MIG] == "2" and GPU not in limits(slices)
            assert pod_of(dev, "klate") is None
        finally:
            await hub.stop()
