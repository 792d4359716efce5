"""What a new policy would do to the hub's current users and servers: pure, no clock.

``hubplugins plan NEW_POLICY`` reads the hub's users (``GET /hub/api/users``
with stopped servers: names, groups, each server's activity, profile and the
resources PolicySpawner granted it, kept in the server's state) and hands
them here with the time ``now``. :func:`plan_effects` lists, per user and
server, what deploying the new table would change:

- ``delete`` / ``stop``: the lifecycle service's next pass would delete or
  stop the server (the same rule it applies, :func:`hubplugins.policy.rules.idle.plan_user`);
- ``cap``: a running server holds more CPU, memory or GPUs than the new
  per-server ``max`` (it keeps running; its next start with them is refused);
- ``quota`` / ``max_running``: the user's running servers together are above
  the new quota or count (nothing is stopped; new starts are refused);
- ``max_named``: the user holds more named servers than the new limit
  (nothing is deleted; new ones are refused);
- ``profile``: a server uses a profile the new policy no longer lets the user
  pick, or (with the current table) the user loses profiles they could pick.

Given the current table too, only effects that are new are listed.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from hubplugins.policy.grant import STATE_KEY, Grant
from hubplugins.policy.model import Policy
from hubplugins.policy.quantities import format_cpu, format_duration, format_memory, millicores
from hubplugins.policy.rules.idle import plan_user
from hubplugins.policy.table import PolicyTable
from hubplugins.policy.text import echo

__all__ = ["Effect", "grant_of", "plan_effects", "plan_report"]


@dataclass(frozen=True)
class Effect:
    """One thing a policy change would do to one user or server."""

    user: str
    server: str | None
    """The server's name ("" the default server), or None for the user as a whole."""
    kind: str
    """``delete``, ``stop``, ``cap``, ``quota``, ``max_running``, ``max_named`` or ``profile``."""
    rule: str
    """The policy key behind it, e.g. ``resources.memory.max``."""
    message: str

    @property
    def key(self) -> tuple[str, str | None, str, str]:
        return (self.user, self.server, self.kind, self.rule)

    def as_dict(self) -> dict[str, Any]:
        return {
            "user": self.user,
            "server": self.server,
            "kind": self.kind,
            "rule": self.rule,
            "message": self.message,
        }


def grant_of(server: Mapping[str, Any]) -> Grant | None:
    """The resources PolicySpawner granted a server, from its state (None if not shown)."""
    state = server.get("state")
    saved = state.get(STATE_KEY) if isinstance(state, Mapping) else None
    return Grant.saved(saved.get("grant")) if isinstance(saved, Mapping) else None


def _name(server: str) -> str:
    return f"server {echo(server)}" if server else "the default server"


def _held(grant: Grant) -> tuple[int, int, int]:
    """(millicores, bytes, GPUs) a grant holds: the limits, as quotas count them."""
    return (
        millicores(grant.cpu_limit),
        grant.mem_limit,
        grant.gpu,
    )


def _cpu(millicores: int) -> str:
    return f"{format_cpu(millicores / 1000)} CPU"


def _memory(num_bytes: int) -> str:
    return f"{format_memory(num_bytes)} memory"


def _gpu(count: int) -> str:
    return f"{count} GPU" if count == 1 else f"{count} GPUs"


_SHOW: tuple[tuple[str, Callable[[int], str]], ...] = (
    ("cpu", _cpu),
    ("memory", _memory),
    ("gpu", _gpu),
)


def _caps(policy: Policy) -> tuple[int, int, int]:
    r = policy.resources
    return (millicores(r.cpu.max), r.memory.max, r.gpu.max)


def _quotas(policy: Policy) -> tuple[int | None, int | None, int | None]:
    q = policy.quota
    return (None if q.cpu is None else millicores(q.cpu), q.memory, q.gpu)


def _user_effects(
    table: PolicyTable, user: Mapping[str, Any], now: datetime, profiles: Iterable[str]
) -> list[Effect]:
    name = str(user["name"])
    policy = table.resolve(user.get("groups") or [])
    tier = f"tier {policy.tier}"
    servers: Mapping[str, Mapping[str, Any]] = user.get("servers") or {}
    effects: list[Effect] = []
    for action in plan_user(table, user, now).actions:
        limit = format_duration(action.limit)
        what = "deleted" if action.action == "delete" else "stopped"
        idle = format_duration(round(action.idle_seconds))
        text = f"{_name(action.server)} would be {what}: idle {idle}, {action.rule} {limit}"
        text += f" for {tier}"
        if action.action == "delete" and policy.storage.delete_with_server:
            if policy.storage.scope == "server":
                text += ", with its volume (storage.delete_with_server)"
        effects.append(Effect(name, action.server, action.action, action.rule, text))
    running = {s: m for s, m in servers.items() if not m.get("stopped", False)}
    totals = [0, 0, 0]
    for server, model in running.items():
        grant = grant_of(model)
        if grant is None:
            continue
        held = _held(grant)
        totals = [t + h for t, h in zip(totals, held, strict=True)]
        for (kind, show), amount, cap in zip(_SHOW, held, _caps(policy), strict=True):
            if amount > cap:
                rule = f"resources.{kind}.max"
                effects.append(
                    Effect(
                        name,
                        server,
                        "cap",
                        rule,
                        f"{_name(server)} runs with {show(amount)}, above the new {rule} "
                        f"{show(cap)} for {tier}: it keeps running, and a start with as much "
                        "is refused",
                    )
                )
    for (kind, show), total, quota in zip(_SHOW, totals, _quotas(policy), strict=True):
        if quota is not None and total > quota:
            effects.append(
                Effect(
                    name,
                    None,
                    "quota",
                    f"quota.{kind}",
                    f"running servers hold {show(total)}, above the new quota.{kind} "
                    f"{show(quota)} for {tier}: no server is stopped, new starts are refused",
                )
            )
    max_running = policy.servers.max_running
    if max_running is not None and len(running) > max_running:
        effects.append(
            Effect(
                name,
                None,
                "max_running",
                "servers.max_running",
                f"runs {len(running)} servers, above the new servers.max_running {max_running} "
                f"for {tier}: no server is stopped, new starts are refused",
            )
        )
    named = [s for s in servers if s]
    max_named = policy.servers.max_named
    if max_named is not None and len(named) > max_named:
        effects.append(
            Effect(
                name,
                None,
                "max_named",
                "servers.max_named",
                f"holds {len(named)} named servers, above the new servers.max_named "
                f"{max_named} for {tier}: none is deleted, new ones are refused",
            )
        )
    for server, model in servers.items():
        options = model.get("user_options")
        slug = options.get("profile") if isinstance(options, Mapping) else None
        if isinstance(slug, str) and slug and not policy.allows_profile(slug):
            effects.append(
                Effect(
                    name,
                    server,
                    "profile",
                    "profiles",
                    f"{_name(server)} uses profile {echo(slug)}, which {tier} may no longer "
                    "pick: its next start with it is refused",
                )
            )
    lost = sorted(p for p in profiles if not policy.allows_profile(p))
    if lost:
        allowed = ", ".join(policy.profiles) or "none"
        if "*" in lost:
            text = f"may no longer pick every profile, only: {allowed}"
        else:
            shown = ", ".join(echo(p) for p in lost)
            text = f"loses profile{'s' if len(lost) > 1 else ''} {shown} (may pick: {allowed})"
        effects.append(Effect(name, None, "profile", "profiles", text))
    return effects


def plan_effects(
    table: PolicyTable,
    users: Iterable[Mapping[str, Any]],
    now: datetime,
    *,
    current: PolicyTable | None = None,
) -> list[Effect]:
    """What deploying ``table`` would do to ``users`` (hub user models) at ``now`` (aware UTC).

    With ``current`` (the table the hub runs now), only effects the current
    table does not already have are listed, and users who could pick a
    profile under it and no longer can are named.
    """
    effects: list[Effect] = []
    for user in users:
        before: set[tuple[str, str | None, str, str]] = set()
        had: tuple[str, ...] = ()
        if current is not None:
            had = current.resolve(user.get("groups") or []).profiles
            before = {e.key for e in _user_effects(current, user, now, ())}
        effects.extend(e for e in _user_effects(table, user, now, had) if e.key not in before)
    return effects


def plan_report(
    table: PolicyTable,
    users: list[dict[str, Any]],
    now: datetime,
    current: PolicyTable | None = None,
) -> dict[str, Any]:
    """The result of ``hubplugins plan`` as plain data: the shape ``--json`` prints."""
    effects = plan_effects(table, users, now, current=current)
    running = [
        (u["name"], s, m)
        for u in users
        for s, m in (u.get("servers") or {}).items()
        if not m.get("stopped", False)
    ]
    unknown = sum(grant_of(m) is None for _, _, m in running)
    notes: list[str] = []
    if unknown:
        notes.append(
            f"the resources of {unknown} running server{'s' if unknown != 1 else ''} are not "
            "shown to this token (they need admin:server_state): caps and quotas are not "
            "checked for them"
        )
    return {
        "format": 1,
        "users": len(users),
        "servers": sum(len(u.get("servers") or {}) for u in users),
        "running": len(running),
        "compared_with_current": current is not None,
        "effects": [effect.as_dict() for effect in effects],
        "notes": notes,
    }
