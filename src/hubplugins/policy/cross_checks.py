"""Cross-field checks of a complete (merged) policy, in plain English.

Each check names the key path and, where a value came from elsewhere, its
source: ``groups.big.resources.cpu: guarantee 4 is above limit 1 (limit from
defaults)``.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

from hubplugins.policy.errors import ConfigIssue
from hubplugins.policy.model import ClusterPolicy
from hubplugins.policy.quantities import format_cpu, format_duration, format_memory, millicores

__all__ = ["cross_check"]

_FORMAT: dict[str, Callable[[Any], str]] = {
    "cpu": format_cpu,
    "memory": format_memory,
    "gpu": str,
}


def cross_check(
    flat: Mapping[str, Any],
    sources: Mapping[str, str],
    cluster: ClusterPolicy,
    where: str,
    *,
    only: str | None,
    broken: frozenset[str] = frozenset(),
) -> list[ConfigIssue]:
    """Problems in ``flat``; with ``only`` set, just those involving that source.

    Checks involving a key in ``broken`` (one already reported as invalid,
    whose value in ``flat`` is only a stand-in) are left out.
    """
    issues: list[ConfigIssue] = []

    def report(keys: tuple[str, ...], path: str, message: str) -> None:
        if broken.intersection(keys):
            return
        involved = [sources.get(k, "defaults") for k in keys]
        if only is not None and not any(only in s.split(", ") for s in involved):
            return
        if only is not None:
            elsewhere = sorted({k.rsplit(".", 1)[-1] for k in keys if only not in sources[k]})
            if elsewhere:
                message += f" ({', '.join(elsewhere)} from defaults)"
        issues.append(ConfigIssue(f"{where}.{path}" if path else where, message))

    def number(kind: str, value: Any) -> int:
        return millicores(value) if kind == "cpu" else int(value)

    for kind, low_name, high_name in (
        ("cpu", "guarantee", "limit"),
        ("cpu", "limit", "max"),
        ("memory", "guarantee", "limit"),
        ("memory", "limit", "max"),
        ("gpu", "default", "max"),
    ):
        low_key = f"resources.{kind}.{low_name}"
        high_key = f"resources.{kind}.{high_name}"
        low, high = flat[low_key], flat[high_key]
        if number(kind, low) > number(kind, high):
            show = _FORMAT[kind]
            report(
                (low_key, high_key),
                f"resources.{kind}",
                f"{low_name} {show(low)} is above {high_name} {show(high)}",
            )

    stop, delete = flat["idle.stop_after"], flat["idle.delete_after"]
    if stop is not None and delete is not None and delete <= stop:
        report(
            ("idle.stop_after", "idle.delete_after"),
            "idle",
            f"delete_after {format_duration(delete)} must be longer than "
            f"stop_after {format_duration(stop)}",
        )

    notice = flat.get("idle.delete_notice")
    if notice is not None and delete is not None and notice >= delete:
        report(
            ("idle.delete_notice", "idle.delete_after"),
            "idle",
            f"delete_notice {format_duration(notice)} must be shorter than "
            f"delete_after {format_duration(delete)}",
        )

    for kind, per_server in (("cpu", "limit"), ("memory", "limit"), ("gpu", "default")):
        quota_key, server_key = f"quota.{kind}", f"resources.{kind}.{per_server}"
        quota, server = flat[quota_key], flat[server_key]
        if quota is not None and number(kind, quota) < number(kind, server):
            show = _FORMAT[kind]
            report(
                (quota_key, server_key),
                quota_key,
                f"{show(quota)} is below {server_key} {show(server)}: "
                "no server could start with the default resources",
            )

    resource = flat["resources.gpu.resource"]
    pool = cluster.gpu_pool.get(resource)
    if pool is not None and "resources.gpu.max" not in broken and flat["resources.gpu.max"] > pool:
        report(
            ("resources.gpu.max",),
            "resources.gpu.max",
            f"{flat['resources.gpu.max']} is above cluster.gpu_pool {resource}: {pool}; "
            "no server could ever get that many",
        )
    for kind, most in flat["resources.gpu_kinds"].items():
        if kind == resource:
            report(
                ("resources.gpu_kinds", "resources.gpu.resource"),
                f"resources.gpu_kinds.{kind}",
                f"{kind} is the tier's resources.gpu.resource; set its max there",
            )
            continue
        pool = cluster.gpu_pool.get(kind)
        if pool is not None and most is not None and most > pool:
            report(
                ("resources.gpu_kinds",),
                f"resources.gpu_kinds.{kind}",
                f"{most} is above cluster.gpu_pool {kind}: {pool}; "
                "no server could ever get that many",
            )
    return issues
