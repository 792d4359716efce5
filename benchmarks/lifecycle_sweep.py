"""One idle sweep over 5,000 users of 2 servers each: hubplugins vs jupyterhub-idle-culler.

Both tools run as their own process against the same stand-in of the hub's
REST API (:mod:`hubplugins_dev.standin`: the hub's pagination, default
page 50 and cap 200, every stop taking ``--stop-delay`` seconds as a spawner's
would). Every server has been idle 2 h; the timeout is 1 h, so a sweep stops
all 10,000. The sweep time runs from a tool's first request to the moment the
last server is stopped; requests are counted by the stand-in.

    python benchmarks/lifecycle_sweep.py [--users 5000] [--stop-delay 0.01] [--runs 1]
"""

from __future__ import annotations

import argparse
import asyncio
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

from hubplugins_dev.standin import StandinHub

POLICY = "defaults:\n  idle: {stop_after: 1h, delete_after: null}\n"


def commands(url: str, policy: Path, concurrency: int) -> dict[str, list[str]]:
    py = sys.executable
    return {
        "jupyterhub-idle-culler 2.0": [
            py, "-m", "jupyterhub_idle_culler", f"--url={url}", "--timeout=3600",
            "--cull-every=3600", f"--concurrency={concurrency}",
        ],
        "hubplugins lifecycle": [
            py, "-m", "hubplugins.lifecycle", "--once", "--url", url,
            "--policy-file", str(policy), "--concurrency", str(concurrency),
        ],
    }  # fmt: skip


async def one_sweep(
    name: str, argv_for: dict, users: int, delay: float, policy: Path, concurrency: int
) -> tuple[float, int]:
    hub = StandinHub(stop_delay=delay).start()
    for i in range(users):
        user = f"user{i:05d}"
        hub.add_user(user)
        hub.add_server(user, "", idle=7200)
        hub.add_server(user, "nb", idle=7200)
    target = 2 * users
    argv = argv_for(hub.url, policy, concurrency)[name]
    env = {**os.environ, "JUPYTERHUB_API_TOKEN": "benchmark-token"}
    proc = await asyncio.create_subprocess_exec(
        *argv, env=env, stdout=asyncio.subprocess.DEVNULL, stderr=asyncio.subprocess.DEVNULL
    )
    try:
        while len(hub.stopped) < target:
            if proc.returncode is not None:
                raise RuntimeError(f"{name} exited with {proc.returncode} before the end")
            hub.changed.clear()
            try:
                await asyncio.wait_for(hub.changed.wait(), 1)
            except TimeoutError:
                pass
        done = time.monotonic()
        seconds = done - (hub.first_request or done)
        requests = hub.total_requests
        if "--once" in argv:
            await asyncio.wait_for(proc.wait(), 60)
            requests = hub.total_requests  # nothing is left out
    finally:
        if proc.returncode is None:
            proc.terminate()
            await proc.wait()
        await hub.stop()
    return seconds, requests


async def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--users", type=int, default=5000)
    p.add_argument("--stop-delay", type=float, default=0.01, help="seconds each stop takes")
    p.add_argument("--concurrency", type=int, default=10, help="for both tools (default 10)")
    p.add_argument("--runs", type=int, default=1)
    args = p.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        policy = Path(tmp) / "policy.yaml"
        policy.write_text(POLICY)
        results: dict[str, list[tuple[float, int]]] = {}
        for _ in range(args.runs):
            for name in commands("", policy, 1):
                got = await one_sweep(
                    name, commands, args.users, args.stop_delay, policy, args.concurrency
                )
                results.setdefault(name, []).append(got)
                print(f"  {name}: {got[0]:.1f} s, {got[1]} requests", flush=True)
    print(
        f"\none sweep, {args.users} users x 2 idle servers,"
        f" stop takes {args.stop_delay * 1000:g} ms,"
        f" concurrency {args.concurrency}, median of {args.runs}"
    )
    print(f"{'tool':<28} {'sweep s':>8} {'hub requests':>13}")
    medians = {}
    for name, runs in results.items():
        seconds = statistics.median(r[0] for r in runs)
        requests = int(statistics.median(r[1] for r in runs))
        medians[name] = (seconds, requests)
        print(f"{name:<28} {seconds:>8.1f} {requests:>13}")
    (base_s, base_r), (ours_s, ours_r) = medians.values()
    print(
        f"ratio (idle-culler / hubplugins): time {base_s / ours_s:.1f}x,"
        f" requests {base_r / ours_r:.3f}x"
    )


if __name__ == "__main__":
    asyncio.run(main())
