"""The fair GPU line: 20 users, 4 GPUs, servers stopping at random.

    python benchmarks/gpu_queue.py [--users 20] [--gpus 4] [--seed 1]

A real hub with PolicySpawner on a devcluster, one tier with
``resources.gpu.queue`` and ``cluster.gpu_pool`` of ``--gpus``. Every user asks
for one GPU, one after the other: the first ``--gpus`` start, the others take
a place in line. Then a random running server is stopped, again and again,
until everyone has had a turn. Prints

- the time from a GPU freeing (the stop answered) to the next queued server's
  pod being created (goal: under 2 s on the devcluster);
- the order of service against the order of asking (goal: equal);
- Kubernetes create/get/delete requests per spawn against PolicySpawner
  without a line and plain KubeSpawner, each starting as many one-GPU servers
  in waves of ``--gpus`` on the same devcluster (goal: equal: a place in line
  costs no request).
"""

from __future__ import annotations

import argparse
import asyncio
import random
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "tests"))

from harness.hub import Hub, start_hub  # noqa: E402

from hubplugins_dev.devcluster.testing import run_devcluster  # noqa: E402

GPU = "nvidia.com/gpu"
WRITE_VERBS = ("create", "delete", "update", "patch", "get")

PLAIN = f"""
c.KubeSpawner.extra_resource_limits = {{"{GPU}": "1"}}
c.KubeSpawner.extra_resource_guarantees = {{"{GPU}": "1"}}
c.KubeSpawner.storage_pvc_ensure = True
c.KubeSpawner.storage_capacity = "2147483648"
c.KubeSpawner.volumes = [
    {{"name": "home", "persistentVolumeClaim": {{"claimName": "{{pvc_name}}"}}}}
]
c.KubeSpawner.volume_mounts = [{{"name": "home", "mountPath": "/home/jovyan"}}]
c.JupyterHub.log_level = "WARN"
"""


def policy_config(gpus: int, line: bool = True) -> str:
    queue = {"queue": {"max_wait": "1h"}} if line else {}
    policy = {
        "defaults": {
            "resources": {"gpu": {"default": 1, "max": 1, **queue}},
            "quota": {"cpu": None, "memory": None, "gpu": 1},
            "storage": {"capacity": "2Gi"},
        },
        "cluster": {"gpu_pool": {GPU: gpus}},
    }
    return f"""
import hubplugins
c.JupyterHub.spawner_class = "hubplugins.PolicySpawner"
c.HubPolicy.policy = {policy!r}
c.JupyterHub.log_level = "WARN"
hubplugins.setup(c)
"""


def _gpu_pod_users(cluster: Any) -> set[str]:
    users = set()
    for pod in cluster.control.objects("pods"):
        if (pod.get("metadata") or {}).get("deletionTimestamp"):
            continue
        notes = pod["metadata"].get("annotations") or {}
        if "hub.jupyter.org/username" in notes:
            users.add(notes["hub.jupyter.org/username"])
    return users


async def _pod_users(cluster: Any) -> set[str]:
    return await asyncio.to_thread(_gpu_pod_users, cluster)


async def _writes(cluster: Any) -> int:
    counts = await asyncio.to_thread(cluster.control.counts)
    return sum(v for k, v in counts.items() if k.split("/")[0] in WRITE_VERBS)


async def _add_users(hub: Hub, users: list[str]) -> None:
    resp = await hub.api("POST", "/users", json={"usernames": users})
    assert resp.status_code == 201, resp.text


async def _ready(hub: Hub, users: list[str]) -> None:
    for user in users:
        await hub.wait_for_server(user, timeout=120)


async def run_line(tmp: Path, cluster: Any, n: int, gpus: int, rng: random.Random) -> dict:
    hub = await start_hub(tmp / "line", policy_config(gpus), kubeconfig=cluster.kubeconfig)
    try:
        users = [f"q{i:02d}" for i in range(n)]
        await _add_users(hub, users)
        await asyncio.to_thread(cluster.control.reset_counts)
        asked: list[str] = []
        for user in users:  # one after the other: the order of asking
            resp = await hub.api("POST", f"/users/{user}/server", json={"gpu": 1})
            assert resp.status_code in (201, 202, 409), resp.text
            if resp.status_code == 409:
                assert resp.json()["message"].startswith("queued: "), resp.text
                asked.append(user)
        running = [u for u in users if u not in asked]
        await _ready(hub, running)
        served: list[str] = []
        waits: list[float] = []
        seen = await _pod_users(cluster)
        while asked[len(served) :]:
            victim = rng.choice(running)
            running.remove(victim)
            resp = await hub.api("DELETE", f"/users/{victim}/server")
            assert resp.status_code in (202, 204), resp.text
            await hub.wait_for_server(victim, ready=False)
            freed = time.perf_counter()
            seen.discard(victim)
            while True:
                now = await _pod_users(cluster)
                new = sorted(now - seen - {victim})
                if new:
                    break
                await asyncio.sleep(0.02)
            waits.append(time.perf_counter() - freed)
            seen |= set(new)
            served.extend(new)
            await _ready(hub, new)
            running.extend(new)
        writes = await _writes(cluster)
        await asyncio.gather(*(hub.api("DELETE", f"/users/{u}/server") for u in running))
        for user in running:
            await hub.wait_for_server(user, ready=False)
        return {"asked": asked, "served": served, "waits": waits, "writes": writes, "spawns": n}
    finally:
        await hub.stop()


async def run_waves(tmp: Path, cluster: Any, n: int, gpus: int, config: str, tag: str) -> dict:
    hub = await start_hub(tmp / tag, config, kubeconfig=cluster.kubeconfig)
    try:
        users = [f"{tag}{i:02d}" for i in range(n)]
        await _add_users(hub, users)
        await asyncio.to_thread(cluster.control.reset_counts)
        for start in range(0, n, gpus):  # waves that fit the GPUs
            wave = users[start : start + gpus]
            for user in wave:
                resp = await hub.api("POST", f"/users/{user}/server")
                assert resp.status_code in (201, 202), resp.text
            await _ready(hub, wave)
            if start + gpus < n:
                for user in wave:
                    await hub.api("DELETE", f"/users/{user}/server")
                    await hub.wait_for_server(user, ready=False)
        writes = await _writes(cluster)
        for user in users[-gpus:]:
            await hub.api("DELETE", f"/users/{user}/server")
        return {"writes": writes, "spawns": n}
    finally:
        await hub.stop()


async def run(n: int, gpus: int, seed: int) -> int:
    capacity = {"cpu": "1000", "memory": "10Ti", "pods": "2000", GPU: str(gpus)}
    with tempfile.TemporaryDirectory(prefix="gpuqueue-") as tmp:
        with run_devcluster(Path(tmp) / "devcluster", capacity=capacity) as cluster:
            line = await run_line(Path(tmp), cluster, n, gpus, random.Random(seed))
            plain = await run_waves(Path(tmp), cluster, n, gpus, PLAIN, "p")
            no_line = await run_waves(Path(tmp), cluster, n, gpus, policy_config(gpus, False), "w")
    waits = line["waits"]
    print(f"{n} users, {gpus} GPUs, {len(line['asked'])} queued (seed {seed}):")
    print(
        f"  GPU freed -> next queued pod created: median {statistics.median(waits):.3f} s, "
        f"max {max(waits):.3f} s over {len(waits)} frees (goal: under 2 s)"
    )
    in_order = line["served"] == line["asked"]
    print(f"  order of service {'equals' if in_order else 'DIFFERS FROM'} the order of asking")
    if not in_order:
        print(f"    asked:  {line['asked']}\n    served: {line['served']}")
    ours, base = line["writes"] / line["spawns"], plain["writes"] / plain["spawns"]
    policy = no_line["writes"] / no_line["spawns"]
    print(
        f"  Kubernetes create/get/delete requests per spawn: {ours:.2f} with the line, "
        f"{policy:.2f} PolicySpawner in waves without it "
        f"({'equal' if abs(ours - policy) < 1e-9 else 'DIFFERENT'}), "
        f"{base:.2f} plain KubeSpawner in waves"
    )
    return 0 if in_order and max(waits) < 2 else 1


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--users", type=int, default=20, help="users asking for a GPU")
    parser.add_argument("--gpus", type=int, default=4, help="GPUs in the pool")
    parser.add_argument("--seed", type=int, default=1, help="random seed of the stops")
    args = parser.parse_args()
    sys.exit(asyncio.run(run(args.users, args.gpus, args.seed)))


if __name__ == "__main__":
    main()
