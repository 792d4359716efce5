"""Every profile's resource overrides against each tier that may pick it: pure, -> problems.

KubeSpawner reads a profile's ``mem_limit: 8G`` with JupyterHub's
``ByteSpecification``, as 8·2³⁰ bytes; the policy reads ``max: 8G`` as
Kubernetes does, 8·10⁹ bytes. Such a profile is refused at every start under
that cap. :func:`profile_override_issues` finds each such profile (and any
other whose ``kubespawner_override`` asks for more than a tier allows) before
users do, states both readings and says what to write instead.

A value KubeSpawner cannot read at all (``8Gi``, ``500m`` as a CPU limit) is
an ``error``; a profile a tier may pick but never start is a ``warning``: the
start is refused with a message naming the profile, and nobody gets more
than the policy grants.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from decimal import Decimal
from typing import Any

from hubplugins.policy.decision import Usage
from hubplugins.policy.errors import ConfigIssue, QuantityError
from hubplugins.policy.model import Policy
from hubplugins.policy.quantities import (
    KUBESPAWNER_UNITS,
    format_cpu,
    format_memory,
    kubespawner_bytes,
)
from hubplugins.policy.rules.profiles import profile_slug
from hubplugins.policy.rules.resources import check_start
from hubplugins.policy.rules.resources_text import Request
from hubplugins.policy.table import PolicyTable
from hubplugins.policy.text import echo

__all__ = ["bytes_text", "profile_override_issues", "unknown_profile_issues"]

_MEMORY = {"mem_guarantee": "memory_guarantee", "mem_limit": "memory_limit"}
_CPU = {"cpu_guarantee": "cpu_guarantee", "cpu_limit": "cpu_limit"}
_SUPERSCRIPT = str.maketrans("0123456789", "⁰¹²³⁴⁵⁶⁷⁸⁹")


def _power(exponent: int) -> str:
    return str(exponent).translate(_SUPERSCRIPT)


def bytes_text(num_bytes: int, decimal_first: bool = True) -> str:
    """``8·10⁹`` / ``8·2³⁰``: a byte count as a multiple of a power of 1000 or 1024."""
    bases = [(10, (18, 15, 12, 9, 6, 3)), (2, (60, 50, 40, 30, 20, 10))]
    for base, exponents in bases if decimal_first else bases[::-1]:
        exponent = next((e for e in exponents if num_bytes >= base**e), None)
        if exponent is None:
            continue
        scaled = Decimal(num_bytes) / base**exponent
        if scaled == scaled.quantize(Decimal("0.001")):
            return f"{format(scaled.normalize(), 'f')}·{base}{_power(exponent)}"
    return str(num_bytes)


def _entries(profile_list: Any, path: str) -> list[tuple[str, Mapping[str, Any]]]:
    if isinstance(profile_list, Mapping):
        items = [(f"{path}[{key!r}]", profile_list[key]) for key in sorted(profile_list)]
    elif isinstance(profile_list, list | tuple):
        items = [(f"{path}[{i}]", p) for i, p in enumerate(profile_list)]
    else:
        return []
    return [(where, p) for where, p in items if isinstance(p, Mapping)]


def _overrides(profile_list: Any, path: str) -> Iterator[tuple[str, str, Mapping[str, Any]]]:
    """(path of the override, profile slug, what KubeSpawner sets) for each one to check."""
    for where, profile in _entries(profile_list, path):
        slug = profile_slug(profile)
        base = profile.get("kubespawner_override")
        base = base if isinstance(base, Mapping) else {}
        yield f"{where}.kubespawner_override", slug, base
        options = profile.get("profile_options")
        for name, option in (options if isinstance(options, Mapping) else {}).items():
            choices = option.get("choices") if isinstance(option, Mapping) else None
            for key, choice in (choices if isinstance(choices, Mapping) else {}).items():
                extra = choice.get("kubespawner_override") if isinstance(choice, Mapping) else None
                if isinstance(extra, Mapping) and extra:
                    yield (
                        f"{where}.profile_options.{name}.choices.{key}.kubespawner_override",
                        slug,
                        {**base, **extra},
                    )


def _read(
    override: Mapping[str, Any], where: str, resource: str
) -> tuple[dict[str, Any], list[ConfigIssue]]:
    """The Request fields an override sets, read as KubeSpawner reads them."""
    fields: dict[str, Any] = {}
    issues: list[ConfigIssue] = []
    for trait, field in _MEMORY.items():
        if override.get(trait) is not None and not callable(override[trait]):
            try:
                fields[field] = kubespawner_bytes(override[trait])
            except QuantityError as exc:
                value = override[trait]
                hint = ""
                if isinstance(value, str) and value.endswith("i") and value[-2:-1] in "KMGT":
                    hint = f"; write {value[:-1]} for {value} (KubeSpawner's G is Kubernetes' Gi)"
                issues.append(ConfigIssue(f"{where}.{trait}", f"{exc}{hint}"))
    for trait, field in _CPU.items():
        value = override.get(trait)
        if value is None or callable(value):  # a callable is called with the spawner at start
            continue
        if isinstance(value, bool) or not isinstance(value, int | float) or value < 0:
            issues.append(
                ConfigIssue(
                    f"{where}.{trait}",
                    f"{value!r} is not a CPU value KubeSpawner reads: it takes cores as a "
                    "number (0.5, 2), not a quantity like 500m",
                )
            )
        else:
            fields[field] = float(value)
    limits = override.get("extra_resource_limits")
    if isinstance(limits, Mapping) and resource in limits:
        try:
            fields["gpu"] = int(str(limits[resource]))
        except ValueError:
            pass  # Kubernetes refuses it when the pod is created
    return fields, issues


def _key_path(policy: Policy, key: str, prefix: str) -> str:
    source = policy.sources.get(key, "defaults").split(", ")[0]
    section = "defaults" if source == "defaults" else f"groups.{source}"
    return ".".join(p for p in (prefix, section, key) if p)


def _message(
    slug: str, override: Mapping[str, Any], cap_key: str, rule: str, cap: Any, tiers: list[str]
) -> str:
    kind = rule.split(".")[-2] if rule.startswith("resources.") else rule.split(".")[-1]
    tier = f"tier{'s' if len(tiers) > 1 else ''} {', '.join(tiers)}"
    verb = "are" if len(tiers) > 1 else "is"
    if rule.startswith("request."):
        return (
            f"profile {slug!r} sets a {kind} guarantee above its {kind} limit: "
            f"every start with it is refused for {tier}"
        )
    total = " (a user's total)" if rule.startswith("quota.") else ""
    if kind == "memory":
        trait = "mem_limit" if "mem_limit" in override else "mem_guarantee"
        raw = override[trait]
        asked = kubespawner_bytes(raw)
        reading = bytes_text(asked, decimal_first=False)
        if isinstance(raw, str) and raw.strip()[-1:] in KUBESPAWNER_UNITS:
            exponent = 10 * (1 + "KMGT".index(raw.strip()[-1]))
            reading = f"{raw.strip()[:-1].strip()}·2{_power(exponent)}"
        text = (
            f"profile {slug!r} sets {trait}: {raw!r}, which KubeSpawner reads as "
            f"{reading} bytes ({format_memory(asked)}); that is "
            f"above {cap_key}: {format_memory(cap)} = {bytes_text(cap)} bytes{total}, so "
            f"{tier} {verb} refused this profile at every start."
        )
        if isinstance(raw, str) and raw.strip()[-1:] in KUBESPAWNER_UNITS:
            text += (
                f" KubeSpawner reads K, M, G, T as powers of 1024, the policy (as Kubernetes) "
                f"as powers of 1000: write {cap_key}: {format_memory(asked)} in the policy, "
                f"or {trait}: {cap} (bytes, as a number) in the profile."
            )
        return text
    if kind == "cpu":
        asked_text = format_cpu(float(override.get("cpu_limit") or override["cpu_guarantee"]))
        return (
            f"profile {slug!r} asks for {asked_text} CPU cores; that is above {cap_key}: "
            f"{format_cpu(cap)}{total}, so {tier} {verb} refused this profile at every start."
        )
    return (
        f"profile {slug!r} asks for more GPUs than {cap_key}: {cap}{total}, so {tier} {verb} "
        "refused this profile at every start."
    )


def profile_override_issues(
    table: PolicyTable | None,
    profile_list: Any,
    path: str = "KubeSpawner.profile_list",
    *,
    prefix: str = "",
) -> list[ConfigIssue]:
    """The problems of each profile's overrides, checked for every tier that may pick it.

    ``profile_list`` is KubeSpawner's (a list, or a dict it sorts by key; a
    callable is not checked). Tiers are ``defaults`` and ``defaults`` with each
    group: the policy's merges are monotone, so a tier that passes alone
    passes in every combination. ``prefix`` is where the policy sits in the
    file (``hub.config.HubPolicy.policy``) for the key paths named. With
    ``table=None`` (an invalid policy) only what KubeSpawner cannot read is
    reported.
    """
    tiers: list[Policy | None] = [None]
    if table is not None:
        tiers = [table.resolve([]), *(table.resolve([g]) for g in table.group_names)]
    issues: list[ConfigIssue] = []
    seen: set[str] = set()
    for where, slug, override in _overrides(profile_list, path):
        if not ({*_MEMORY, *_CPU, "extra_resource_limits"} & set(override)):
            continue
        refused: dict[tuple[str, str, Any], list[str]] = {}
        for policy in tiers:
            resource = policy.resources.gpu.resource if policy else "nvidia.com/gpu"
            fields, unreadable = _read(override, where, resource)
            for issue in unreadable:
                if issue.path not in seen:
                    seen.add(issue.path)
                    issues.append(issue)
            if policy is None or unreadable or not policy.allows_profile(slug) or not fields:
                continue
            decision = check_start(policy, Usage(), Request(**fields))
            if not decision.allowed:
                rule = decision.rule
                key = (rule, _key_path(policy, rule, prefix), decision.limit)
                refused.setdefault(key, []).append(policy.tier)
        for (rule, cap_key, cap), names in refused.items():
            message = _message(slug, override, cap_key, rule, cap, names)
            issues.append(ConfigIssue(where, message, severity="warning"))
    return issues


def unknown_profile_issues(
    table: PolicyTable | None,
    profile_list: Any,
    path: str = "KubeSpawner.profile_list",
    *,
    prefix: str = "",
) -> list[ConfigIssue]:
    """A warning for each profile the policy names (``defaults`` or a group's ``profiles``)
    that a static ``profile_list`` does not have: a typo there (``notebok``) would refuse
    every start of that tier with "No server profile is available to your groups"."""
    entries = _entries(profile_list, path)
    if table is None or not entries:
        return []
    slugs = sorted({profile_slug(profile) for _, profile in entries})
    sections = [("defaults", table.raw.get("defaults"))]
    groups = table.raw.get("groups")
    if isinstance(groups, Mapping):
        sections += [(f"groups.{name}", section) for name, section in groups.items()]
    issues = []
    for where, section in sections:
        named = section.get("profiles") if isinstance(section, Mapping) else None
        for slug in named if isinstance(named, list) else []:
            if slug != "*" and slug not in slugs:
                issues.append(
                    ConfigIssue(
                        ".".join(p for p in (prefix, where, "profiles") if p),
                        f"names the profile {echo(str(slug))}, which {path} does not have "
                        f"(its profiles: {', '.join(slugs)}); it is never offered",
                        severity="warning",
                    )
                )
    return issues
