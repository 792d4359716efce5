"""``benchmarks/scale.py`` at a small size: every step runs, and the sweeps' requests stay bounded.

No timing is asserted: the figures are the benchmark's, on a machine of its own.
"""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

pytestmark = pytest.mark.slow

BENCHMARKS = Path(__file__).resolve().parents[2] / "benchmarks"


async def test_scale_benchmark_small(tmp_path: Path) -> None:
    sys.path.insert(0, str(BENCHMARKS))
    try:
        import scale
    finally:
        sys.path.remove(str(BENCHMARKS))
    # the hub starts are measured by every sweep's own start; the stop-only sweep
    # differs from the retention one only in its policy
    argv = ["--users", "2000", "--running", "20", "--idle-fraction", "0.5"]
    argv += ["--keep", str(tmp_path / "scale")]
    argv += ["--skip", "start", "--sweep", "retention", "--sweep", "idle-culler", "--rest", "1"]
    figures = await scale.run(scale.parser().parse_args(argv))
    assert set(figures["sweeps"]) == {scale.SWEEPS[k][0] for k in ("retention", "idle-culler")}
    for name, got in figures["sweeps"].items():
        if "hubplugins" not in name:
            assert got["seconds"] > 0
            continue
        summary = got["summary"]
        # every idle server stopped by the sweep itself (and none in use: the benchmark
        # fails a sweep that stops one), one request each plus the pages
        assert summary.get("stop_done", 0) + summary.get("stop_pending", 0) == 10, summary
        assert got["requests"] == got["bound"], summary
        # the 20 with a running server, then every other user (the admin too)
        assert summary["users"] == 2001, summary
        assert [p["users"] for p in summary["passes"]] == ["with a running server", "all"]
        assert got["read_all_pages"] == summary["passes"][1]["pages"] >= 5
