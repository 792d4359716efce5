"""A PolicySpawner hub with a small GPU pool, and what the pool tests read from the cluster."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

from harness.hub import Hub, start_hub

GPU = "nvidia.com/gpu"
GROUP = "gpu-pool"
TERMINATED = ("Succeeded", "Failed")


def policy(pool: int) -> dict[str, Any]:
    return {
        "defaults": {
            "servers": {"max_named": 5, "max_running": 6},
            "resources": {"gpu": {"default": 0, "max": 0}},
            "quota": {"cpu": None, "memory": None, "gpu": 0},
        },
        # one GPU per server and per user
        "groups": {GROUP: {"resources": {"gpu": {"max": 1}}, "quota": {"gpu": 1}}},
        "cluster": {"gpu_pool": {GPU: pool}},
    }


def config(pool: int, start_timeout: int = 60) -> str:
    return f"""
import hubplugins
c.JupyterHub.allow_named_servers = True
c.JupyterHub.spawner_class = "hubplugins.PolicySpawner"
c.HubPolicy.policy = {policy(pool)!r}
c.JupyterHub.load_groups = {{"{GROUP}": {{"users": []}}}}
# a restarted hub answers while it still checks the servers it found
c.JupyterHub.init_spawners_timeout = 1
# and gives up on a server whose start the crash interrupted after this long
c.KubeSpawner.http_timeout = 8
c.KubeSpawner.start_timeout = {start_timeout}
hubplugins.setup(c)
"""


async def start_pool_hub(
    workdir: Path, pool: int, jupyterhub: str, kubeconfig: Path, start_timeout: int = 60
) -> Hub:
    return await start_hub(
        workdir, config(pool, start_timeout), jupyterhub=jupyterhub, kubeconfig=kubeconfig
    )


async def add_gpu_users(hub: Hub, *users: str) -> None:
    for user in users:
        resp = await hub.api("POST", f"/users/{user}")
        assert resp.status_code in (201, 409), resp.text
    resp = await hub.api("POST", f"/groups/{GROUP}/users", json={"users": list(users)})
    assert resp.status_code == 200, resp.text


async def start_gpu(hub: Hub, user: str, server: str = "", gpu: int = 1) -> Any:
    return await hub.api("POST", f"/users/{user}/servers/{server}", json={"gpu": gpu})


def gpu_pods(devcluster: Any) -> dict[str, int]:
    """``{pod name: GPUs}`` of the pods holding GPUs (pending and terminating ones too)."""
    held = {}
    for pod in devcluster.control.objects("pods"):
        if (pod.get("status") or {}).get("phase") in TERMINATED:
            continue
        n = 0
        for container in pod["spec"]["containers"]:
            res = container.get("resources") or {}
            n += max(int((res.get(kind) or {}).get(GPU, 0)) for kind in ("limits", "requests"))
        if n:
            held[pod["metadata"]["name"]] = n
    return held


def pod_of(devcluster: Any, user: str, server: str = "") -> dict[str, Any] | None:
    for pod in devcluster.control.objects("pods"):
        notes = pod["metadata"].get("annotations") or {}
        if notes.get("hub.jupyter.org/username") == user and (
            notes.get("hub.jupyter.org/servername", "") == server
        ):
            return pod
    return None


async def hang_start(hub: Hub, devcluster: Any, user: str, server: str = "") -> str:
    """Start a GPU server whose pod runs but never turns ready (until it is deleted).

    Returns ``"pending"``, or the status code of a refusal.
    """
    devcluster.control.set_readiness_delay(3600)
    # the hub answers 202 only after its slow-spawn timeout: wait for the pod instead
    request = asyncio.ensure_future(start_gpu(hub, user, server))
    try:
        deadline = asyncio.get_running_loop().time() + 30
        while True:  # the pod's process runs: its readiness delay is fixed
            pod = pod_of(devcluster, user, server)
            if pod is not None and pod.get("status", {}).get("containerStatuses"):
                if "running" in pod["status"]["containerStatuses"][0].get("state", {}):
                    return "pending"
            if request.done() and request.result().status_code != 202:
                return str(request.result().status_code)
            assert asyncio.get_running_loop().time() < deadline, pod
            await asyncio.sleep(0.05)
    finally:
        devcluster.control.set_readiness_delay(0)
        request.cancel()  # the start goes on in the hub
        await asyncio.gather(request, return_exceptions=True)


async def wait_settled(hub: Hub, user: str, server: str = "", timeout: float = 60) -> dict:
    """Wait until a server is ready or stopped (neither pending nor being checked)."""
    deadline = asyncio.get_running_loop().time() + timeout
    while True:
        resp = await hub.api("GET", f"/users/{user}")
        resp.raise_for_status()
        model = resp.json()["servers"].get(server, {})
        if not model.get("pending"):
            return model
        assert asyncio.get_running_loop().time() < deadline, model
        await asyncio.sleep(0.1)
