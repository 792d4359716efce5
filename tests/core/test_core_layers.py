"""The layers hold: the pure core imports no outside system, devcluster none of ours.

A table of modules and the imports each must not make, read from the source
with ``ast`` so nothing is imported to check it.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
SRC = ROOT / "src" / "hubplugins"
DEVCLUSTER = ROOT / "dev-packages" / "hubplugins-dev" / "src" / "hubplugins_dev" / "devcluster"

CORE = [
    "quantities",
    "errors",
    "decisions",
    "policy",
    "policy_model",
    "policy_schema",
    "policy_table",
    "policy_checks",
    "checks",
    "start_checks",
    "pod_resources",
    "resources_text",
    "server_names",
    "gpu_pool",
    "gpu_queue",
    "pod_holdings",
    "quota_answer",
    "profiles",
    "profile_checks",
    "file_checks",
    "plan",
    "volume_names",
    "oauth_clients",
    "identity_rules",
    "oidc_rules",
    "lifecycle/sweep",
    "lifecycle/conditions",
    "lifecycle/cullers",
    "lifecycle/hub_url",
    "lifecycle/notices",
    "usage",
]
OUTSIDE = ("jupyterhub", "tornado", "kubernetes_asyncio", "kubespawner", "ldap3", "oauthenticator")
# pure helpers of those projects the core reuses rather than rewrites
REUSED = {"kubespawner.slugs"}
CLOCK_CALLS = {"now", "utcnow", "today", "time", "monotonic", "perf_counter"}


def _imports(path: Path) -> set[str]:
    tree = ast.parse(path.read_text(encoding="utf-8"))
    names: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            names.add(node.module)
        elif isinstance(node, ast.ImportFrom) and node.level > 0:
            names.add("." * node.level + (node.module or ""))
    return names


def _clock_calls(path: Path) -> list[str]:
    tree = ast.parse(path.read_text(encoding="utf-8"))
    return [
        ast.unparse(node.func)
        for node in ast.walk(tree)
        if isinstance(node, ast.Call)
        and isinstance(node.func, ast.Attribute)
        and node.func.attr in CLOCK_CALLS
    ]


@pytest.mark.parametrize("module", CORE)
def test_core_module_is_pure(module):
    path = SRC / f"{module}.py"
    imported = _imports(path)
    bad = sorted(n for n in imported if n.split(".")[0] in OUTSIDE and n not in REUSED)
    assert not bad, f"{module} imports {bad}: the core talks to no outside system"
    clock = _clock_calls(path)
    assert not clock, f"{module} reads the clock ({clock}): time is passed in"


@pytest.mark.parametrize("path", sorted(DEVCLUSTER.glob("*.py")), ids=lambda p: p.stem)
def test_devcluster_imports_nothing_of_ours(path):
    imported = _imports(path)
    ours = sorted(n for n in imported if n.split(".")[0] == "hubplugins" or n.startswith(".."))
    assert not ours, f"devcluster/{path.name} imports {ours}"
