"""Latency of the policy core's per-request decisions.

Builds a policy table, 10,000 users of 5 servers each, and times one
``resolve`` + ``check_start`` + ``check_new_named_server`` per user (the work
the hub does for one spawn request). Prints p50/p99 in microseconds against
the goal (p99 <= 50 µs).

    python benchmarks/policy_core.py [--users N]
"""

from __future__ import annotations

import argparse
import random
import statistics
import time

from hubplugins.policy import (
    PolicyTable,
    Request,
    ServerUsage,
    Usage,
    check_new_named_server,
    check_start,
)

GOAL_P99_US = 50.0
GB = 10**9

POLICY = {
    "defaults": {
        "servers": {"max_named": 5, "max_running": 6, "name_max_length": 20},
        "idle": {"stop_after": "2h", "delete_after": "7d"},
        "resources": {
            "cpu": {"guarantee": 0.5, "limit": 1, "max": 2},
            "memory": {"guarantee": "1G", "limit": "2G", "max": "4G"},
            "gpu": {"default": 0, "max": 0},
        },
        "quota": {"cpu": 8, "memory": "16G", "gpu": 0},
        "profiles": ["small", "medium"],
    },
    "groups": {
        "authenticated": {"resources": {"cpu": {"max": 4}}},
        "gpu-beta": {"resources": {"gpu": {"max": 2}}, "quota": {"gpu": 2}, "profiles": ["*"]},
        "staff": {"servers": {"max_named": 10}, "idle": {"stop_after": None}},
        "students": {"quota": {"cpu": 4}},
    },
    "cluster": {"gpu_pool": {"nvidia.com/gpu": 16}},
}
GROUP_SETS = [
    ["authenticated"],
    ["authenticated", "students"],
    ["authenticated", "gpu-beta"],
    ["authenticated", "staff", "gpu-beta"],
    ["unknown-group"],
]


def make_users(n: int, rng: random.Random) -> list[tuple[list[str], Usage, Request, str]]:
    users = []
    for i in range(n):
        servers = [
            ServerUsage(
                name="" if s == 0 else f"nb{s}",
                running=rng.random() < 0.5,
                cpu=rng.choice([0.5, 1.0, 2.0]),
                memory=rng.choice([GB, 2 * GB]),
                gpu=0,
            )
            for s in range(5)
        ]
        request = Request(cpu_limit=rng.choice([None, 1.0, 2.0]), memory_limit=2 * GB)
        users.append((GROUP_SETS[i % len(GROUP_SETS)], Usage.of(servers), request, f"new{i % 7}"))
    return users


def run(n_users: int) -> list[float]:
    table = PolicyTable.from_dict(POLICY)
    users = make_users(n_users, random.Random(42))
    timings: list[float] = []
    clock = time.perf_counter_ns
    for groups, usage, request, name in users:
        start = clock()
        policy = table.resolve(groups)
        check_start(policy, usage, request, server_name="nb1")
        check_new_named_server(policy, usage, name)
        timings.append((clock() - start) / 1000)
    return timings


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--users", type=int, default=10_000)
    args = parser.parse_args()
    run(500)  # warm up: caches, imports
    timings = sorted(run(args.users))
    p50 = statistics.median(timings)
    p99 = timings[int(len(timings) * 0.99) - 1]
    verdict = "meets" if p99 <= GOAL_P99_US else "MISSES"
    print(f"policy core: {len(timings)} decisions (resolve + check_start + check_new_named_server)")
    print(f"p50 {p50:.1f} µs   p99 {p99:.1f} µs   max {timings[-1]:.1f} µs")
    print(f"goal p99 <= {GOAL_P99_US:.0f} µs: {verdict} it (p99/goal = {p99 / GOAL_P99_US:.2f})")


if __name__ == "__main__":
    main()
