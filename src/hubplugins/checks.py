"""The policy rules on names, counts, profiles and idleness: pure functions -> Decision.

Status codes: 400 for invalid input (a bad name or option), 403 for a limit,
cap or quota of the user's own policy, 409 for a conflict with the state of
the hub (a name already taken; see :mod:`hubplugins.gpu_pool` for the shared
GPU pool), 404 for a server that does not exist.

The resource rules for starting a server are in :mod:`hubplugins.start_checks`.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from typing import Any, Literal

from .decisions import Decision, Usage, echo
from .policy_model import Policy
from .server_names import check_server_name

__all__ = [
    "allowed_profiles",
    "check_new_named_server",
    "check_profile",
    "check_rename",
    "idle_action",
    "profile_slug",
]

IdleAction = Literal["stop", "delete"]


def _plural(n: int | float, word: str) -> str:
    return f"{n} {word}" if n == 1 else f"{n} {word}s"


def _server(name: str) -> str:
    return echo(name) if name else "your default server"


def check_new_named_server(policy: Policy, usage: Usage, name: str) -> Decision:
    """May the user create the named server ``name``? Existing names always may."""
    held = 0
    for server in usage.servers:
        if server.name == name:
            return Decision.allow("servers.max_named", existing=True)
        if server.name:
            held += 1
    decision = check_server_name(policy, name)
    if not decision.allowed:
        return decision
    limit = policy.servers.max_named
    if limit is None or held < limit:
        return Decision.allow("servers.max_named", limit=limit, usage=held)
    if limit == 0:
        message = (
            f"Named servers are not available for your groups ({policy.tier}): "
            f"the limit is 0. Use your default server instead of creating {echo(name)}."
        )
    else:
        message = (
            f"Server limit reached: you have {held} of {_plural(limit, 'named server')} "
            f"allowed for your groups ({policy.tier}). Delete one to create {echo(name)}."
        )
    return Decision.refuse("servers.max_named", message, limit=limit, usage=held)


def check_rename(policy: Policy, usage: Usage, old: str, new: str) -> Decision:
    """May server ``old`` be renamed ``new``? Renaming the default server creates a named one."""
    if old == new:
        return Decision.allow("servers.rename")
    if old not in usage.names:
        return Decision.refuse(
            "servers.rename", f"You have no server named {echo(old)}.", status=404
        )
    if new in usage.names:
        return Decision.refuse(
            "servers.rename",
            f"You already have a server named {echo(new)}: pick another name or delete it first.",
            status=409,
        )
    if old == "":
        return check_new_named_server(policy, usage, new)
    return check_server_name(policy, new)


def check_profile(policy: Policy, slug: str) -> Decision:
    """May the user pick the profile ``slug``?"""
    if policy.allows_profile(slug):
        return Decision.allow("profiles")
    allowed = ", ".join(policy.profiles) if policy.profiles else "none"
    return Decision.refuse(
        "profiles",
        f"Profile {echo(slug)} is not available for your groups ({policy.tier}). "
        f"Pick one of: {allowed}.",
        limit=list(policy.profiles),
        usage=slug,
    )


def profile_slug(entry: Mapping[str, Any]) -> str:
    """The slug of a KubeSpawner ``profile_list`` entry (derived from its display name if unset)."""
    slug = entry.get("slug")
    if slug:
        return str(slug)
    return re.sub(r"[^a-z0-9]+", "-", str(entry.get("display_name", "")).lower()).strip("-")


def allowed_profiles(
    policy: Policy, profile_list: Iterable[Mapping[str, Any]]
) -> list[Mapping[str, Any]]:
    """The entries of a KubeSpawner ``profile_list`` this user may pick, in order."""
    if "*" in policy.profiles:
        return list(profile_list)
    return [entry for entry in profile_list if profile_slug(entry) in policy.profiles]


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
