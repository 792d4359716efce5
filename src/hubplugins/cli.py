"""``hubplugins``: the admin command line.

- ``hubplugins check FILE``: validate a policy file, or a helm values file (the
  policy under ``hub.config.HubPolicy.policy``, and the slugs of
  ``singleuser.profileList``). Prints every error with its key path and exits
  1; exits 0 with a one-line summary when valid.
- ``hubplugins explain [--file FILE] --groups a,b``: the effective policy of a
  user in those groups, and which source (``defaults`` or a group) gave each
  value. Without ``--file``, the built-in defaults.
- ``hubplugins usage --url URL --token TOKEN [--json]``: each user's servers
  against their limits and who holds which GPUs (see :mod:`hubplugins.usage_cli`).
- ``hubplugins demo ...``: run the demo hub (see :mod:`hubplugins.demo`).
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from .errors import ConfigIssue, PolicyConfigError
from .policy_model import Policy
from .policy_table import PolicyTable, load_yaml
from .profiles import profile_slug_issues
from .quantities import format_cpu, format_duration, format_memory

HELM_PATH = ("hub", "config", "HubPolicy", "policy")
PROFILES_PATH = "singleuser.profileList"  # the chart's KubeSpawner.profile_list


def _load(path: str) -> tuple[PolicyTable, str]:
    """The table in ``path`` and a note on where in the file it was found."""
    text = Path(path).read_text(encoding="utf-8")
    raw = load_yaml(text, path)
    if (
        isinstance(raw, Mapping)
        and "hub" in raw
        and not {"defaults", "groups", "cluster"} & set(raw)
    ):
        node: Any = raw
        for key in HELM_PATH:
            node = node.get(key) if isinstance(node, Mapping) else None
        if node is None:
            issue = ConfigIssue("", f"a helm values file without {'.'.join(HELM_PATH)}")
            raise PolicyConfigError([issue], path)
        prefix = ".".join(HELM_PATH)
        profiles = raw.get("singleuser") if isinstance(raw.get("singleuser"), Mapping) else {}
        issues = profile_slug_issues(profiles.get("profileList"), path=PROFILES_PATH)
        try:
            table = PolicyTable.from_dict(node, source=path, prefix=prefix)
        except PolicyConfigError as exc:
            raise PolicyConfigError([*exc.issues, *issues], path) from None
        if issues:
            raise PolicyConfigError(issues, path)
        return table, f" (at {prefix})"
    return PolicyTable.from_dict(raw, source=path), ""


def cmd_check(args: argparse.Namespace) -> int:
    try:
        table, where = _load(args.file)
    except OSError as exc:
        print(f"{args.file}: cannot read: {exc.strerror}", file=sys.stderr)
        return 1
    except PolicyConfigError as exc:
        n = len(exc.issues)
        print(f"{args.file}: {n} error{'s' if n != 1 else ''}", file=sys.stderr)
        for error in exc.errors:
            print(f"  {error}", file=sys.stderr)
        return 1
    groups = ", ".join(table.group_names) or "none"
    pool = ", ".join(f"{k}: {v}" for k, v in table.cluster.gpu_pool.items()) or "none"
    print(f"{args.file}: valid policy{where}; groups: {groups}; GPU pool: {pool}")
    return 0


def _fmt(key: str, value: Any) -> str:
    if value is None:
        return "never" if key.startswith("idle.") else "null  (no limit)"
    if isinstance(value, bool):
        return "true" if value else "false"
    if key.endswith((".cpu", "cpu.guarantee", "cpu.limit", "cpu.max")):
        return format_cpu(value)
    if key.startswith("resources.memory") or key in ("quota.memory", "storage.capacity"):
        return format_memory(value)
    if key.startswith("idle."):
        return format_duration(value)
    if isinstance(value, tuple):
        return "[" + ", ".join(f'"{v}"' for v in value) + "]"
    return str(value)


def policy_values(policy: Policy) -> dict[str, Any]:
    """The policy as dotted key -> value, in the order of the admin guide."""
    p = policy
    r = p.resources
    return {
        "servers.max_named": p.servers.max_named,
        "servers.max_running": p.servers.max_running,
        "servers.name_max_length": p.servers.name_max_length,
        "idle.stop_after": p.idle.stop_after,
        "idle.delete_after": p.idle.delete_after,
        "idle.delete_notice": p.idle.delete_notice,
        "idle.allow_keep": p.idle.allow_keep,
        "resources.cpu.guarantee": r.cpu.guarantee,
        "resources.cpu.limit": r.cpu.limit,
        "resources.cpu.max": r.cpu.max,
        "resources.memory.guarantee": r.memory.guarantee,
        "resources.memory.limit": r.memory.limit,
        "resources.memory.max": r.memory.max,
        "resources.gpu.default": r.gpu.default,
        "resources.gpu.max": r.gpu.max,
        "resources.gpu.resource": r.gpu.resource,
        "quota.cpu": p.quota.cpu,
        "quota.memory": p.quota.memory,
        "quota.gpu": p.quota.gpu,
        "storage.capacity": p.storage.capacity,
        "storage.scope": p.storage.scope,
        "storage.mount_path": p.storage.mount_path,
        "storage.delete_with_server": p.storage.delete_with_server,
        "storage.delete_with_user": p.storage.delete_with_user,
        "profiles": p.profiles,
        "ssh_keys": p.ssh_keys,
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
    for key, value in policy_values(policy).items():
        parts = key.split(".")
        for depth, part in enumerate(parts[:-1]):
            prefix = ".".join(parts[: depth + 1])
            if prefix not in shown:
                shown.append(prefix)
                rows.append(("  " * depth + f"{part}:", ""))
        text = "  " * (len(parts) - 1) + f"{parts[-1]}: {_fmt(key, value)}"
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


def cmd_demo(args: argparse.Namespace) -> int:
    from . import demo  # imported here: the CLI works without the demo's dependencies

    result = demo.main(args.demo_args)
    return int(result or 0)


def parser() -> argparse.ArgumentParser:
    top = argparse.ArgumentParser(prog="hubplugins", description=__doc__.split("\n")[0])
    commands = top.add_subparsers(dest="command", required=True)
    check = commands.add_parser("check", help="validate a policy or helm values file")
    check.add_argument("file", help="YAML policy table, or helm values with hub.config.HubPolicy")
    check.set_defaults(run=cmd_check)
    explain = commands.add_parser("explain", help="show a user's effective policy and sources")
    explain.add_argument("--file", help="policy or helm values file (default: built-in)")
    explain.add_argument("--groups", default="", help="comma-separated JupyterHub group names")
    explain.set_defaults(run=cmd_explain)
    from .usage_cli import add_parser as add_usage

    add_usage(commands)
    demo = commands.add_parser("demo", help="run the demo hub on a local devcluster")
    demo.add_argument("demo_args", nargs=argparse.REMAINDER, help="arguments for the demo")
    demo.set_defaults(run=cmd_demo)
    return top


def main(argv: Sequence[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    if argv[:1] == ["demo"]:
        # the demo parses its own options (argparse's REMAINDER drops leading flags)
        return cmd_demo(argparse.Namespace(demo_args=argv[1:]))
    args = parser().parse_args(argv)
    code: int = args.run(args)
    return code


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
