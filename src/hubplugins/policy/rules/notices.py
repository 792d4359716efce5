"""Which servers are due for a notice before retention deletes them. Pure: no I/O, no clock.

A tier's ``idle.delete_notice`` (e.g. ``1d``) asks the lifecycle service to
mark a named server that retention (``idle.delete_after``) will delete within
that time. :func:`plan_notices` finds them in one user model of the hub's user
list at time ``now``; the hub endpoint (:mod:`hubplugins.lifecycle.notice_endpoint`)
records a notice once per idle period (its key is the server's
``last_activity``, which a start changes) and never for a kept server, so a
sweep may ask again without a second notice.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from hubplugins.policy.decision import Decision
from hubplugins.policy.rules.as_planned import ServerNow, _time, refuse
from hubplugins.policy.rules.idle import idle_action, parse_time
from hubplugins.policy.table import PolicyTable

__all__ = ["Notice", "notice_allowed", "plan_notices", "read_notice"]


@dataclass(frozen=True)
class Notice:
    """Mark one server: retention deletes it at ``delete_at`` unless it is used or kept."""

    user: str
    server: str
    delete_at: datetime
    last_activity: str | None  # as listed: the hub records the notice only if unchanged
    idle_seconds: float
    rule: str
    group: str
    notice_seconds: float

    def fields(self) -> dict[str, Any]:
        """The event's JSON body (log line and webhook)."""
        return {
            "user": self.user,
            "server": self.server,
            "delete_at": self.delete_at.isoformat().replace("+00:00", "Z"),
            "last_activity": self.last_activity,
            "idle_seconds": round(self.idle_seconds, 1),
            "rule": self.rule,
            "group": self.group,
            "notice_seconds": self.notice_seconds,
        }


def plan_notices(table: PolicyTable, user: Mapping[str, Any], now: datetime) -> list[Notice]:
    """The notices due for one user model at ``now`` (aware UTC)."""
    servers: Mapping[str, Mapping[str, Any]] = user.get("servers") or {}
    policy = table.resolve(user.get("groups") or [])
    after, notice = policy.idle.delete_after, policy.idle.delete_notice
    if after is None or notice is None:
        return []
    due: list[Notice] = []
    for name, server in servers.items():
        if not name or server.get("pending"):
            continue
        since = parse_time(server.get("last_activity")) or parse_time(server.get("started"))
        if since is None:
            continue
        idle = max(0.0, (now - since).total_seconds())
        running = not server.get("stopped", False)
        if idle_action(policy, True, idle, running) == "delete":
            continue  # deleted in this sweep: the delete names its rule
        if idle < after - notice:
            continue
        due.append(
            Notice(
                user=str(user["name"]),
                server=name,
                delete_at=since + timedelta(seconds=after),
                last_activity=server.get("last_activity"),
                idle_seconds=idle,
                rule="idle.delete_after",
                group=policy.sources.get("idle.delete_after", "defaults"),
                notice_seconds=notice,
            )
        )
    return due


def read_notice(body: Any) -> tuple[datetime | None, str] | Decision:
    """``{"last_activity": ..., "delete_at": ...}`` (decoded JSON) of a notice, or a 400."""
    example = '{"last_activity": "2025-01-31T12:00:00.000000Z", "delete_at": "2025-02-07T12:00Z"}'
    if not isinstance(body, Mapping) or set(body) != {"last_activity", "delete_at"}:
        return refuse("lifecycle.request", f"The body must be a JSON object like {example}.")
    try:
        seen = _time(body["last_activity"])
        delete_at = _time(body["delete_at"])
    except ValueError:
        delete_at = None
    if delete_at is None:
        return refuse(
            "lifecycle.request", f"last_activity and delete_at must be ISO 8601 times: {example}."
        )
    return seen, delete_at.isoformat().replace("+00:00", "Z")


def notice_allowed(seen: datetime | None, name: str, now: ServerNow, kept: bool) -> Decision:
    """Record a notice only for a server idle as the plan saw it, and never for a kept one."""
    if kept:
        return refuse("lifecycle.kept", f"No notice: {name} is kept by its owner.", usage="kept")
    if now.pending:
        return refuse("lifecycle.busy", f"No notice: {name} is pending {now.pending}.")
    if now.last_activity != seen:
        return refuse(
            "lifecycle.activity", f"No notice: {name} has had activity since it was listed."
        )
    return Decision.allow("idle.delete_notice")
