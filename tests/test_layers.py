"""The layers hold: the contracts of ``.importlinter``, the policy pure, devcluster apart.

``lint-imports`` checks the layers (an import points down) on the whole
import graph, lazy imports inside functions included; the tests below add
what a contract cannot say: which outside packages the policy may use at all,
that it never reads the clock, and that the development cluster imports
nothing of the package.
"""

from __future__ import annotations

import ast
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
SRC = ROOT / "src" / "hubplugins"
DEVCLUSTER = ROOT / "dev-packages" / "hubplugins-dev" / "src" / "hubplugins_dev" / "devcluster"

POLICY = sorted((SRC / "policy").rglob("*.py"))
# pure modules that serve one adapter and so live beside it
PURE_ELSEWHERE = [SRC / "lifecycle" / "cullers.py", SRC / "lifecycle" / "hub_url.py"]
# what the policy may import besides the standard library and itself
ALLOWED = {
    "yaml",  # the policy file
    "jsonschema",  # its schema
    "slugify",  # the slug KubeSpawner derives for a profile, the same function
}
CLOCK_CALLS = {"now", "utcnow", "today", "time", "monotonic", "perf_counter"}
LINT = (
    "from importlinter.cli import lint_imports; "
    "raise SystemExit(lint_imports(config_filename='.importlinter', no_cache=True, no_logo=True))"
)


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


def _lint(src: Path) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "PYTHONPATH": str(src)}
    return subprocess.run(
        [sys.executable, "-c", LINT], cwd=ROOT, env=env, capture_output=True, text=True
    )


def test_the_import_contracts_are_kept():
    run = _lint(SRC.parent)
    assert run.returncode == 0, run.stdout + run.stderr
    assert "0 broken" in run.stdout


UPWARD = {
    "policy-imports-the-hub": ("policy/quantities.py", "import hubplugins.hub.metrics"),
    "policy-imports-the-spawner": (
        "policy/rules/idle.py",
        "from hubplugins.spawner import storage",
    ),
    "hub-imports-the-lifecycle": ("hub/tables.py", "import hubplugins.lifecycle.service"),
    "auth-imports-the-spawner": ("auth/groups.py", "import hubplugins.spawner.volume_names"),
    "policy-imports-sqlalchemy": ("policy/rules/quota.py", "import sqlalchemy"),
    "spawner-imports-the-cli": ("spawner/form.py", "import hubplugins.cli"),
}


@pytest.mark.parametrize(("module", "line"), UPWARD.values(), ids=UPWARD.keys())
def test_an_upward_import_breaks_a_contract(tmp_path, module, line):
    copy = tmp_path / "src"
    shutil.copytree(SRC, copy / "hubplugins", ignore=shutil.ignore_patterns("__pycache__"))
    target = copy / "hubplugins" / module
    target.write_text(target.read_text(encoding="utf-8") + f"\n\n{line}\n", encoding="utf-8")
    run = _lint(copy)
    assert run.returncode == 1, run.stdout + run.stderr
    assert "0 broken" not in run.stdout
    importer = "hubplugins." + module.removesuffix(".py").replace("/", ".")
    assert re.search(rf"^-\s+{re.escape(importer)} -> ", run.stdout, re.M), run.stdout


@pytest.mark.parametrize("path", POLICY + PURE_ELSEWHERE, ids=lambda p: str(p.relative_to(SRC)))
def test_the_policy_is_pure(path):
    outside = sorted(
        n
        for n in _imports(path)
        if not n.startswith(".")
        and n.split(".")[0] not in sys.stdlib_module_names
        and n.split(".")[0] not in ALLOWED
        and n != "__future__"
        and not n.startswith("hubplugins.policy")
    )
    assert not outside, f"{path.name} imports {outside}: the policy talks to no outside system"
    clock = _clock_calls(path)
    assert not clock, f"{path.name} reads the clock ({clock}): time is passed in"


@pytest.mark.parametrize("path", sorted(DEVCLUSTER.glob("*.py")), ids=lambda p: p.stem)
def test_devcluster_imports_nothing_of_ours(path):
    imported = _imports(path)
    ours = sorted(n for n in imported if n.split(".")[0] == "hubplugins" or n.startswith(".."))
    assert not ours, f"devcluster/{path.name} imports {ours}"


RULES = sorted(p.stem for p in (SRC / "policy" / "rules").glob("*.py") if p.stem != "__init__")


@pytest.mark.parametrize("rule", RULES)
def test_each_rule_has_its_table_test_one_hop_away(rule):
    tests = sorted((ROOT / "tests" / "policy" / "rules").glob(f"test_{rule}*.py"))
    assert tests, f"policy/rules/{rule}.py has no tests/policy/rules/test_{rule}*.py"
