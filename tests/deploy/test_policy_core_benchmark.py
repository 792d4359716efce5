"""``benchmarks/policy_core.py`` at a small size: it runs, names its baseline and prints the ratio.

No timing is asserted: the figures are the benchmark's, on a machine of its own.
"""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

BENCHMARK = Path(__file__).resolve().parents[2] / "benchmarks" / "policy_core.py"


def test_policy_core_benchmark_prints_its_ratio() -> None:
    done = subprocess.run(
        [sys.executable, str(BENCHMARK), "--users", "200"],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    lines = done.stdout.splitlines()
    assert lines[0] == (
        "policy core: 200 decisions (resolve + check_start + check_new_named_server)"
    )
    assert re.fullmatch(
        r"baseline, same run: KubeSpawner \d+\.\d+\.\d+\S* load_user_options, 2 profiles", lines[2]
    )
    assert re.fullmatch(r"ratio policy core / KubeSpawner: p50 \d+\.\d\d   p99 \d+\.\d\d", lines[4])
    assert re.fullmatch(r"goal p99 <= 50 µs: (meets|MISSES) it \(p99/goal = \d+\.\d\d\)", lines[5])
    assert not done.stderr
