"""Where a user stands: their servers against their policy. Pure: no I/O, no clock.

:func:`usage_report` turns a user's :class:`~hubplugins.policy.model.Policy`,
the facts of each of their servers (:class:`ServerFacts`, gathered by the
hub-side adapter :mod:`hubplugins.spawner.usage_api`) and the GPU pool's counts into
the JSON answer of ``GET /hub/api/hubplugins/usage`` and the home page's panel:
the tier and the groups it came from; each server's state, grant, last
activity, when the idle rule stops it and when retention deletes it (each with
the rule and the group that set it); named servers, running servers and the
quota used of allowed; the GPU pool. Times are aware UTC; ``now`` is passed in.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from hubplugins.policy.model import Policy
from hubplugins.policy.quantities import format_cpu, format_duration, format_memory

__all__ = [
    "LifecycleNote",
    "PoolState",
    "ServerFacts",
    "delete_at",
    "in_notice_window",
    "iso",
    "rule_source",
    "summary",
    "usage_report",
]


@dataclass(frozen=True)
class LifecycleNote:
    """What the lifecycle service last did to a server, and by which rule."""

    action: str  # "stop" or "delete"
    rule: str  # "idle.stop_after" or "idle.delete_after"
    group: str  # "defaults" or the group that set the rule
    limit: float  # seconds
    at: datetime
    server: str = ""

    def text(self) -> str:
        done = "stopped" if self.action == "stop" else "deleted"
        what = f"Server {self.server!r}" if self.server else "Your default server"
        return (
            f"{what} was {done} after {_human(self.limit)} idle, "
            f"the rule for your group {self.group} ({self.rule})"
        )


@dataclass(frozen=True)
class ServerFacts:
    """One server as the hub has it. ``cpu``/``memory``/``gpu``: what it holds (running)."""

    name: str
    running: bool
    pending: str | None = None
    started: datetime | None = None
    last_activity: datetime | None = None
    cpu: float = 0.0
    memory: int = 0
    gpu: int = 0
    kept: bool = False
    noticed_at: datetime | None = None  # the lifecycle service's notice, for this idle period
    notice_delete_at: datetime | None = None
    last_action: LifecycleNote | None = None


def iso(value: datetime | None) -> str | None:
    return value.isoformat().replace("+00:00", "Z") if value is not None else None


def _human(seconds: float) -> str:
    """``7200`` -> ``2 h``, ``604800`` -> ``7 days``."""
    text = format_duration(seconds)
    number, unit = text[:-1], text[-1]
    names = {"s": "s", "m": "min", "h": "h", "d": " days" if number != "1" else " day"}
    return f"{number}{names[unit]}" if unit == "d" else f"{number} {names[unit]}"


def _until(seconds: float) -> str:
    if seconds < 60:
        return "less than a minute"
    if seconds < 3600:
        return f"{int(seconds // 60)} min"
    if seconds < 2 * 86400:
        hours, rest = divmod(int(seconds), 3600)
        return f"{hours} h {rest // 60} min" if rest >= 60 and hours < 10 else f"{hours} h"
    return f"{int(seconds // 86400)} days"


def _day(value: datetime) -> str:
    return f"{value.day} {value:%b}"


def rule_source(policy: Policy, rule: str) -> str:
    """The group that gave ``rule`` (a dotted key) its value, or ``defaults``."""
    return policy.sources.get(rule, "defaults")


def _since(server: ServerFacts) -> datetime | None:
    return server.last_activity or server.started


def delete_at(policy: Policy, server: ServerFacts) -> datetime | None:
    """When retention deletes ``server`` (None: never, e.g. kept or the default server)."""
    since = _since(server)
    after = policy.idle.delete_after
    if not server.name or after is None or since is None or server.kept:
        return None
    return since + timedelta(seconds=after)


def in_notice_window(policy: Policy, server: ServerFacts, now: datetime) -> bool:
    """Is ``server`` due for its notice: retention deletes it within ``delete_notice``?"""
    when = delete_at(policy, server)
    notice = policy.idle.delete_notice
    if when is None or notice is None or server.pending:
        return False
    return when - timedelta(seconds=notice) <= now


def _state(server: ServerFacts) -> str:
    if server.pending == "spawn":
        return "starting"
    if server.pending == "stop":
        return "stopping"
    if server.pending:
        return str(server.pending)
    return "running" if server.running else "stopped"


def _schedule(policy: Policy, server: ServerFacts, now: datetime) -> dict[str, Any]:
    since = _since(server)
    stop: dict[str, Any] | None = None
    stop_after = policy.idle.stop_after
    if server.running and stop_after is not None and since is not None:
        at = since + timedelta(seconds=stop_after)
        left = max(0.0, (at - now).total_seconds())
        stop = {
            "rule": "idle.stop_after",
            "group": rule_source(policy, "idle.stop_after"),
            "after_seconds": stop_after,
            "at": iso(at),
            "text": f"Stops after {_human(stop_after)} idle (in {_until(left)})",
        }
    delete: dict[str, Any] | None = None
    when = delete_at(policy, server)
    delete_after = policy.idle.delete_after
    if when is not None and delete_after is not None:
        delete = {
            "rule": "idle.delete_after",
            "group": rule_source(policy, "idle.delete_after"),
            "after_seconds": delete_after,
            "at": iso(when),
            "text": f"Deleted after {_human(delete_after)} idle: on {_day(when)}",
        }
    notice: dict[str, Any] | None = None
    if server.noticed_at is not None and when is not None:
        shown = server.notice_delete_at or when
        notice = {
            "noticed_at": iso(server.noticed_at),
            "delete_at": iso(shown),
            "text": f"Will be deleted on {_day(shown)} unless you start it",
        }
    return {"stop": stop, "delete": delete, "notice": notice}


def _server(policy: Policy, server: ServerFacts, now: datetime) -> dict[str, Any]:
    note = server.last_action
    return {
        "name": server.name,
        "state": _state(server),
        "granted": (
            {"cpu": server.cpu, "memory": server.memory, "gpu": server.gpu}
            if server.running
            else None
        ),
        "last_activity": iso(server.last_activity),
        "started": iso(server.started),
        "kept": server.kept,
        **_schedule(policy, server, now),
        "last_action": _note(note) if note is not None and not server.running else None,
    }


def _note(note: LifecycleNote) -> dict[str, Any]:
    return {
        "action": note.action,
        "rule": note.rule,
        "group": note.group,
        "limit_seconds": note.limit,
        "at": iso(note.at),
        "server": note.server,
        "text": note.text(),
    }


def _of(used: float, allowed: float | None) -> dict[str, Any]:
    return {"used": used, "allowed": allowed}


@dataclass(frozen=True)
class PoolState:
    """One pooled GPU resource: ``in_use`` of ``size`` (None = no hub-wide cap)."""

    resource: str
    in_use: int
    size: int | None


def summary(report: Mapping[str, Any]) -> str:
    """``3 of 5 named servers; 2 of 4 CPUs in use; GPU pool 3 of 4``."""
    parts = []
    named = report["named_servers"]
    allowed = named["allowed"]
    parts.append(
        f"{named['used']} of {allowed} named servers"
        if allowed is not None
        else f"{named['used']} named servers (no limit)"
    )
    quota = report["quota"]
    cpu = quota["cpu"]
    cpu_used = format_cpu(cpu["used"])
    parts.append(
        f"{cpu_used} of {format_cpu(cpu['allowed'])} CPUs in use"
        if cpu["allowed"] is not None
        else f"{cpu_used} CPUs in use"
    )
    memory = quota["memory"]
    if memory["allowed"] is not None:
        used = format_memory(memory["used"]) if memory["used"] else "0"
        parts.append(f"{used} of {format_memory(memory['allowed'])} memory")
    gpu = quota["gpu"]
    if gpu["allowed"]:
        parts.append(f"{gpu['used']} of {gpu['allowed']} GPUs")
    for pool in report["gpu_pool"]:
        if pool["size"] is not None:
            parts.append(f"GPU pool {pool['in_use']} of {pool['size']}")
    return "; ".join(parts)


def usage_report(
    user: str,
    policy: Policy,
    servers: Sequence[ServerFacts],
    pool: Iterable[PoolState],
    now: datetime,
    deleted: Iterable[LifecycleNote] = (),
) -> dict[str, Any]:
    """The usage answer for ``user`` (JSON-ready)."""
    running = [s for s in servers if s.running]
    cpu = sum(s.cpu for s in running)
    memory = sum(s.memory for s in running)
    gpu = sum(s.gpu for s in running)
    res = policy.resources
    idle = policy.idle
    names = {s.name for s in servers}
    report: dict[str, Any] = {
        "user": user,
        "tier": policy.tier,
        "groups": list(policy.groups),
        "named_servers": _of(sum(1 for s in servers if s.name), policy.servers.max_named),
        "running_servers": _of(len(running), policy.servers.max_running),
        "quota": {
            "cpu": _of(round(cpu, 3), policy.quota.cpu),
            "memory": _of(memory, policy.quota.memory),
            "gpu": _of(gpu, policy.quota.gpu),
        },
        "per_server": {
            "cpu": {"default": res.cpu.limit, "max": res.cpu.max},
            "memory": {"default": res.memory.limit, "max": res.memory.max},
            "gpu": {"default": res.gpu.default, "max": res.gpu.max, "resource": res.gpu.resource},
        },
        "idle": {
            key: {"seconds" if key != "allow_keep" else "value": value, "group": source}
            for key, value, source in (
                ("stop_after", idle.stop_after, rule_source(policy, "idle.stop_after")),
                ("delete_after", idle.delete_after, rule_source(policy, "idle.delete_after")),
                ("delete_notice", idle.delete_notice, rule_source(policy, "idle.delete_notice")),
                ("allow_keep", idle.allow_keep, rule_source(policy, "idle.allow_keep")),
            )
        },
        "gpu_pool": [{"resource": p.resource, "in_use": p.in_use, "size": p.size} for p in pool],
        "servers": [
            _server(policy, s, now) for s in sorted(servers, key=lambda s: (s.name != "", s.name))
        ],
        "deleted": [_note(n) for n in deleted if n.server not in names],
    }
    report["summary"] = summary(report)
    return report
