"""The refusal catalogue holds every rule the code refuses with, with the code's status and words.

The source is read with ``ast``: every ``Decision.refuse(rule, message, status=...)``
and the rule ids it can give. Ids built at run time are expanded in
:data:`DYNAMIC` (a new dynamic site, or a stale one, fails the scan); the
rules no user meets are in :data:`NOT_FOR_USERS`, and statuses no request
reaches in :data:`UNREACHED`, each with the reason.
"""

from __future__ import annotations

import ast
import re
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from functools import cache
from pathlib import Path

import pytest

import hubplugins
from hubplugins.policy.catalogue import CATALOGUE, Refusal, by_rule

SRC = Path(hubplugins.__file__).resolve().parent
ROOT = SRC.parents[1]

# (module, the rule argument as written) -> the rule ids it can be
DYNAMIC = {
    ("policy/rules/resources.py", "f'request.{kind}'"): ("request.cpu", "request.memory"),
    ("policy/rules/resources.py", "rules[kind]"): (
        "resources.cpu.max",
        "resources.memory.max",
        "resources.gpu.max",
        "resources.gpu_kinds.<kind>",
    ),
    ("policy/rules/resources.py", "quota_rules[kind]"): (
        "quota.cpu",
        "quota.memory",
        "quota.gpu",
        "quota.gpu_kinds.<kind>",
    ),
    ("policy/rules/pod_resources.py", "rule"): tuple(
        f"manifest.{kind}" for kind in ("cpu", "memory", "gpu", "extended", "quantity")
    ),
    # a profile's resources over the caps, re-worded: the caps' own rule ids
    ("policy/rules/start.py", "capped.rule"): (),
}
# functions that call Decision.refuse with the rule they are given:
# (module, function) -> (position of the rule argument, default rule, default status)
WRAPPERS = {
    ("policy/rules/as_planned.py", "refuse"): (0, None, None),  # status: as_planned.RULES
    ("policy/rules/profiles.py", "_refuse"): (None, "user_options", 400),
}

# the lifecycle service's own API: refused to the service, not a user (docs/lifecycle.md)
NOT_FOR_USERS = frozenset({
    "lifecycle.request", "lifecycle.gone", "lifecycle.started", "lifecycle.busy",
    "lifecycle.stopped", "lifecycle.activity", "lifecycle.kept", "lifecycle.owner",
    "lifecycle.scopes", "lifecycle.metrics", "lifecycle.metrics-scope",
})  # fmt: skip
# (rule, status) the code can give that no request of a user reaches
UNREACHED = {("cluster.gpu_pool", 400)}  # a negative GPU count: counts are read as 0 or more


@dataclass(frozen=True)
class Site:
    """One refusal in the source: its module, rule ids, status (None: computed) and message."""

    module: str
    rules: tuple[str, ...]
    status: int | None
    message: re.Pattern[str] | None


def _template(node: ast.expr | None) -> str | None:
    """A regex of the strings ``node`` can be (None: not a string expression)."""
    if isinstance(node, ast.Constant) and isinstance(node.value, str):
        return re.escape(node.value)
    if isinstance(node, ast.JoinedStr):
        parts = [_template(v) if isinstance(v, ast.Constant) else ".+?" for v in node.values]
        return "".join(p or "" for p in parts)
    if isinstance(node, ast.BinOp) and isinstance(node.op, ast.Add):
        left, right = _template(node.left), _template(node.right)
        return None if left is None and right is None else (left or ".+?") + (right or ".+?")
    return None


def _modules() -> Iterator[tuple[str, ast.Module]]:
    for path in sorted(SRC.rglob("*.py")):
        yield path.relative_to(SRC).as_posix(), ast.parse(path.read_text(encoding="utf-8"))


def _path(module: str) -> str:
    """``hubplugins.policy.rules.gpu_pool`` -> ``policy/rules/gpu_pool.py``."""
    return module.removeprefix("hubplugins.").replace(".", "/") + ".py"


def _constants(tree: ast.Module) -> dict[str, str]:
    found = {}
    for node in tree.body:
        if isinstance(node, ast.Assign) and isinstance(node.value, ast.Constant):
            for target in node.targets:
                if isinstance(target, ast.Name) and isinstance(node.value.value, str):
                    found[target.id] = node.value.value
    return found


def _status(call: ast.Call, default: int | None = 403) -> int | None:
    """The status a call gives (None: computed); ``default``: Decision.refuse's own."""
    for keyword in call.keywords:
        if keyword.arg == "status":
            value = keyword.value
            return value.value if isinstance(value, ast.Constant) else None
    return default


def _is_refuse(call: ast.Call) -> bool:
    func = call.func
    return (
        isinstance(func, ast.Attribute)
        and func.attr == "refuse"
        and isinstance(func.value, ast.Name)
        and func.value.id == "Decision"
    )


@cache
def sites() -> tuple[Site, ...]:
    trees = dict(_modules())
    constants = {m: _constants(t) for m, t in trees.items()}
    found: list[Site] = []
    dynamic_seen: set[tuple[str, str]] = set()

    def resolve(module: str, tree: ast.Module, node: ast.expr) -> tuple[str, ...] | None:
        if isinstance(node, ast.Constant) and isinstance(node.value, str):
            return (node.value,)
        if isinstance(node, ast.Name):
            if node.id in constants[module]:
                return (constants[module][node.id],)
            for imp in ast.walk(tree):
                if isinstance(imp, ast.ImportFrom) and (imp.module or "").startswith("hubplugins"):
                    for alias in imp.names:
                        if (alias.asname or alias.name) == node.id:
                            value = constants.get(_path(imp.module), {}).get(alias.name)
                            if value is not None:
                                return (value,)
        key = (module, ast.unparse(node))
        if key in DYNAMIC:
            dynamic_seen.add(key)
            written = _template(node)  # an f-string: each expansion must be one of its values
            for rule in DYNAMIC[key] if written else ():
                assert re.fullmatch(written, rule), f"{module}: {rule} is not {key[1]}"
            return DYNAMIC[key]
        return None

    for module, tree in trees.items():
        imported = {
            alias.asname or alias.name: _path(imp.module or "")
            for imp in ast.walk(tree)
            if isinstance(imp, ast.ImportFrom) and (imp.module or "").startswith("hubplugins")
            for alias in imp.names
        }
        for call in (n for n in ast.walk(tree) if isinstance(n, ast.Call)):
            made = isinstance(call.func, ast.Name) and call.func.id == "Decision"
            assert not made, f"{module}: a Decision made directly; use Decision.refuse"
            if _is_refuse(call):
                if (module, ast.unparse(call.args[0])) in {(m, "rule") for m, _ in WRAPPERS}:
                    continue  # a wrapper's own call: its callers name the rule
                rules = resolve(module, tree, call.args[0])
                assert rules is not None, f"{module}: add {ast.unparse(call.args[0])} to DYNAMIC"
                message = _template(call.args[1]) if len(call.args) > 1 else None
                pattern = re.compile(message, re.DOTALL) if message else None
                found.append(Site(module, rules, _status(call), pattern))
                continue
            if not isinstance(call.func, ast.Name):
                continue
            where = module if (module, call.func.id) in WRAPPERS else imported.get(call.func.id)
            if (where, call.func.id) not in WRAPPERS:
                continue
            position, default_rule, default_status = WRAPPERS[(where, call.func.id)]
            rule_node = next((k.value for k in call.keywords if k.arg == "rule"), None)
            if rule_node is None and position is not None:
                rule_node = call.args[position]
            rules = (default_rule,) if rule_node is None else resolve(module, tree, rule_node)
            assert rules is not None and None not in rules, f"{module}: {ast.unparse(call)}"
            status = _status(call, default_status)
            found.append(Site(module, tuple(str(r) for r in rules), status, None))
    assert dynamic_seen == set(DYNAMIC), f"stale DYNAMIC entries: {set(DYNAMIC) - dynamic_seen}"
    return tuple(found)


def source_rules() -> set[str]:
    return {rule for site in sites() for rule in site.rules}


def test_the_scan_finds_the_refusals():
    rules = source_rules()
    assert {"servers.max_named", "quota.gpu", "cluster.gpu_pool", "manifest.cpu"} <= rules
    assert {"user_options", "lifecycle.gone", "directory.account"} <= rules
    assert len(sites()) > 60


def test_every_rule_a_user_can_be_refused_by_is_catalogued():
    catalogued = {entry.rule for entry in CATALOGUE}
    assert sorted(source_rules() - catalogued - NOT_FOR_USERS) == []


def test_every_entry_is_a_rule_of_the_code():
    catalogued = {entry.rule for entry in CATALOGUE}
    assert sorted(catalogued - source_rules()) == []
    assert sorted(NOT_FOR_USERS - source_rules()) == []
    assert not catalogued & NOT_FOR_USERS


def test_every_status_the_code_gives_is_catalogued():
    given = {(r, s.status) for s in sites() for r in s.rules if s.status is not None}
    catalogued = {(entry.rule, entry.status) for entry in CATALOGUE}
    for_users = {(r, s) for r, s in given if r not in NOT_FOR_USERS} - UNREACHED
    assert sorted(for_users - catalogued) == []
    # an entry's status is one its rule's code gives (a case shows it, or the source does)
    stated = {(e.rule, e.status) for e in CATALOGUE if not e.case}
    assert sorted(stated - given) == []
    assert UNREACHED <= given


def test_the_catalogue_needs_the_standard_library_only():
    tree = ast.parse((SRC / "policy" / "catalogue.py").read_text(encoding="utf-8"))
    top = [n for n in tree.body if isinstance(n, ast.Import | ast.ImportFrom)]
    names = {a.name for n in top if isinstance(n, ast.Import) for a in n.names}
    names |= {n.module or "" for n in top if isinstance(n, ast.ImportFrom)}
    assert names <= set(sys.stdlib_module_names) | {"__future__"}


def test_every_case_has_its_entry():
    import inspect

    from hubplugins.policy import catalogue_cases

    made = {
        name
        for name, f in inspect.getmembers(catalogue_cases, inspect.isfunction)
        if f.__module__ == catalogue_cases.__name__ and not name.startswith("_")
    }
    assert made == {entry.case for entry in CATALOGUE if entry.case}


def test_entries_are_distinct():
    keys = [(entry.rule, entry.status, entry.when) for entry in CATALOGUE]
    assert len(keys) == len(set(keys))
    assert all(by_rule(entry.rule) for entry in CATALOGUE)


CASES = [pytest.param(e, id=f"{e.rule}-{e.status}-{i}") for i, e in enumerate(CATALOGUE)]


@pytest.mark.parametrize("entry", [p for p in CASES if p.values[0].case])
def test_the_rule_answers_its_case_with_the_entry(entry: Refusal):
    decision = entry.decision()
    assert not decision.allowed
    assert entry.matches(decision.rule), decision.rule
    assert decision.status == entry.status
    assert entry.example == decision.message


@pytest.mark.parametrize("entry", [p for p in CASES if not p.values[0].case])
def test_a_literal_example_is_the_code_message(entry: Refusal):
    candidates = [
        site
        for site in sites()
        if entry.rule in site.rules and site.status == entry.status and site.message
    ]
    assert candidates, f"no refusal of {entry.rule} with status {entry.status} in the source"
    assert any(site.message and site.message.fullmatch(entry.literal) for site in candidates)


@pytest.mark.parametrize("entry", CASES)
def test_an_entry_reads_well(entry: Refusal):
    assert entry.example and "`" not in entry.example
    assert entry.when and entry.remedy
    assert 400 <= entry.status < 600


def test_the_docs_table_has_a_row_per_entry():
    pytest.importorskip("sphinx", reason="the docs extra")
    sys.path.insert(0, str(ROOT / "docs" / "_ext"))
    try:
        import refusal_reference
    finally:
        sys.path.remove(str(ROOT / "docs" / "_ext"))
    rows = refusal_reference.rows()
    assert len(rows) == len(CATALOGUE)
    for row, entry in zip(rows, CATALOGUE, strict=True):
        assert row == [
            [str(entry.status)],
            [entry.when, f"`{entry.rule}`"],
            [f"`{entry.example}`", entry.remedy],
        ]
    page = (ROOT / "docs" / "refusals.md").read_text(encoding="utf-8")
    assert "```{refusal-catalogue}" in page
    assert "| Status |" not in page  # no hand-written table beside it
