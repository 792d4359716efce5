"""Hostile ``user_options`` through the REST API: N generated cases per hub, what went wrong.

The longer run of ``tests/spawner/test_user_options_fuzz.py``: the same
Hypothesis strategies and checks, against the spawner tests' hub and the same
hub without a ``profile_list``, on one devcluster. A case is wrong when the
hub answers 5xx, refuses without a message, creates anything in Kubernetes on
a refusal, leaves a server record behind, or starts a server above the policy.

    python benchmarks/user_options_fuzz.py [--cases 4000] [--jupyterhub 6|5.5] [--seed 1]
                                           [--max-starts 50]

``--cases`` is the total, split evenly between the two hubs. Prints the cases
tried, the starts accepted and every wrong case; exits 1 when any was wrong.
"""

from __future__ import annotations

import argparse
import asyncio
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "tests"))

from harness.hub import start_hub  # noqa: E402
from hypothesis import HealthCheck, Phase, assume, given, settings  # noqa: E402
from hypothesis import seed as hypothesis_seed  # noqa: E402
from spawner.user_options_cases import CONFIGS, Case, Runner, cases, may_start  # noqa: E402

from hubplugins_dev.devcluster.testing import run_devcluster  # noqa: E402


async def _fuzz(runner: Runner, n: int, seed: int, max_starts: int) -> None:
    """Run ``n`` generated cases; every wrong one is kept in ``runner.tally``.

    Once ``max_starts`` starts were accepted, cases that look like starts are
    skipped: a start takes seconds, a refusal milliseconds.
    """
    loop = asyncio.get_running_loop()

    @hypothesis_seed(seed)
    @settings(
        max_examples=n,
        database=None,
        deadline=None,
        phases=[Phase.generate],  # no shrinking: report every wrong case as sent
        suppress_health_check=list(HealthCheck),
    )
    @given(case=cases(runner.hub.version))
    def check(case: Case) -> None:
        assume(runner.tally.accepted < max_starts or not may_start(case, runner.hub.version))
        asyncio.run_coroutine_threadsafe(runner.run(case), loop).result()

    await asyncio.to_thread(check)


async def main(args: argparse.Namespace) -> int:
    per_hub = max(1, args.cases // len(CONFIGS))
    with tempfile.TemporaryDirectory(prefix="options-fuzz-") as tmp:
        work = Path(tmp)
        with run_devcluster(work / "devcluster") as cluster:
            hubs = await asyncio.gather(
                *(
                    start_hub(
                        work / name,
                        config,
                        jupyterhub=args.jupyterhub,
                        kubeconfig=cluster.kubeconfig,
                    )
                    for name, config in CONFIGS.items()
                )
            )
            try:
                by_name = dict(zip(CONFIGS, hubs, strict=True))
                admin = await by_name["profiles"].login("admin")
                runners: dict[str, Any] = {
                    "profiles": Runner(by_name["profiles"], cluster, admin),
                    "no-profiles": Runner(by_name["no-profiles"], cluster),
                }
                started = time.perf_counter()
                for name, runner in runners.items():
                    await _fuzz(runner, per_hub, args.seed, args.max_starts)
                    t = runner.tally
                    print(
                        f"{name} (JupyterHub {args.jupyterhub}): tried {t.tried}, "
                        f"started {t.accepted}, wrong {len(t.wrong)}"
                    )
                elapsed = time.perf_counter() - started
            finally:
                await asyncio.gather(*(hub.stop() for hub in hubs))
    tried = sum(r.tally.tried for r in runners.values())
    wrong = [w for r in runners.values() for w in r.tally.wrong]
    for problem in wrong:
        print("WRONG:", problem.splitlines()[0])
    print(f"tried {tried} cases in {elapsed:.0f} s, wrong {len(wrong)}")
    return 1 if wrong else 0


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--cases", type=int, default=4000, help="cases in all (default 4000)")
    parser.add_argument("--jupyterhub", choices=["6", "5.5"], default="6")
    parser.add_argument("--seed", type=int, default=1, help="Hypothesis seed (default 1)")
    parser.add_argument(
        "--max-starts", type=int, default=50, help="accepted starts per hub (default 50)"
    )
    sys.exit(asyncio.run(main(parser.parse_args())))
