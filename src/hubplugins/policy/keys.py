"""Every key of a policy section, declared once: :data:`KEYS`.

One :class:`Key` per dotted key (``resources.cpu.guarantee``) holds its JSON
schema, how its value is read, how groups merge it, its built-in default and
the :class:`~hubplugins.policy.model.Policy` attribute it fills. From this one
table come the section's schema (:mod:`hubplugins.policy.schema`), the
parsers, merge rules and defaults of :mod:`hubplugins.policy.table`, the
``Policy`` it builds, ``hubplugins explain``'s view and the reference docs
(``docs/_ext/policy_reference.py``); a key added here is in all of them.
"""

from __future__ import annotations

import dataclasses
import functools
import typing
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from types import MappingProxyType
from typing import Any, Literal

from hubplugins.policy.errors import QuantityError
from hubplugins.policy.model import DEFAULT_GPU_RESOURCE, Policy
from hubplugins.policy.quantities import parse_cpu, parse_duration, parse_memory

__all__ = ["COUNT", "KEYS", "RESOURCE_NAME", "Key", "Merge", "build", "kinds_schema", "values_of"]

Merge = Literal["more", "first", "false_wins", "true_wins", "union", "kinds"]

RESOURCE_NAME = r"^[a-z0-9]([-a-z0-9.]*[a-z0-9])?/[a-zA-Z0-9]([-a-zA-Z0-9_.]*[a-zA-Z0-9])?$"


# -- the schema of a value ----------------------------------------------------------


def _cpu(nullable: bool = False) -> dict[str, Any]:
    types = ["string", "number", "null"] if nullable else ["string", "number"]
    return {"type": types, "x-kind": "cpu"}


def _memory(nullable: bool = False) -> dict[str, Any]:
    types = ["string", "number", "null"] if nullable else ["string", "number"]
    return {"type": types, "x-kind": "memory"}


def kinds_schema(value: dict[str, Any]) -> dict[str, Any]:
    """A mapping of extended resource name to ``value``."""
    return {
        "type": "object",
        "propertyNames": {"pattern": RESOURCE_NAME},
        "additionalProperties": value,
    }


_DURATION = {"type": ["string", "number", "null"], "x-kind": "duration"}
_WAIT = {"type": ["string", "number"], "x-kind": "duration"}
COUNT = {"type": "integer", "minimum": 0}
_COUNT_OR_NULL = {"type": ["integer", "null"], "minimum": 0}
_BOOL = {"type": "boolean"}


# -- how a value is read ------------------------------------------------------------


def _cpu_or_none(value: Any) -> float | None:
    return None if value is None else parse_cpu(value)


def _memory_or_none(value: Any) -> int | None:
    return None if value is None else parse_memory(value)


def _int_or_none(value: Any) -> int | None:
    return None if value is None else int(value)


def _mount_path(value: Any) -> str:
    text = str(value)
    stripped = text.replace("{username}", "").replace("{servername}", "")
    if "{" in stripped or "}" in stripped:
        raise QuantityError(
            f"{text!r} has an unknown placeholder (allowed: {{username}}, {{servername}})"
        )
    return text


def kinds(value: Any) -> Mapping[str, int | None]:
    """A mapping of GPU kind to count (``null``: unlimited), read."""
    return MappingProxyType({str(k): _int_or_none(v) for k, v in dict(value).items()})


def profiles(value: Any) -> tuple[str, ...]:
    """A list of profile slugs, read: sorted, ``("*",)`` when it holds ``*``."""
    items = {str(v) for v in value}
    return ("*",) if "*" in items else tuple(sorted(items))


@dataclass(frozen=True)
class Key:
    """One key of a policy section."""

    path: str
    """The dotted key, as written in the policy file."""
    schema: Mapping[str, Any]
    """The JSON schema of its value; ``x-kind`` (cpu, memory, duration) says how it reads."""
    parse: Callable[[Any], Any]
    """Reads a valid value (``8G`` -> 8·10⁹ bytes); raises ``QuantityError``."""
    merge: Merge
    """How the groups of a user combine it (see :mod:`hubplugins.policy.table`)."""
    default: Any
    """The built-in default, read (what applies when no section sets it)."""
    attr: str = ""
    """The :class:`Policy` attribute it fills, when not its path."""
    shown: bool = True
    """Shown by ``hubplugins explain`` when it holds its built-in default (empty kinds: no)."""

    @property
    def kind(self) -> str:
        return str(self.schema.get("x-kind", ""))

    @property
    def attribute(self) -> str:
        return self.attr or self.path


_NONE: Mapping[str, int | None] = MappingProxyType({})

KEYS: tuple[Key, ...] = (
    Key("servers.max_named", _COUNT_OR_NULL, _int_or_none, "more", 5),
    Key("servers.max_running", {"type": ["integer", "null"], "minimum": 1}, _int_or_none, "more",
        6),
    Key("servers.name_max_length", {"type": "integer", "minimum": 1, "maximum": 30}, int, "more",
        20),
    Key("idle.stop_after", _DURATION, parse_duration, "more", 7200.0),
    Key("idle.delete_after", _DURATION, parse_duration, "more", None),
    Key("idle.delete_notice", _DURATION, parse_duration, "more", None),
    Key("idle.allow_keep", _BOOL, bool, "true_wins", False),
    Key("resources.cpu.guarantee", _cpu(), parse_cpu, "more", 0.5),
    Key("resources.cpu.limit", _cpu(), parse_cpu, "more", 1.0),
    Key("resources.cpu.max", _cpu(), parse_cpu, "more", 1.0),
    Key("resources.memory.guarantee", _memory(), parse_memory, "more", 10**9),
    Key("resources.memory.limit", _memory(), parse_memory, "more", 2 * 10**9),
    Key("resources.memory.max", _memory(), parse_memory, "more", 2 * 10**9),
    Key("resources.gpu.default", COUNT, int, "more", 0),
    Key("resources.gpu.max", COUNT, int, "more", 0),
    Key("resources.gpu.resource", {"type": "string", "pattern": RESOURCE_NAME}, str, "first",
        DEFAULT_GPU_RESOURCE),
    # a full pool puts the start in line, waiting at most max_wait
    Key("resources.gpu.queue.max_wait", _WAIT, parse_duration, "more", 0.0,
        attr="resources.gpu.queue_max_wait"),
    # other GPU kinds a server may ask for instead: resource -> per-server max
    Key("resources.gpu_kinds", kinds_schema(COUNT), kinds, "kinds", _NONE, shown=False),
    Key("quota.cpu", _cpu(nullable=True), _cpu_or_none, "more", 2.0),
    Key("quota.memory", _memory(nullable=True), _memory_or_none, "more", 4 * 10**9),
    Key("quota.gpu", _COUNT_OR_NULL, _int_or_none, "more", 0),
    Key("quota.gpu_kinds", kinds_schema(_COUNT_OR_NULL), kinds, "kinds", _NONE, shown=False),
    Key("storage.capacity", _memory(), parse_memory, "more", 2 * 2**30),
    Key("storage.scope", {"enum": ["server", "user"]}, str, "first", "server"),
    Key("storage.mount_path", {"type": "string", "pattern": "^/", "maxLength": 255}, _mount_path,
        "first", "/home/jovyan"),
    Key("storage.delete_with_server", _BOOL, bool, "false_wins", True),
    Key("storage.delete_with_user", _BOOL, bool, "false_wins", False),
    Key("profiles", {"type": "array", "items": {"type": "string", "minLength": 1,
        "maxLength": 255}}, profiles, "union", ("*",)),
    Key("ssh_keys", _BOOL, bool, "true_wins", False),
)  # fmt: skip


def _attribute(policy: Any, dotted: str) -> Any:
    for part in dotted.split("."):
        policy = getattr(policy, part)
    return policy


def values_of(policy: Policy) -> dict[str, Any]:
    """The policy as dotted key -> value, in the order of :data:`KEYS`.

    A key with ``shown=False`` is left out while it holds its built-in default
    (the GPU kinds, only where the table offers some).
    """
    values = {key.path: _attribute(policy, key.attribute) for key in KEYS}
    return {k.path: values[k.path] for k in KEYS if k.shown or values[k.path] != k.default}


@functools.cache
def _hints(cls: type) -> dict[str, Any]:
    return typing.get_type_hints(cls)


def _construct(cls: type, values: Mapping[str, Any]) -> Any:
    """``cls`` (a dataclass of the model) from nested ``values``, its parts built first."""
    hints = _hints(cls)
    arguments = {}
    for item in dataclasses.fields(cls):
        if item.name not in values:
            continue
        value = values[item.name]
        kind = hints[item.name]
        nested = isinstance(kind, type) and dataclasses.is_dataclass(kind)
        arguments[item.name] = _construct(kind, value) if nested else value
    return cls(**arguments)


def build(flat: Mapping[str, Any], groups: Iterable[str], sources: Mapping[str, str]) -> Policy:
    """The :class:`Policy` from a complete flat mapping of every key (read values)."""
    nested: dict[str, Any] = {}
    for key in KEYS:
        *parents, leaf = key.attribute.split(".")
        level = nested
        for part in parents:
            level = level.setdefault(part, {})
        level[leaf] = flat[key.path]
    nested["groups"] = tuple(sorted(groups))
    nested["sources"] = MappingProxyType(dict(sources))
    policy: Policy = _construct(Policy, nested)
    return policy
