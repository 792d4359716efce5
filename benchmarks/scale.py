"""A hub of 50,000 users: hub start and one lifecycle sweep, each against its upstream baseline.

    python benchmarks/scale.py [--users 50000] [--servers 2] [--running 2000]
                               [--idle-fraction 0.25] [--jupyterhub 6] [--starts 2]

The database holds N users of ``--servers`` servers each (the default one
and named ones), written straight through SQLAlchemy after one real start
(see ``scaleworld.py``); the default servers of ``--running`` users run on
the devcluster (stub pods), ``--idle-fraction`` of them idle 2 h and the
others in use a minute ago. Measured through the real hub and proxy, each
beside its baseline in the same run:

- hub start (process start to ``GET /hub/api/`` answering, and the hub's
  CPU time until then), PolicySpawner against plain KubeSpawner on the same
  database and pods, alternately, the median of ``--starts`` each;
- one sweep that stops every idle running server and leaves those in use:
  the hubplugins lifecycle service with retention (stop_after 1h,
  delete_after 30d: every user and stopped server is read, none is old
  enough to delete) against jupyterhub-idle-culler 2.0 (``--sweep stops``:
  the lifecycle service without retention). A sweep runs from the tool's
  process start until the idle servers are stopped (and the service's sweep,
  with its read of every user, is over). Meanwhile ``GET /hub/api/`` is
  probed every 25 ms (p50, p99: over the sweep, and over the service's read
  of every user; and for ``--rest`` seconds before the sweep, the hub's own
  floor), and the tool's peak resident memory is read from ``/proc`` (VmHWM).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import math
import os
import shutil
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import httpx
from scaleworld import (
    TEMPLATE_USER,
    build_database,
    create_pods,
    pod_count,
    pod_template,
    user_name,
)
from spawnbench import PLAIN, WITH_POLICY, run_devcluster, start_hub

from hubplugins.lifecycle.service import DEFAULT_CONCURRENCY

# isort: split
from harness.hub import Hub  # spawnbench puts tests/ on the path

ROOT = Path(__file__).resolve().parents[1]
CAPACITY = {"cpu": "100000", "memory": "1000Ti", "pods": "100000", "nvidia.com/gpu": "0"}
SCALE = """
c.JupyterHub.allow_named_servers = True
c.JupyterHub.db_url = "sqlite:///{db}"
c.JupyterHub.log_level = {log_level!r}
# the proxy dates a route re-added at start as activity: not counted as use here
c.JupyterHub.last_activity_interval = 86400
from hubplugins.lifecycle.endpoint import setup_endpoint
setup_endpoint(c)
"""
STOP_ONLY = "defaults:\n  idle: {stop_after: 1h, delete_after: null}\n"
RETENTION = "defaults:\n  idle: {stop_after: 1h, delete_after: 30d}\n"
SHM = "/dev/shm" if os.path.isdir("/dev/shm") else None
PAGINATION = "application/jupyterhub-pagination+json"


def hub_config(spawner: str, db: Path, args: argparse.Namespace) -> str:
    return (PLAIN if spawner == "plain" else WITH_POLICY) + SCALE.format(
        db=db, log_level=args.log_level
    )


async def make_template(
    work: Path, cluster: Any, args: argparse.Namespace
) -> tuple[Path, dict[str, Any]]:
    """One real PolicySpawner start: the database schema, a user's rows, its pod."""
    db = work / "template.sqlite"
    hub = await start_hub(
        work / "template",
        hub_config("policy", db, args),
        jupyterhub=args.jupyterhub,
        kubeconfig=cluster.kubeconfig,
    )
    try:
        resp = await hub.api("POST", f"/users/{TEMPLATE_USER}")
        assert resp.status_code == 201, resp.text
        resp = await hub.api("POST", f"/users/{TEMPLATE_USER}/server", timeout=120)
        assert resp.status_code in (201, 202), resp.text
        await hub.wait_for_server(TEMPLATE_USER)
    finally:
        await hub.stop()  # the server stays recorded as running, as the others will be
    pod_url = f"{cluster.url}/api/v1/namespaces/default/pods/jupyter-{TEMPLATE_USER}"
    async with httpx.AsyncClient(timeout=60) as client:
        pod = (await client.get(pod_url)).json()
        await client.delete(pod_url)
    return db, pod_template(pod)


def _copy(world: Path, work: Path, label: str) -> Path:
    db = work / f"{label}.sqlite"
    shutil.copyfile(world, db)
    return db


PROFILE = """
import cProfile
from jupyterhub.app import JupyterHub
_profile = cProfile.Profile()
_profile.enable()
_start = JupyterHub.start
async def _profiled_start(self):
    await _start(self)
    _profile.disable()
    _profile.dump_stats({path!r})
JupyterHub.start = _profiled_start
"""


async def start_scale_hub(
    work: Path, cluster: Any, world: Path, label: str, spawner: str, args: argparse.Namespace
) -> tuple[Hub, float]:
    """A hub on a fresh copy of the world's database; the seconds until /hub/api/ answered."""
    db = _copy(world, work, label)
    config = hub_config(spawner, db, args)
    if args.profile is not None:
        config += PROFILE.format(path=str(args.profile.with_suffix(f".{label}.prof")))
    hub = Hub(work / label, config, jupyterhub=args.jupyterhub, kubeconfig=cluster.kubeconfig)
    started = time.monotonic()
    try:
        await hub.start(timeout=900)
        seconds = time.monotonic() - started
        hub.cpu_seconds = cpu_seconds(hub)  # type: ignore[attr-defined]
        if args.profile is not None:  # written when the hub's start() returns
            await _until(lambda: args.profile.with_suffix(f".{label}.prof").exists())
    except BaseException:
        await hub.stop()
        raise
    return hub, seconds


async def _until(done: Any, every: float = 0.5, timeout: float = 900) -> None:
    """Poll ``done()`` (sync or async) until true, with a deadline."""
    deadline = time.monotonic() + timeout
    while True:
        value = done()
        if asyncio.iscoroutine(value):
            value = await value
        if value:
            return
        if time.monotonic() > deadline:
            raise TimeoutError(f"not done after {timeout} s")
        await asyncio.sleep(every)


async def _running_servers(hub: Hub) -> float:
    """The hub's own count, set once it has checked every server found running at start."""
    async with httpx.AsyncClient(timeout=120) as client:
        resp = await client.get(
            f"{hub.url}/hub/metrics", headers={"Authorization": f"token {hub.token}"}
        )
    for line in resp.text.splitlines():
        if line.startswith("jupyterhub_running_servers "):
            return float(line.split()[1])
    return 0.0


class Probe:
    """``GET /hub/api/`` every 25 ms through the proxy; latencies in seconds."""

    def __init__(self, url: str) -> None:
        self.url = url
        self.latencies: list[float] = []
        self.at: list[float] = []  # wall-clock time each probe was sent
        self._task: asyncio.Task[None] | None = None

    async def _run(self) -> None:
        async with httpx.AsyncClient(timeout=120) as client:
            while True:
                t0, sent = time.monotonic(), time.time()
                await client.get(self.url)
                self.latencies.append(time.monotonic() - t0)
                self.at.append(sent)
                await asyncio.sleep(0.025)

    def start(self) -> None:
        self._task = asyncio.create_task(self._run())

    async def stop(self) -> tuple[float, float]:
        assert self._task is not None
        self._task.cancel()
        await asyncio.gather(self._task, return_exceptions=True)
        return self.percentiles()

    def percentiles(self, since: float = 0.0, until: float = math.inf) -> tuple[float, float]:
        """p50 and p99 of the probes sent between ``since`` and ``until`` (wall clock)."""
        values = sorted(
            v for v, t in zip(self.latencies, self.at, strict=False) if since <= t <= until
        ) or [math.nan]
        p99 = values[min(len(values) - 1, int(len(values) * 0.99))]
        return statistics.median(values), p99


def tool_argv(
    tool: str, url: str, policy: Path, concurrency: int | None, page_size: int
) -> list[str]:
    """The tool's command line; ``concurrency`` None: the tool's own default."""
    py = sys.executable
    if tool == "idle-culler":
        argv = [py, "-m", "jupyterhub_idle_culler", f"--url={url}", "--timeout=3600",
                "--cull-every=3600"]  # fmt: skip
        return argv + ([f"--concurrency={concurrency}"] if concurrency else [])
    argv = [py, "-m", "hubplugins.lifecycle", "--url", url, "--interval", "3600",
            "--policy-file", str(policy), "--page-size", str(page_size)]  # fmt: skip
    return argv + (["--concurrency", str(concurrency)] if concurrency else [])


def cpu_seconds(hub: Hub) -> float:
    """The hub process's CPU time so far: what a loaded machine changes least."""
    try:
        fields = Path(f"/proc/{hub._proc.pid}/stat").read_text().rpartition(")")[2].split()
    except (OSError, AttributeError):
        return math.nan
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def peak_rss_mb(pid: int) -> float:
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024
    except OSError:
        pass
    return math.nan


async def _active_servers(hub: Hub) -> int:
    async with httpx.AsyncClient(timeout=120) as client:
        resp = await client.get(
            f"{hub.hub_api}/users",
            params={"state": "active", "limit": "1"},
            headers={"Authorization": f"token {hub.token}", "Accept": PAGINATION},
        )
        return int(resp.json()["_pagination"]["total"])


async def one_sweep(
    work: Path, cluster: Any, hub: Hub, label: str, tool: str, policy: str, running: int,
    idle: int, args: argparse.Namespace,
) -> dict[str, Any]:  # fmt: skip
    """Run ``tool`` against ``hub`` until its ``idle`` servers of ``running`` are stopped
    (and, for the lifecycle service, its sweep is over); the figures."""
    busy = running - idle
    await _until(lambda: _running_servers(hub), every=1)  # the start-up checks are done
    policy_file = work / f"{label}.yaml"
    policy_file.write_text(policy)
    argv = tool_argv(tool, hub.hub_api, policy_file, args.concurrency, args.page_size)
    env = {**os.environ, "JUPYTERHUB_API_TOKEN": hub.token}
    env["PYTHONPATH"] = os.pathsep.join([str(ROOT / "src"), env.get("PYTHONPATH", "")])
    log_path = work / f"{label}.log"
    # the hub at rest first: its own p99 (KubeSpawner's pod reflector reads every pod
    # again at least every 30 s, in the hub's loop), the floor of the one below
    rest = Probe(f"{hub.hub_api}/")
    rest.start()
    await asyncio.sleep(args.rest)
    rest_p50, rest_p99 = await rest.stop()
    probe = Probe(f"{hub.hub_api}/")
    logf = log_path.open("wb")
    probe.start()
    started = time.monotonic()
    proc = await asyncio.create_subprocess_exec(*argv, env=env, stdout=logf, stderr=logf)
    peak = [math.nan]

    async def all_stopped() -> bool:
        if proc.returncode is not None:
            raise RuntimeError(f"{tool} exited with {proc.returncode}: see {log_path}")
        peak[0] = peak_rss_mb(proc.pid)
        pods, active = await pod_count(cluster.url), await _active_servers(hub)
        if pods < busy or active < busy:
            raise RuntimeError(f"{tool} stopped a server in use: {pods} pods, {busy} in use")
        return pods == busy and active == busy

    try:
        await _until(all_stopped)
        seconds = time.monotonic() - started
        if tool == "hubplugins":  # its summary line, written once every action is answered
            await _until(lambda: "lifecycle-sweep" in log_path.read_text(), every=0.2)
        peak[0] = peak_rss_mb(proc.pid)
    finally:
        if proc.returncode is None:
            proc.terminate()
            await proc.wait()
        logf.close()
        p50, p99 = await probe.stop()
    result = {"seconds": seconds, "p50": p50, "p99": p99, "peak_mb": peak[0], "idle": idle}
    result.update(rest_p50=rest_p50, rest_p99=rest_p99)
    for line in log_path.read_text().splitlines():
        if '"lifecycle-sweep"' in line:
            summary = json.loads(line.partition("hubplugins ")[2])
            result.update(summary=summary, requests=summary["requests"])
            result["whole_sweep"] = summary["seconds"]  # the pass over stopped users too
            result["bound"] = summary["pages"] + sum(
                v for k, v in summary.items() if k.startswith(("stop_", "delete_"))
            )
            for one in summary.get("passes", []):
                if one["users"] == "all":  # the read of every user, for retention
                    result["read_all"] = one["read_to"] - one["read_from"]
                    result["read_all_pages"] = one["pages"]
                    result["read_all_p50"], result["read_all_p99"] = probe.percentiles(
                        one["read_from"], one["read_to"]
                    )
    return result


SWEEPS = {
    # key: (name, tool, policy)
    "retention": ("hubplugins lifecycle, retention", "hubplugins", RETENTION),
    "idle-culler": ("jupyterhub-idle-culler 2.0", "idle-culler", STOP_ONLY),
    "stops": ("hubplugins lifecycle, stops only", "hubplugins", STOP_ONLY),
}
DEFAULT_SWEEPS = ["retention", "idle-culler"]  # retention stops every idle server too


def parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(description=(__doc__ or "").split("\n")[0])
    p.add_argument("--users", type=int, default=50000)
    p.add_argument("--servers", type=int, default=2, help="per user, the default one included")
    p.add_argument("--running", type=int, default=2000, help="users whose default server runs")
    p.add_argument(
        "--idle-fraction",
        type=float,
        default=0.25,
        help="of the running servers, those idle past stop_after (default 0.25; 1: all)",
    )
    p.add_argument("--jupyterhub", choices=["6", "5.5"], default="6")
    p.add_argument("--starts", type=int, default=2, help="hub starts per spawner (median)")
    p.add_argument(
        "--concurrency",
        type=int,
        help="for both sweep tools (default: each its own, idle-culler 10, the service "
        f"{DEFAULT_CONCURRENCY})",
    )
    p.add_argument("--page-size", type=int, default=500, help="the lifecycle service's")
    p.add_argument("--skip", choices=["start", "sweep"], action="append", default=[])
    p.add_argument(
        "--sweep",
        choices=list(SWEEPS),
        action="append",
        help=f"the sweeps to run (default: {' and '.join(DEFAULT_SWEEPS)})",
    )
    p.add_argument("--profile", type=Path, help="profile each hub's start to FILE.<hub>.prof")
    p.add_argument(
        "--rest", type=float, default=30, help="seconds the hub is probed at rest before a sweep"
    )
    p.add_argument("--log-level", default="WARN", help="the hubs' log level")
    p.add_argument("--keep", type=Path, help="work here and keep the logs")
    return p


async def run(args: argparse.Namespace) -> dict[str, Any]:
    """The whole benchmark; returns its figures (also printed)."""
    args.running = min(args.running, args.users)
    idle = round(args.running * min(1.0, max(0.0, args.idle_fraction)))
    names = [user_name(i) for i in range(args.running)]
    figures: dict[str, Any] = {"starts": {}, "sweeps": {}}
    with tempfile.TemporaryDirectory(prefix="scale-", dir=SHM) as tmp:
        work = args.keep or Path(tmp)
        work.mkdir(parents=True, exist_ok=True)
        with run_devcluster(work / "devcluster", capacity=CAPACITY) as cluster:
            t0 = time.monotonic()
            template_db, pod = await make_template(work, cluster, args)
            ips = await create_pods(cluster.url, pod, names)
            world = work / "world.sqlite"
            build_database(
                template_db, world, users=args.users, servers=args.servers, pod_ips=ips, idle=idle
            )
            print(
                f"{args.users} users x {args.servers} servers, {args.running} running ({idle} idle)"
                f" (JupyterHub {args.jupyterhub}): set up in {time.monotonic() - t0:.1f} s",
                flush=True,
            )
            kept: Hub | None = None  # the last PolicySpawner hub started: the first sweep's
            if "start" not in args.skip:
                starts: dict[str, list[float]] = {"plain": [], "policy": []}
                cpu: dict[str, list[float]] = {"plain": [], "policy": []}
                for r in range(args.starts):
                    for spawner, times in starts.items():
                        label = f"start-{spawner}-{r}"
                        hub, seconds = await start_scale_hub(
                            work, cluster, world, label, spawner, args
                        )
                        times.append(seconds)
                        cpu[spawner].append(hub.cpu_seconds)  # type: ignore[attr-defined]
                        print(
                            f"  hub start, {spawner}: {seconds:.2f} s,"
                            f" hub CPU {cpu[spawner][-1]:.1f} s",
                            flush=True,
                        )
                        if spawner == "policy" and r == args.starts - 1:
                            kept = hub
                        else:
                            await hub.stop()
                plain, ours = (statistics.median(starts[k]) for k in ("plain", "policy"))
                figures["starts"] = {"plain": plain, "policy": ours}
                plain_cpu, ours_cpu = (statistics.median(cpu[k]) for k in ("plain", "policy"))
                print(
                    f"hub CPU until then: plain KubeSpawner {plain_cpu:.1f} s,"
                    f" PolicySpawner {ours_cpu:.1f} s, ratio {ours_cpu / plain_cpu:.3f}",
                    flush=True,
                )
                print(
                    f"hub start to /hub/api/ (median of {args.starts}): plain KubeSpawner"
                    f" {plain:.2f} s, PolicySpawner {ours:.2f} s, ratio {ours / plain:.3f}"
                    " (goal <= 1.05)",
                    flush=True,
                )
            if "sweep" in args.skip:
                if kept is not None:
                    await hub.stop()
                return figures
            for key in args.sweep or DEFAULT_SWEEPS:
                name, tool, policy = SWEEPS[key]
                label = f"sweep-{key}"
                if kept is not None:
                    hub, kept = kept, None
                else:  # the servers the sweep before stopped run again
                    await create_pods(cluster.url, pod, names)
                    hub, _ = await start_scale_hub(work, cluster, world, label, "policy", args)
                try:
                    got = await one_sweep(
                        work, cluster, hub, label, tool, policy, args.running, idle, args
                    )
                finally:
                    await hub.stop()
                figures["sweeps"][name] = got
                print(f"  {name}: {got['seconds']:.1f} s", flush=True)
    print(
        f"\none sweep stopping {idle} idle servers of {args.running} running, {args.users} users"
        f" ({args.servers} servers each), concurrency {args.concurrency or 'each default'};"
        " GET /hub/api/ meanwhile"
    )
    head = f"{'tool':<34} {'sweep s':>8} {'p50 ms':>7} {'p99 ms':>7} {'peak MB':>8}"
    print(head + f" {'hub requests (bound)':>21} {'whole sweep s':>14}")
    for name, got in figures["sweeps"].items():
        requests = f"{got['requests']} ({got['bound']})" if "requests" in got else "-"
        whole = f"{got['whole_sweep']:.1f}" if "whole_sweep" in got else "-"
        print(
            f"{name:<34} {got['seconds']:>8.1f} {got['p50'] * 1000:>7.0f}"
            f" {got['p99'] * 1000:>7.0f} {got['peak_mb']:>8.0f} {requests:>21} {whole:>14}"
        )
    print(
        "sweep: until every server is stopped; whole sweep: the service's own, with the read"
        " of the users with no running server (retention); bound: servers acted on + pages"
    )
    for name, got in figures["sweeps"].items():
        print(
            f"{name}: the hub at rest before it, {args.rest:.0f} s: GET /hub/api/ p50"
            f" {got['rest_p50'] * 1000:.0f} ms, p99 {got['rest_p99'] * 1000:.0f} ms"
        )
        if "read_all" in got:
            print(
                f"{name}: the read of all {args.users} users for retention: {got['read_all']:.1f} s"
                f" in {got['read_all_pages']} pages; GET /hub/api/ meanwhile p50"
                f" {got['read_all_p50'] * 1000:.0f} ms, p99 {got['read_all_p99'] * 1000:.0f} ms"
                " (goal <= 200 ms)"
            )
    return figures


def main(argv: list[str] | None = None) -> dict[str, Any]:
    return asyncio.run(run(parser().parse_args(argv)))


if __name__ == "__main__":
    main()
