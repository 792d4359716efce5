"""Shared by the spawn benchmarks: a real hub on a devcluster, N concurrent spawns.

Each round starts a fresh hub (real JupyterHub and configurable-http-proxy)
with the given spawner configuration on one devcluster, creates N users, then
starts one server per user at once through the REST API and waits until the
hub reports every one ready. Pods use the devcluster's stub image, so the
figure is the hub's and the spawner's cost, not a notebook server's start-up.
"""

from __future__ import annotations

import asyncio
import statistics
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "tests"))

from harness.hub import start_hub  # noqa: E402

from hubplugins_dev.devcluster.testing import run_devcluster  # noqa: E402

CAPACITY = {"cpu": "1000", "memory": "10Ti", "pods": "2000", "nvidia.com/gpu": "0"}

PLAIN = """
c.KubeSpawner.cpu_guarantee = 0.5
c.KubeSpawner.cpu_limit = 1.0
c.KubeSpawner.mem_guarantee = 1000000000
c.KubeSpawner.mem_limit = 2000000000
c.KubeSpawner.storage_pvc_ensure = True
c.KubeSpawner.storage_capacity = "2147483648"
c.KubeSpawner.volumes = [
    {"name": "home", "persistentVolumeClaim": {"claimName": "{pvc_name}"}}
]
c.KubeSpawner.volume_mounts = [{"name": "home", "mountPath": "/home/jovyan"}]
c.JupyterHub.concurrent_spawn_limit = 0
c.JupyterHub.log_level = "WARN"
"""

POLICY = {
    "defaults": {
        "resources": {
            "cpu": {"guarantee": 0.5, "limit": 1, "max": 1},
            "memory": {"guarantee": "1G", "limit": "2G", "max": "2G"},
        },
        "quota": {"cpu": None, "memory": None},
        "storage": {"capacity": "2Gi"},
    }
}

WITH_POLICY = (
    PLAIN
    + f"""
import hubplugins
c.JupyterHub.spawner_class = "hubplugins.PolicySpawner"
c.HubPolicy.policy = {POLICY!r}
hubplugins.setup(c)
"""
)

WRITE_VERBS = ("create", "delete", "update", "patch", "get")


@dataclass
class Round:
    seconds: float
    write_requests: int
    all_requests: int


async def _round(workdir: Path, cluster, config: str, n: int, tag: str) -> Round:
    hub = await start_hub(workdir, config, kubeconfig=cluster.kubeconfig)
    try:
        users = [f"{tag}{i}" for i in range(n)]
        resp = await hub.api("POST", "/users", json={"usernames": users})
        assert resp.status_code == 201, resp.text
        await asyncio.to_thread(cluster.control.reset_counts)
        started = time.perf_counter()
        results = await asyncio.gather(
            *(hub.api("POST", f"/users/{u}/server", timeout=300) for u in users)
        )
        bad = [r.status_code for r in results if r.status_code not in (201, 202)]
        assert not bad, bad
        while True:
            resp = await hub.api("GET", "/users?state=ready&limit=10000")
            ready = [u for u in resp.json() if u["name"].startswith(tag)]
            if len(ready) == n:
                break
            await asyncio.sleep(0.2)
        seconds = time.perf_counter() - started
        counts = await asyncio.to_thread(cluster.control.counts)
        writes = sum(v for k, v in counts.items() if k.split("/")[0] in WRITE_VERBS)
        # stop everything before the next round
        await asyncio.gather(*(hub.api("DELETE", f"/users/{u}/server") for u in users))
        return Round(seconds, writes, sum(counts.values()))
    finally:
        await hub.stop()


async def compare(configs: dict[str, str], n: int, rounds: int) -> dict[str, list[Round]]:
    """Alternate the configurations for ``rounds`` rounds on one devcluster."""
    results: dict[str, list[Round]] = {name: [] for name in configs}
    with tempfile.TemporaryDirectory(prefix="spawnbench-") as tmp:
        with run_devcluster(Path(tmp) / "devcluster", capacity=CAPACITY) as cluster:
            for r in range(rounds):
                for i, (name, config) in enumerate(configs.items()):
                    tag = f"b{r}x{i}u"
                    workdir = Path(tmp) / f"{name}-{r}"
                    results[name].append(await _round(workdir, cluster, config, n, tag))
    return results


def summary(name: str, rounds: list[Round], n: int) -> tuple[float, float]:
    seconds = statistics.median(r.seconds for r in rounds)
    per_spawn = statistics.median(r.write_requests for r in rounds) / n
    every = statistics.median(r.all_requests for r in rounds) / n
    print(
        f"{name:>22}: {n} spawns ready in {seconds:.2f} s (median of {len(rounds)}; "
        f"{', '.join(f'{r.seconds:.2f}' for r in rounds)}), "
        f"{per_spawn:.2f} Kubernetes create/get/delete requests per spawn "
        f"({every:.2f} with list/watch)"
    )
    return seconds, per_spawn
