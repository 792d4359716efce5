"""What one sweep does to one user's servers: pure planning, no I/O, no clock.

The hub's user model (as ``GET /hub/api/users`` returns it, with
``read:servers`` and ``read:users:groups``) and the time ``now`` go in; a list
of :class:`Action` (stop or delete a server) and :class:`Skip` (left alone, and
why) come out. The rule itself is :func:`hubplugins.policy.rules.named_servers.idle_action`, by the
policy of the server's owner.

Idle time of a server is ``now`` minus the server's own ``last_activity`` in
the hub's database (``started`` when it has none): per server, so activity on
one server never keeps another alive, and neither a restart of this service
nor of the hub resets it. JupyterHub records a stop as activity, so a stopped
named server is deleted ``delete_after`` after it stopped (or after its last
activity, when it stopped on its own).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from typing import Any, Literal

from hubplugins.policy.model import Policy
from hubplugins.policy.table import PolicyTable

__all__ = [
    "Action",
    "IdleAction",
    "Skip",
    "UserPlan",
    "idle_action",
    "needs_stopped_servers",
    "parse_time",
    "plan_user",
]

RULES = {"stop": "idle.stop_after", "delete": "idle.delete_after"}


IdleAction = Literal["stop", "delete"]


def idle_action(
    policy: Policy, server_is_named: bool, idle_seconds: float, running: bool
) -> IdleAction | None:
    """What the lifecycle service does with a server idle this long.

    ``"delete"``: a named server (running or not) idle at least ``delete_after``.
    ``"stop"``: a running server idle at least ``stop_after``. The default
    server is never deleted. ``None``: leave it.
    """
    delete_after = policy.idle.delete_after
    if server_is_named and delete_after is not None and idle_seconds >= delete_after:
        return "delete"
    stop_after = policy.idle.stop_after
    if running and stop_after is not None and idle_seconds >= stop_after:
        return "stop"
    return None


@dataclass(frozen=True)
class Action:
    """Stop or delete one server."""

    user: str
    server: str
    action: Literal["stop", "delete"]
    idle_seconds: float
    rule: str
    limit: float
    running: bool
    groups: tuple[str, ...] = ()
    last_activity: str | None = None  # as listed: the hub acts only if it is unchanged
    rule_group: str = "defaults"  # the group that set the rule (or "defaults")

    def log_fields(self) -> dict[str, Any]:
        return {
            "user": self.user,
            "server": self.server,
            "action": self.action,
            "idle_seconds": round(self.idle_seconds, 1),
            "rule": self.rule,
            "limit": self.limit,
            "running": self.running,
            "policy_groups": list(self.groups),
            "rule_group": self.rule_group,
        }


@dataclass(frozen=True)
class Skip:
    """A server left alone for a reason other than "not idle long enough"."""

    user: str
    server: str
    reason: Literal["pending", "no_activity"]


@dataclass(frozen=True)
class UserPlan:
    actions: tuple[Action, ...]
    skipped: tuple[Skip, ...]


def parse_time(value: str | None) -> datetime | None:
    """A JupyterHub ISO-8601 timestamp (``...Z``) as an aware UTC datetime."""
    if not value:
        return None
    parsed = datetime.fromisoformat(value)
    if parsed.tzinfo is None:
        parsed = parsed.replace(tzinfo=UTC)
    return parsed


def needs_stopped_servers(table: PolicyTable) -> bool:
    """Can any user's policy delete a server? Then stopped servers must be listed too."""
    groups: list[Iterable[str]] = [[], *([g] for g in table.group_names)]
    return any(table.resolve(g).idle.delete_after is not None for g in groups)


def plan_user(table: PolicyTable, user: Mapping[str, Any], now: datetime) -> UserPlan:
    """The actions for one user model at time ``now`` (aware UTC)."""
    servers: Mapping[str, Mapping[str, Any]] = user.get("servers") or {}
    if not servers:
        return UserPlan((), ())
    name = str(user["name"])
    groups = user.get("groups") or []
    policy = table.resolve(groups)
    actions: list[Action] = []
    skipped: list[Skip] = []
    for server_name, server in servers.items():
        if server.get("pending"):
            skipped.append(Skip(name, server_name, "pending"))
            continue
        since = parse_time(server.get("last_activity")) or parse_time(server.get("started"))
        if since is None:
            skipped.append(Skip(name, server_name, "no_activity"))
            continue
        idle = max(0.0, (now - since).total_seconds())
        running = not server.get("stopped", False)
        what = idle_action(policy, bool(server_name), idle, running)
        if what is None:
            continue
        limit = policy.idle.delete_after if what == "delete" else policy.idle.stop_after
        assert limit is not None
        seen = server.get("last_activity")
        action = Action(name, server_name, what, idle, RULES[what], limit, running, policy.groups)
        source = policy.sources.get(RULES[what], "defaults")
        actions.append(replace(action, last_activity=seen, rule_group=source))
    return UserPlan(tuple(actions), tuple(skipped))
