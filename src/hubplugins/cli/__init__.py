"""``hubplugins``: the admin command line.

- ``hubplugins check FILE [--json] [--strict]``: check a policy file, or a helm
  values file (the policy under ``hub.config.HubPolicy.policy``, the profiles
  of ``singleuser.profileList`` against it, the chart's settings). Reports
  every problem of every check in :data:`CHECKS` in one pass, each with its key
  path; exits 1 on an error (or, with ``--strict``, a warning), else 0.
- ``hubplugins explain [--file FILE] --groups a,b``: the effective policy of a
  user in those groups, and which source (``defaults`` or a group) gave each
  value. Without ``--file``, the built-in defaults.
- ``hubplugins plan NEW_POLICY --url URL --token TOKEN``: what deploying a
  policy would do to the hub's current users and servers (see
  :mod:`hubplugins.policy.plan`).
- ``hubplugins usage --url URL --token TOKEN [--json]``: each user's servers
  against their limits and who holds which GPUs (see :mod:`hubplugins.cli.usage_text`).
"""

from __future__ import annotations

import argparse
import asyncio
import importlib
import json
import os
import sys
from collections.abc import Callable, Mapping, Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from hubplugins.policy.config_files import is_values_file, policy_table
from hubplugins.policy.errors import ConfigIssue, PolicyConfigError
from hubplugins.policy.keys import KEYS, values_of
from hubplugins.policy.quantities import format_cpu, format_duration, format_memory
from hubplugins.policy.table import PolicyTable, load_yaml

Check = Callable[[Any], list[ConfigIssue]]

CHECKS: list[str | Check] = [
    "hubplugins.policy.config_files:policy_issues",
    "hubplugins.policy.config_files:profile_slug_problems",
    "hubplugins.policy.config_files:profile_resource_issues",
    "hubplugins.lifecycle.cullers:values_culler_issues",
    "hubplugins.auth.values_check:values_sign_in_issues",
    # further checks add themselves here, as "module:function" (imported when
    # check runs) or a function: each takes the file as loaded (helm values or
    # a bare policy table, plain data) and returns its problems, never raising
]

JSON_FORMAT = 1
"""The version of ``check --json``'s shape; it changes only when a key changes meaning."""


def _check_function(check: str | Check) -> Check:
    if callable(check):
        return check
    module, _, name = check.partition(":")
    function: Check = getattr(importlib.import_module(module), name)
    return function


def run_checks(document: Any) -> list[tuple[str, ConfigIssue]]:
    """(check name, problem) for every problem every check in :data:`CHECKS` finds."""
    found: list[tuple[str, ConfigIssue]] = []
    for check in CHECKS:
        function = _check_function(check)
        try:
            issues = function(document)
        except Exception as exc:  # one broken check must not hide what the others find
            issues = [ConfigIssue("", f"the check could not run: {type(exc).__name__}: {exc}")]
        found.extend((function.__name__, issue) for issue in issues)
    return found


def _load(path: str) -> tuple[PolicyTable, str]:
    """The table in ``path`` and a note on where in the file it was found."""
    document = load_yaml(Path(path).read_text(encoding="utf-8"), path)
    try:
        table = policy_table(document)
    except PolicyConfigError as exc:
        raise PolicyConfigError(exc.issues, path) from None
    return table, " (at hub.config.HubPolicy.policy)" if is_values_file(document) else ""


def check_report(path: str, document: Any, found: list[tuple[str, ConfigIssue]]) -> dict[str, Any]:
    """The result of ``check`` as plain data: the shape ``--json`` prints."""
    errors = sum(issue.severity == "error" for _, issue in found)
    policy: dict[str, Any] | None = None
    if not any(name == "policy_issues" for name, _ in found) and isinstance(document, Mapping):
        try:
            table = policy_table(document)
        except PolicyConfigError:
            table = None
        if table is not None:
            policy = {"groups": list(table.group_names), "gpu_pool": dict(table.cluster.gpu_pool)}
    return {
        "format": JSON_FORMAT,
        "file": path,
        "kind": "helm-values" if is_values_file(document) else "policy",
        "valid": errors == 0,
        "errors": errors,
        "warnings": len(found) - errors,
        "problems": [
            {"severity": i.severity, "path": i.path, "message": i.message, "check": name}
            for name, i in found
        ],
        "policy": policy,
    }


def _plural(n: int, word: str) -> str:
    return f"{n} {word}" if n == 1 else f"{n} {word}s"


def cmd_check(args: argparse.Namespace) -> int:
    try:
        text = Path(args.file).read_text(encoding="utf-8")
    except OSError as exc:
        if args.json:
            print(json.dumps({"format": JSON_FORMAT, "file": args.file, "error": exc.strerror}))
        print(f"{args.file}: cannot read: {exc.strerror}", file=sys.stderr)
        return 1
    try:
        document = load_yaml(text, args.file)
        found = run_checks(document)
    except PolicyConfigError as exc:  # the file is not YAML
        document, found = None, [("yaml", issue) for issue in exc.issues]
    report = check_report(args.file, document, found)
    failed = report["errors"] > 0 or (args.strict and report["warnings"] > 0)
    if args.json:
        print(json.dumps(report, indent=2, ensure_ascii=False))
        return 1 if failed else 0
    if found:
        counts = [_plural(report["errors"], "error")] if report["errors"] else []
        counts += [_plural(report["warnings"], "warning")] if report["warnings"] else []
        print(f"{args.file}: {', '.join(counts)}", file=sys.stderr)
        for _, issue in found:
            mark = "warning: " if issue.severity == "warning" else ""
            print(f"  {mark}{issue}", file=sys.stderr)
    if report["errors"] == 0:
        where = " (at hub.config.HubPolicy.policy)" if report["kind"] == "helm-values" else ""
        policy = report["policy"] or {}
        groups = ", ".join(policy.get("groups", [])) or "none"
        pool = ", ".join(f"{k}: {v}" for k, v in policy.get("gpu_pool", {}).items()) or "none"
        print(f"{args.file}: valid policy{where}; groups: {groups}; GPU pool: {pool}")
    return 1 if failed else 0


def _fmt(kind: str, value: Any) -> str:
    """A value as ``explain`` shows it; ``kind`` is the key's (cpu, memory, duration or "")."""
    if value is None:
        return "never" if kind == "duration" else "null  (no limit)"
    if isinstance(value, bool):
        return "true" if value else "false"
    if kind in FORMATS:
        return FORMATS[kind](value)
    if isinstance(value, tuple):
        return "[" + ", ".join(f'"{v}"' for v in value) + "]"
    if isinstance(value, Mapping):  # per GPU kind
        shown = ("null" if n is None else str(n) for n in value.values())
        return "{" + ", ".join(f"{k}: {n}" for k, n in zip(value, shown, strict=True)) + "}"
    return str(value)


FORMATS: dict[str, Callable[[Any], str]] = {
    "cpu": format_cpu,
    "memory": format_memory,
    "duration": format_duration,
}


def explain_text(table: PolicyTable, groups: Sequence[str]) -> str:
    """The effective policy of a user in ``groups`` as YAML-like text with sources."""
    policy = table.resolve(groups)
    ignored = [g for g in groups if g not in table.group_names]
    lines = [f"# effective policy for groups: {', '.join(groups) or '(none)'}"]
    lines.append(f"# tier: {policy.tier}")
    if ignored:
        lines.append(f"# not in the policy table (ignored): {', '.join(ignored)}")
    rows: list[tuple[str, str]] = []
    shown: list[str] = []
    kinds = {key.path: key.kind for key in KEYS}
    for key, value in values_of(policy).items():
        parts = key.split(".")
        for depth, part in enumerate(parts[:-1]):
            prefix = ".".join(parts[: depth + 1])
            if prefix not in shown:
                shown.append(prefix)
                rows.append(("  " * depth + f"{part}:", ""))
        text = "  " * (len(parts) - 1) + f"{parts[-1]}: {_fmt(kinds[key], value)}"
        rows.append((text, policy.sources.get(key, "defaults")))
    width = max(len(text) for text, _ in rows) + 2
    for text, source in rows:
        lines.append(f"{text:<{width}}# from {source}" if source else text)
    return "\n".join(lines)


def cmd_explain(args: argparse.Namespace) -> int:
    try:
        table = _load(args.file)[0] if args.file else PolicyTable.from_dict({})
    except OSError as exc:
        print(f"{args.file}: cannot read: {exc.strerror}", file=sys.stderr)
        return 1
    except PolicyConfigError as exc:
        print(str(exc), file=sys.stderr)
        return 1
    groups = [g.strip() for g in (args.groups or "").split(",") if g.strip()]
    print(explain_text(table, groups))
    return 0


PLAN_SCOPES = "list:users, read:users:groups, read:servers, admin:server_state"


def _hub_api_url(url: str) -> str:
    url = url.rstrip("/")
    if url.endswith("/hub/api"):
        return url
    return f"{url}/api" if url.endswith("/hub") else f"{url}/hub/api"


async def _hub_users(url: str, token: str) -> list[dict[str, Any]]:
    from hubplugins.lifecycle.hubapi import HubAPI  # tornado: only this command needs it

    api = HubAPI(_hub_api_url(url), token)
    try:
        return await api.list_users(state=None, include_stopped=True)
    finally:
        api.close()


def _read_table(path: str) -> PolicyTable:
    table, _ = _load(path)
    return table


def cmd_plan(args: argparse.Namespace) -> int:
    token = args.token or os.environ.get("JUPYTERHUB_API_TOKEN", "")
    if not token:
        print("plan: give --token or set JUPYTERHUB_API_TOKEN", file=sys.stderr)
        return 2
    try:
        table = _read_table(args.policy)
        current = _read_table(args.current) if args.current else None
    except OSError as exc:
        print(f"{exc.filename}: cannot read: {exc.strerror}", file=sys.stderr)
        return 1
    except PolicyConfigError as exc:
        print(f"{exc}\n(run hubplugins check on it)", file=sys.stderr)
        return 1
    from hubplugins.lifecycle.hubapi import HubAPIError

    try:
        users = asyncio.run(_hub_users(args.url, token))
    except HubAPIError as exc:
        hint = f"; the token needs {PLAN_SCOPES}" if exc.status in (401, 403) else ""
        print(f"{_hub_api_url(args.url)}: {exc.status} {exc.message}{hint}", file=sys.stderr)
        return 1
    except OSError as exc:
        print(f"{_hub_api_url(args.url)}: cannot connect: {exc}", file=sys.stderr)
        return 1
    from hubplugins.policy.plan import plan_report

    report = plan_report(table, users, datetime.now(UTC), current)
    if args.json:
        print(json.dumps(report, indent=2, ensure_ascii=False))
        return 0
    effects = report["effects"]
    print(
        f"{args.policy} on {_hub_api_url(args.url)}: {_plural(report['users'], 'user')}, "
        f"{_plural(report['servers'], 'server')} ({report['running']} running)"
        + ("; changes from " + args.current if current is not None else "")
    )
    for effect in effects:
        print(f"  {effect['user']}: {effect['message']}")
    for note in report["notes"]:
        print(f"note: {note}")
    affected = len({e["user"] for e in effects})
    print(f"{_plural(len(effects), 'effect')} on {_plural(affected, 'user')}")
    return 0


def parser() -> argparse.ArgumentParser:
    top = argparse.ArgumentParser(prog="hubplugins", description=__doc__.split("\n")[0])
    commands = top.add_subparsers(dest="command", required=True)
    check = commands.add_parser("check", help="check a policy or helm values file")
    check.add_argument("file", help="YAML policy table, or helm values with hub.config.HubPolicy")
    check.add_argument("--json", action="store_true", help="print the result as JSON")
    check.add_argument("--strict", action="store_true", help="exit 1 on warnings too")
    check.set_defaults(run=cmd_check)
    explain = commands.add_parser("explain", help="show a user's effective policy and sources")
    explain.add_argument("--file", help="policy or helm values file (default: built-in)")
    explain.add_argument("--groups", default="", help="comma-separated JupyterHub group names")
    explain.set_defaults(run=cmd_explain)
    plan = commands.add_parser(
        "plan", help="show what a new policy would do to the hub's users and servers"
    )
    plan.add_argument("policy", help="the new policy: YAML policy table or helm values")
    plan.add_argument("--url", required=True, help="the hub's URL, e.g. https://hub.example.org")
    plan.add_argument(
        "--token",
        default="",
        help=f"an API token with {PLAN_SCOPES} (default: $JUPYTERHUB_API_TOKEN)",
    )
    plan.add_argument("--current", help="the policy the hub runs now: list only what changes")
    plan.add_argument("--json", action="store_true", help="print the result as JSON")
    plan.set_defaults(run=cmd_plan)
    from hubplugins.cli.usage_text import add_parser as add_usage

    add_usage(commands)
    return top


def main(argv: Sequence[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    args = parser().parse_args(argv)
    code: int = args.run(args)
    return code
