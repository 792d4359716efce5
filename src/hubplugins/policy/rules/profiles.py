"""Which KubeSpawner profiles a user may pick, and strict checks of the choice.

Pure functions over KubeSpawner's *initialized* ``profile_list`` (every
profile has a ``slug``, one is the default; see
``KubeSpawner._get_initialized_profile_list``). KubeSpawner's own validation
matches an ``unlisted_choice`` with ``re.match`` (anchored at the start only)
and lets an unknown choice fail later with a ``KeyError``; here a choice must
exist and free text must match the whole ``validation_regex``.
"""

from __future__ import annotations

import copy
import re
import unicodedata
from collections.abc import Iterable, Mapping
from typing import Any, NoReturn

from slugify import slugify  # what KubeSpawner derives a missing slug with

from hubplugins.policy.decision import Decision
from hubplugins.policy.errors import ConfigIssue, PolicyRefusal
from hubplugins.policy.model import Policy
from hubplugins.policy.text import echo, kind_of

# user_options keys the policy reads besides the profile's own options
RESOURCE_KEYS = frozenset({"cpu", "memory", "gpu", "resources"})
UNLISTED_SUFFIX = "--unlisted-choice"
MAX_FREE_TEXT = 256
SLUG_RULE = "profile_list.slug"


def allowed_profiles(
    policy: Policy, profile_list: Iterable[Mapping[str, Any]]
) -> list[Mapping[str, Any]]:
    """The entries of a KubeSpawner ``profile_list`` this user may pick, in order."""
    if "*" in policy.profiles:
        return list(profile_list)
    return [entry for entry in profile_list if profile_slug(entry) in policy.profiles]


def profile_slug(profile: Mapping[str, Any]) -> str:
    """A profile's slug as KubeSpawner reads it: ``slug``, else made from ``display_name``."""
    if "slug" in profile:
        return str(profile["slug"])
    return str(slugify(str(profile.get("display_name", ""))))


def profile_slug_issues(
    profile_list: Any, path: str = "KubeSpawner.profile_list"
) -> list[ConfigIssue]:
    """Problems with the slugs of a ``profile_list`` (a list, or a dict KubeSpawner sorts by key).

    Two profiles whose slugs (given or made from ``display_name``) are the
    same cannot be told apart: a start would be checked against one and
    KubeSpawner would apply the other. Each such slug is one issue naming the
    profiles that share it.
    """
    if isinstance(profile_list, Mapping):
        entries = [(f"{path}[{key!r}]", profile_list[key]) for key in sorted(profile_list)]
    elif isinstance(profile_list, (list, tuple)) or profile_list is None:
        entries = [(f"{path}[{i}]", p) for i, p in enumerate(profile_list or [])]
    else:
        return [ConfigIssue(path, "must be a list of profiles")]
    issues: list[ConfigIssue] = []
    holders: dict[str, list[str]] = {}
    for where, profile in entries:
        if not isinstance(profile, Mapping) or not ({"slug", "display_name"} & set(profile)):
            issues.append(ConfigIssue(where, "a profile needs a slug or a display_name"))
            continue
        name = echo(str(profile.get("display_name", "")))
        holders.setdefault(profile_slug(profile), []).append(f"{where} ({name})")
    for slug, shared in holders.items():
        if len(shared) > 1:
            issues.append(
                ConfigIssue(
                    path,
                    f"profiles {' and '.join(shared)} share the slug {echo(slug)}; "
                    "give each profile a slug of its own",
                )
            )
    return issues


def check_profile_slugs(profiles: list[dict[str, Any]]) -> Decision:
    """Refuse (409) every start while the profile list has a slug twice: fail closed.

    The message says what is wrong for the user and the admin alike; the
    spawner logs it at ERROR, as it is the hub's configuration, not the
    user's request, that must change.
    """
    issues = profile_slug_issues(profiles, path="profile_list")
    if not issues:
        return Decision.allow(SLUG_RULE)
    return Decision.refuse(
        SLUG_RULE,
        "The hub's server profiles are misconfigured, so no server can start now: "
        + "; ".join(issue.message for issue in issues)
        + ". Ask your hub's administrators to fix the profile list.",
        status=409,
        usage=len(issues),
    )


def allowed_profile_list(policy: Policy, profiles: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """The profiles ``policy`` allows, in order, with exactly one default."""
    allowed = [copy.deepcopy(dict(p)) for p in allowed_profiles(policy, profiles)]
    if allowed and not any(p.get("default") for p in allowed):
        allowed[0]["default"] = True
    return allowed


def _refuse(message: str, *, status: int = 400, rule: str = "user_options") -> NoReturn:
    raise PolicyRefusal(Decision.refuse(rule, message, status=status))


def choose_profile(
    policy: Policy, options: Mapping[str, Any], profiles: list[dict[str, Any]]
) -> Decision:
    """The profile ``options`` pick, and its options checked.

    Allowed with ``details["profile"]``, the chosen entry of ``profiles``; else
    400 for malformed input, 403 for a profile the user's groups may not use,
    409 while two profiles share a slug.
    """
    try:
        return Decision.allow("profiles", profile=_choose(policy, options, profiles))
    except PolicyRefusal as refusal:
        return refusal.decision


def _choose(
    policy: Policy, options: Mapping[str, Any], profiles: list[dict[str, Any]]
) -> dict[str, Any]:
    check_profile_slugs(profiles).enforce()
    allowed = allowed_profile_list(policy, profiles)
    names = ", ".join(p["slug"] for p in allowed) or "none"
    slug = options.get("profile")
    if "profile" in options and (not isinstance(slug, str) or not slug):
        _refuse(f"profile must be a profile's slug (a string), not {kind_of(slug)}.")
    if not slug:
        if not allowed:
            Decision.refuse(
                "profiles",
                f"No server profile is available to your groups ({policy.tier}). "
                "Ask your hub's administrators for access.",
                limit=list(policy.profiles),
            ).enforce()
        profile = next(p for p in allowed if p.get("default"))
    else:
        known = {p["slug"]: p for p in profiles}
        if slug not in known:
            _refuse(f"Unknown profile {echo(slug)}. Profiles you can pick: {names}.")
        if not policy.allows_profile(slug):
            Decision.refuse(
                "profiles",
                f"Profile {echo(slug)} is not available to your groups ({policy.tier}). "
                f"Profiles you can pick: {names}.",
                limit=list(policy.profiles),
                usage=slug,
            ).enforce()
        profile = known[slug]

    expected = {"profile", *RESOURCE_KEYS}
    for option_name, option in (profile.get("profile_options") or {}).items():
        expected.update({option_name, option_name + UNLISTED_SUFFIX})
        _check_option(option_name, option, options)
    unknown = sorted(str(k) for k in options if k not in expected)
    if unknown:
        shown = ", ".join(echo(k, 30) for k in unknown[:5])
        _refuse(
            f"Unknown option{'s' if len(unknown) > 1 else ''} {shown} for profile "
            f"{echo(profile['slug'])}. Known options: {', '.join(sorted(expected))}."
        )
    return profile


def usable_saved_options(
    policy: Policy, options: Any, profiles: list[dict[str, Any]]
) -> Mapping[str, Any]:
    """The saved ``user_options`` the spawn form may pre-select, or ``{}``.

    JupyterHub saves the options of every start, refused ones included, and
    KubeSpawner's form only survives a few kinds of bad value; options that
    would be refused now are not pre-selected.
    """
    if not isinstance(options, Mapping) or not options:
        return {}
    return options if choose_profile(policy, options, profiles).allowed else {}


def no_profile_option(options: Mapping[str, Any]) -> Decision:
    """Refuse a ``profile`` option where the hub has no ``profile_list`` (400)."""
    if "profile" not in options:
        return Decision.allow("user_options")
    return Decision.refuse(
        "user_options",
        f"This hub has no server profiles to pick from; leave out the profile option "
        f"(got {kind_of(options['profile'])}).",
        status=400,
    )


def _check_option(name: str, option: Mapping[str, Any], options: Mapping[str, Any]) -> None:
    choice = options.get(name)
    free = options.get(name + UNLISTED_SUFFIX)
    choices = option.get("choices") or {}
    if name in options:
        if not isinstance(choice, str) or choice not in choices:
            listed = ", ".join(choices) or "none"
            _refuse(f"Option {echo(name)}: {kind_of(choice)} is not a choice. Choices: {listed}.")
    if name + UNLISTED_SUFFIX not in options:
        if name not in options and not choices:
            _refuse(f"Option {echo(name)} has no default: give {name + UNLISTED_SUFFIX}.")
        return
    unlisted = option.get("unlisted_choice") or {}
    if not unlisted.get("enabled"):
        _refuse(f"Option {echo(name)} takes no free-text value.")
    if not isinstance(free, str) or not free:
        _refuse(f"Option {echo(name)}: the free-text value must be a non-empty string.")
    if len(free) > MAX_FREE_TEXT:
        _refuse(
            f"Option {echo(name)}: the value is {len(free)} characters; at most {MAX_FREE_TEXT}."
        )
    if any(unicodedata.category(ch)[0] in "CZ" and ch != " " for ch in free) or " " in free:
        _refuse(f"Option {echo(name)}: {echo(free)} contains whitespace or control characters.")
    pattern = unlisted.get("validation_regex")
    if pattern and re.fullmatch(pattern, free) is None:
        hint = unlisted.get("validation_regex_error") or f"it must match {pattern}"
        _refuse(f"Option {echo(name)}: {echo(free)} is not allowed: {hint}.")
