"""Random GPU starts, hanging starts, stops, deletes and hub kills; never more GPUs than the pool.

A real hub (JupyterHub 6 by default) with PolicySpawner on a devcluster (stub
pods) and a pool of 2 GPUs, four users allowed one GPU each. Each step is one
random action: a start, a start whose pod never turns ready, a stop, a
delete, or ``kill -9`` of the hub followed by a restart on the same database.
After each step the pods holding GPUs are counted from the devcluster; more
than the pool is a violation, and so is any 5xx answer.

    python benchmarks/gpu_pool_chaos.py [--steps 300] [--seed 1] [--jupyterhub 5.5]
"""

from __future__ import annotations

import argparse
import asyncio
import random
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "tests"))

from spawner.pool_chaos import POOL, Chaos  # noqa: E402
from spawner.pool_hub import start_pool_hub  # noqa: E402

from hubplugins_dev.devcluster.testing import run_devcluster  # noqa: E402


async def run(steps: int, seed: int, jupyterhub: str) -> int:
    with (
        tempfile.TemporaryDirectory() as tmp,
        run_devcluster(Path(tmp) / "cluster") as cluster,
    ):
        hub = await start_pool_hub(
            Path(tmp) / "hub", POOL, jupyterhub, cluster.kubeconfig, start_timeout=20
        )
        chaos = Chaos(hub, cluster, random.Random(seed), log=lambda line: print(line, flush=True))
        started = time.monotonic()
        try:
            await chaos.run(steps)
        except Exception:
            print(hub.log_tail(60), file=sys.stderr)
            raise
        finally:
            await hub.stop()
        seconds = time.monotonic() - started
    print(f"\n{steps} steps in {seconds:.1f} s (seed {seed}, JupyterHub {jupyterhub}):")
    for op, count in sorted(chaos.ops.items()):
        print(f"  {count:4d}  {op}")
    for line in chaos.violations:
        print("VIOLATION", line)
    print(f"never more than {POOL} GPUs held" if not chaos.violations else "FAILED")
    return 1 if chaos.violations else 0


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--steps", type=int, default=300, help="random actions")
    parser.add_argument("--seed", type=int, default=1, help="random seed")
    parser.add_argument("--jupyterhub", default="6", choices=["6", "5.5"], help="series")
    args = parser.parse_args()
    sys.exit(asyncio.run(run(args.steps, args.seed, args.jupyterhub)))


if __name__ == "__main__":
    main()
