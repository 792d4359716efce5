"""The policy table: loading, validation and per-user resolution.

``PolicyTable.from_dict(raw)`` (or ``from_yaml`` / ``from_file``) validates the
whole table and raises :class:`~hubplugins.policy.errors.PolicyConfigError` listing
every problem with its key path. ``table.resolve(groups)`` returns the
:class:`~hubplugins.policy.model.Policy` of a user in those groups.

Resolution, key by key (see :data:`FIELDS`):

1. built-in defaults (the example in the admin guide), overlaid by the
   table's ``defaults`` section (which replaces what it sets);
2. every group of the user found in the table, in sorted order, merged by the
   most generous value: the larger number, the longer timeout, ``null``
   (unlimited / never) over any number, the union of profiles, ``true`` over
   ``false`` for ``ssh_keys``, and ``false`` (keep the data) over ``true`` for
   ``storage.delete_with_server`` / ``delete_with_user``;
   per GPU kind of ``resources.gpu_kinds`` and ``quota.gpu_kinds``, the same;
3. keys with no "more generous" order (``storage.scope``,
   ``storage.mount_path``, ``resources.gpu.resource``) come from the first
   group, in sorted name order, that sets them; otherwise from ``defaults``.

Because every merge is monotone, checking ``defaults`` and ``defaults`` +
each group on its own is enough to make every combination of groups valid.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterable, Mapping
from pathlib import Path
from types import MappingProxyType
from typing import Any

import yaml

from hubplugins.policy import keys
from hubplugins.policy.cross_checks import cross_check
from hubplugins.policy.errors import ConfigIssue, PolicyConfigError, QuantityError
from hubplugins.policy.keys import KEYS, Merge
from hubplugins.policy.model import ClusterPolicy, Policy
from hubplugins.policy.schema import key_path as _path
from hubplugins.policy.schema import validate_schema
from hubplugins.policy.text import bounded_repr as _show

__all__ = ["BUILTIN_DEFAULTS", "FIELDS", "Flat", "PolicyTable"]

Flat = dict[str, Any]


def _merge_kinds(
    current: Mapping[str, int | None], new: Mapping[str, int | None]
) -> Mapping[str, int | None]:
    """Per GPU kind, the more generous count; a kind only one side lists is kept."""
    merged = dict(current)
    for kind, value in new.items():
        if kind not in merged or _more(value, merged[kind]):
            merged[kind] = value
    return MappingProxyType(merged)


# dotted key -> (parser of the validated raw value, merge rule), from the one table
FIELDS: dict[str, tuple[Callable[[Any], Any], Merge]] = {k.path: (k.parse, k.merge) for k in KEYS}

BUILTIN_DEFAULTS: Mapping[str, Any] = MappingProxyType({k.path: k.default for k in KEYS})


def _flatten(section: Mapping[str, Any], base: str = "") -> Flat:
    flat: Flat = {}
    for key, value in section.items():
        dotted = f"{base}.{key}" if base else str(key)
        if isinstance(value, Mapping) and dotted not in FIELDS:
            flat.update(_flatten(value, dotted))
        else:
            flat[dotted] = value
    return flat


def _mapping(value: Any) -> Mapping[str, Any]:
    return value if isinstance(value, Mapping) else {}


def _parse_section(
    section: Mapping[str, Any], where: str, skip: set[str]
) -> tuple[Flat, list[ConfigIssue]]:
    """Parse the leaves of one section; keys in error already (``skip``) are left out."""
    parsed: Flat = {}
    issues: list[ConfigIssue] = []
    for key, value in _flatten(section).items():
        if key not in FIELDS or f"{where}.{key}" in skip:
            continue
        parser, _ = FIELDS[key]
        try:
            parsed[key] = parser(value)
        except QuantityError as exc:
            issues.append(ConfigIssue(f"{where}.{key}", str(exc)))
    return parsed, issues


def _more(new: Any, current: Any) -> bool:
    if current is None:
        return False
    return new is None or bool(new > current)


def merge(defaults: Flat, groups: Iterable[tuple[str, Flat]]) -> tuple[Flat, dict[str, str]]:
    """Overlay ``groups`` (name, parsed section) on complete ``defaults``, most generous wins."""
    result = dict(defaults)
    sources = dict.fromkeys(defaults, "defaults")
    for name, section in sorted(groups, key=lambda item: item[0]):
        for key, value in section.items():
            rule = FIELDS[key][1]
            current = result[key]
            if rule == "kinds":
                merged_kinds = _merge_kinds(current, value)
                if dict(merged_kinds) != dict(current):
                    result[key] = merged_kinds
                    sources[key] = name if sources[key] == "defaults" else f"{sources[key]}, {name}"
                continue
            if rule == "union":
                merged = keys.profiles([*current, *value])
                if merged != current:
                    result[key] = merged
                    sources[key] = name if sources[key] == "defaults" else f"{sources[key]}, {name}"
                continue
            take = (
                (rule == "more" and _more(value, current))
                or (rule == "first" and sources[key] == "defaults" and value != current)
                or (rule == "false_wins" and current and not value)
                or (rule == "true_wins" and value and not current)
            )
            if take:
                result[key] = value
                sources[key] = name
    return result, sources


def build_policy(flat: Flat, sources: Mapping[str, str], groups: Iterable[str]) -> Policy:
    """The :class:`Policy` dataclasses from a complete flat mapping."""
    return keys.build(flat, groups, sources)


def _broken(issues: Iterable[ConfigIssue], where: str, prefix: str) -> frozenset[str]:
    """The keys of the section at ``where`` that an issue makes invalid (or the GPU pool's)."""
    paths = {issue.path for issue in issues}
    cluster = _path(["cluster"], prefix)
    bad = set()
    for key in FIELDS:
        full = f"{where}.{key}"
        if any(p == full or full.startswith(f"{p}.") or not p or p == prefix for p in paths):
            bad.add(key)
    if any(p.startswith(cluster) for p in paths):
        bad.add("resources.gpu.max")  # checked against the pool
    return frozenset(bad)


class _UniqueKeyLoader(yaml.SafeLoader):
    """A safe YAML loader that refuses a key given twice in one mapping."""

    def construct_mapping(self, node: Any, deep: bool = False) -> dict[Any, Any]:
        seen: set[Any] = set()
        for key_node, _ in node.value:
            key = self.construct_object(key_node, deep=deep)
            if key in seen:
                line = key_node.start_mark.line + 1
                raise yaml.constructor.ConstructorError(
                    None, None, f"key {key!r} is given twice (line {line})", key_node.start_mark
                )
            seen.add(key)
        return super().construct_mapping(node, deep=deep)


def load_yaml(text: str, source: str = "") -> Any:
    """Parse YAML safely; duplicate keys and syntax errors become a PolicyConfigError."""
    try:
        return yaml.load(text, Loader=_UniqueKeyLoader)
    except yaml.YAMLError as exc:
        raise PolicyConfigError([ConfigIssue("", f"not valid YAML: {exc}")], source) from None


class PolicyTable:
    """A validated policy table; :meth:`resolve` gives one user's :class:`Policy`."""

    def __init__(
        self,
        raw: Mapping[str, Any],
        defaults: Flat,
        groups: Mapping[str, Flat],
        cluster: ClusterPolicy,
    ) -> None:
        self.raw = raw
        self._defaults = defaults
        self._groups = dict(groups)
        self.cluster = cluster
        self._cache: dict[frozenset[str], Policy] = {}

    @property
    def group_names(self) -> tuple[str, ...]:
        """The groups the table knows, sorted."""
        return tuple(sorted(self._groups))

    @classmethod
    def from_dict(cls, raw: Any, *, source: str = "", prefix: str = "") -> PolicyTable:
        """Validate ``raw`` (the policy as plain data) and build the table.

        ``prefix`` is prepended to every key path in errors (e.g. the place of
        the policy inside a helm values file).
        """
        if raw is None:
            raw = {}
        if not isinstance(raw, Mapping):
            issue = ConfigIssue(prefix, f"the policy must be a mapping, not {_show(raw)}")
            raise PolicyConfigError([issue], source)
        issues = validate_schema(raw, prefix)
        skip = {issue.path for issue in issues}
        where = _path(["defaults"], prefix)
        parsed, more = _parse_section(_mapping(raw.get("defaults")), where, skip)
        issues.extend(more)
        defaults = {**BUILTIN_DEFAULTS, **parsed}
        groups: dict[str, Flat] = {}
        for name, section in _mapping(raw.get("groups")).items():
            group_where = _path(["groups", name], prefix)
            groups[str(name)], more = _parse_section(_mapping(section), group_where, skip)
            issues.extend(more)
        issues.sort(key=lambda i: i.path)
        # the cross-field checks run on what parsed, so one pass reports every problem
        pool = _mapping(raw.get("cluster")).get("gpu_pool")
        cluster = ClusterPolicy(MappingProxyType(dict(_mapping(pool))))
        bad = _broken(issues, where, prefix)
        table_sources = dict.fromkeys(defaults, "defaults")
        issues.extend(cross_check(defaults, table_sources, cluster, where, only=None, broken=bad))
        for name in sorted(groups):
            merged, sources = merge(defaults, [(name, groups[name])])
            group_where = _path(["groups", name], prefix)
            group_bad = bad | _broken(issues, group_where, prefix)
            issues.extend(
                cross_check(merged, sources, cluster, group_where, only=name, broken=group_bad)
            )
        if issues:
            raise PolicyConfigError(issues, source)
        return cls(raw, defaults, groups, cluster)

    @classmethod
    def from_yaml(cls, text: str, *, source: str = "") -> PolicyTable:
        return cls.from_dict(load_yaml(text, source), source=source)

    @classmethod
    def from_file(cls, path: str | os.PathLike[str]) -> PolicyTable:
        """The one way a policy file is read: YAML, validated; unreadable is a config error too."""
        source = str(path)
        try:
            text = Path(path).read_text(encoding="utf-8")
        except OSError as exc:
            issue = ConfigIssue("", f"cannot read the policy file: {exc.strerror}")
            raise PolicyConfigError([issue], source) from None
        return cls.from_yaml(text, source=source)

    def resolve(self, groups: Iterable[str]) -> Policy:
        """The policy of a user in ``groups``; groups not in the table are ignored."""
        if isinstance(groups, str):
            groups = [groups]
        key = frozenset(g for g in groups if g in self._groups)
        policy = self._cache.get(key)
        if policy is None:
            flat, sources = merge(self._defaults, [(g, self._groups[g]) for g in key])
            policy = self._cache[key] = build_policy(flat, sources, key)
        return policy
