"""The named-server rules: how many a user may have, and renaming one. Pure -> Decision.

Status codes: 400 for invalid input (a bad name or option), 403 for a limit,
cap or quota of the user's own policy, 409 for a conflict with the state of
the hub (a name already taken; see :mod:`hubplugins.policy.rules.gpu_pool` for the shared
GPU pool), 404 for a server that does not exist.

The resource rules for starting a server are in :mod:`hubplugins.policy.rules.resources`.
"""

from __future__ import annotations

from hubplugins.policy.decision import Decision, Usage
from hubplugins.policy.model import Policy
from hubplugins.policy.rules.server_names import check_server_name
from hubplugins.policy.text import echo

__all__ = [
    "check_new_named_server",
    "check_rename",
]


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
