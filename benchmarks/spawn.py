"""N concurrent spawns on the devcluster: time to all ready, Kubernetes requests per spawn.

    python benchmarks/spawn.py [--n 100] [--rounds 3] [--spawner policy|plain]

Baseline named in the output: plain KubeSpawner, measured in the same run
when ``--spawner both`` (the default).
"""

from __future__ import annotations

import argparse
import asyncio

from spawnbench import PLAIN, WITH_POLICY, compare, summary


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--n", type=int, default=100, help="concurrent spawns")
    parser.add_argument("--rounds", type=int, default=3, help="rounds (median reported)")
    parser.add_argument("--spawner", choices=["policy", "plain", "both"], default="both")
    args = parser.parse_args()
    configs = {}
    if args.spawner in ("plain", "both"):
        configs["plain KubeSpawner"] = PLAIN
    if args.spawner in ("policy", "both"):
        configs["PolicySpawner"] = WITH_POLICY
    results = asyncio.run(compare(configs, args.n, args.rounds))
    for name, rounds in results.items():
        summary(name, rounds, args.n)


if __name__ == "__main__":
    main()
