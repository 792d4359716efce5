"""A start, as the spawner asks it: what was chosen, then what is granted.

:func:`choose` reads ``user_options`` against the hub's profiles (the object,
the profile and its options, the resources asked for) and answers a
:class:`Choice`; :func:`grant_start` takes what the chosen profile set on the
spawner and the user's servers, and answers the
:class:`~hubplugins.policy.grant.Grant` (:func:`~hubplugins.policy.rules.resources.check_start`).
Each returns a :class:`~hubplugins.policy.decision.Decision`; the spawner
enforces it. Between the two, KubeSpawner applies the chosen profile.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from hubplugins.policy.decision import Decision, Usage
from hubplugins.policy.model import Policy
from hubplugins.policy.rules.profiles import (
    UNLISTED_SUFFIX,
    allowed_profile_list,
    choose_profile,
    no_profile_option,
)
from hubplugins.policy.rules.resources import check_start
from hubplugins.policy.rules.resources_text import Request, options_object, read_request
from hubplugins.policy.text import echo

__all__ = ["Choice", "choose", "grant_start"]


@dataclass(frozen=True)
class Choice:
    """What a start asks for."""

    options: Mapping[str, Any]
    """``user_options``, an object."""
    request: Request
    """The resources asked for."""
    profile: Mapping[str, Any] | None = None
    """The chosen entry of the hub's profiles (None: the hub has none)."""
    allowed: tuple[Mapping[str, Any], ...] = ()
    """The profiles the user's groups may pick, in order, one of them the default."""


def choose(policy: Policy, user_options: Any, profiles: list[dict[str, Any]]) -> Decision:
    """Ask one: ``user_options`` read against ``profiles`` (KubeSpawner's, initialized).

    Allowed with ``details["choice"]``, a :class:`Choice`; else the 400, 403 or
    409 of the first rule that refuses (see :mod:`~hubplugins.policy.rules.profiles`
    and :mod:`~hubplugins.policy.rules.resources_text`).
    """
    read = options_object(user_options)
    if not read.allowed:
        return read
    options = dict(read.details["options"])
    profile: Mapping[str, Any] | None = None
    allowed: list[dict[str, Any]] = []
    option_names: set[str] = set()
    if profiles:
        chosen = choose_profile(policy, options, profiles)
        if not chosen.allowed:
            return chosen
        profile = chosen.details["profile"]
        for name in profile.get("profile_options") or {}:
            option_names.update({name, name + UNLISTED_SUFFIX})
        allowed = allowed_profile_list(policy, profiles)
    else:
        none = no_profile_option(options)
        if not none.allowed:
            return none
    asked = read_request(options, extra_keys=option_names)
    if not asked.allowed:
        return asked
    choice = Choice(options, asked.details["request"], profile, tuple(allowed))
    return Decision.allow("request", choice=choice)


def grant_start(
    policy: Policy,
    usage: Usage,
    choice: Choice,
    set_by_profile: Mapping[str, Any],
    *,
    server_name: str | None = None,
) -> Decision:
    """Ask two: what the start is granted, ``details["grant"]``.

    ``set_by_profile`` holds the resource fields of a :class:`Request` the
    chosen profile's ``kubespawner_override`` changed. They are the base the
    user's request builds on, capped like a request: a profile that sets more
    than the user's groups allow is refused with a message naming it.
    """
    base = Request(**set_by_profile) if set_by_profile else None
    if base is not None:
        capped = check_start(policy, Usage(), base, server_name=server_name)
        if not capped.allowed:
            slug = choice.options.get("profile") or "default"
            return Decision.refuse(
                capped.rule,
                f"Profile {echo(str(slug))} asks for more than your groups allow: {capped.message}",
                status=capped.status,
                limit=capped.limit,
                usage=capped.usage,
            )
    return check_start(policy, usage, choice.request, base, server_name=server_name)
