"""PolicySpawner against plain KubeSpawner: 100 concurrent spawns each, same run.

    python benchmarks/spawn_overhead.py [--n 100] [--rounds 3]

Prints the wall-time ratio (goal <= 1.05) and Kubernetes requests per spawn
(goal: equal). Rounds alternate between the two spawners on one devcluster.
"""

from __future__ import annotations

import argparse
import asyncio

from spawnbench import PLAIN, WITH_POLICY, compare, summary


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--n", type=int, default=100, help="concurrent spawns")
    parser.add_argument("--rounds", type=int, default=3, help="rounds (median reported)")
    args = parser.parse_args()
    results = asyncio.run(
        compare({"plain KubeSpawner": PLAIN, "PolicySpawner": WITH_POLICY}, args.n, args.rounds)
    )
    base_s, base_req = summary("plain KubeSpawner", results["plain KubeSpawner"], args.n)
    ours_s, ours_req = summary("PolicySpawner", results["PolicySpawner"], args.n)
    print(
        f"wall-time ratio PolicySpawner / plain KubeSpawner: {ours_s / base_s:.3f} (goal <= 1.05)"
    )
    print(
        f"requests per spawn: {ours_req:.2f} vs {base_req:.2f} "
        f"({'equal' if abs(ours_req - base_req) < 1e-9 else 'DIFFERENT'}; goal: equal)"
    )


if __name__ == "__main__":
    main()
