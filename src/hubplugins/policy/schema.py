"""The JSON Schema (draft 2020-12) of the policy table.

The schema checks the shape: known keys only, the right types, ranges of
plain integers. Quantity strings (``2G``, ``500m``, ``2h``) are parsed
afterwards by :mod:`hubplugins.policy.quantities`; each such field carries an
``x-kind`` annotation (``cpu``, ``memory``, ``duration``) so that type errors
can name what is expected. ``defaults`` and every group share one schema: all
keys are optional, and a missing key keeps the built-in default.
"""

from __future__ import annotations

import difflib
from collections.abc import Iterable, Mapping
from typing import Any

import jsonschema

from hubplugins.policy.errors import ConfigIssue
from hubplugins.policy.keys import COUNT, KEYS, kinds_schema
from hubplugins.policy.quantities import CPU_EXAMPLES, DURATION_EXAMPLES, MEMORY_EXAMPLES
from hubplugins.policy.text import bounded_repr

__all__ = ["POLICY_SCHEMA", "SECTION_SCHEMA", "key_path", "validate_schema"]


def _obj(properties: dict[str, Any]) -> dict[str, Any]:
    return {"type": "object", "properties": properties, "additionalProperties": False}


def _section() -> dict[str, Any]:
    """The schema of a policy section, nested from each key's own (:data:`KEYS`)."""
    values = {key.path: dict(key.schema) for key in KEYS}

    def nest(prefix: str) -> dict[str, Any]:
        names = dict.fromkeys(
            path[len(prefix) :].split(".")[0] for path in values if path.startswith(prefix)
        )
        return _obj({n: values.get(prefix + n) or nest(f"{prefix}{n}.") for n in names})

    return nest("")


SECTION_SCHEMA: dict[str, Any] = _section()

POLICY_SCHEMA: dict[str, Any] = {
    "$schema": "https://json-schema.org/draft/2020-12/schema",
    "title": "hubplugins policy table",
    **_obj(
        {
            "defaults": SECTION_SCHEMA,
            "groups": {
                "type": "object",
                "propertyNames": {"minLength": 1, "maxLength": 255},
                "additionalProperties": SECTION_SCHEMA,
            },
            "cluster": _obj({"gpu_pool": kinds_schema(COUNT)}),
        }
    ),
}


_KIND_HELP = {
    "cpu": f"a CPU quantity ({CPU_EXAMPLES})",
    "memory": f"a memory quantity ({MEMORY_EXAMPLES})",
    "duration": f"a duration ({DURATION_EXAMPLES}) or null",
}
_TYPE_NAMES = {
    "integer": "a whole number",
    "number": "a number",
    "string": "a string",
    "boolean": "true or false",
    "null": "null",
    "object": "a mapping",
    "array": "a list",
}


def key_path(parts: Iterable[Any], prefix: str = "") -> str:
    return ".".join(str(p) for p in [*([prefix] if prefix else []), *parts])


def _schema_issue(error: jsonschema.ValidationError, prefix: str) -> list[ConfigIssue]:
    where = key_path(error.absolute_path, prefix)
    schema: Mapping[str, Any] = error.schema if isinstance(error.schema, Mapping) else {}
    validator = error.validator
    if validator == "additionalProperties" and isinstance(error.instance, Mapping):
        allowed = sorted(schema.get("properties", {}))
        issues = []
        for key in error.instance:
            if key in allowed:
                continue
            hint = difflib.get_close_matches(str(key), allowed, n=1)
            did_you_mean = f"; did you mean {hint[0]!r}?" if hint else ""
            issues.append(
                ConfigIssue(
                    key_path([*error.absolute_path, key], prefix),
                    f"unknown key (allowed: {', '.join(allowed)}){did_you_mean}",
                )
            )
        return issues
    if validator == "type":
        kind = schema.get("x-kind")
        if kind:
            message = f"{bounded_repr(error.instance)} is not {_KIND_HELP[kind]}"
        else:
            types = schema.get("type")
            names = [types] if isinstance(types, str) else list(types or [])
            expected = " or ".join(_TYPE_NAMES.get(t, t) for t in names)
            message = f"{bounded_repr(error.instance)} is not {expected}"
        return [ConfigIssue(where, message)]
    if validator == "enum":
        options = ", ".join(str(o) for o in schema.get("enum", []))
        return [ConfigIssue(where, f"{bounded_repr(error.instance)} is not one of: {options}")]
    if validator in ("minimum", "maximum"):
        bound = "at least" if validator == "minimum" else "at most"
        return [
            ConfigIssue(
                where, f"{bounded_repr(error.instance)} must be {bound} {schema[validator]}"
            )
        ]
    if validator == "pattern" and where.endswith("mount_path"):
        return [ConfigIssue(where, f"{bounded_repr(error.instance)} must be an absolute path")]
    if validator in ("pattern", "propertyNames") and ("gpu" in where or "resource" in where):
        return [
            ConfigIssue(
                where,
                f"{bounded_repr(error.instance)} is not an extended resource name "
                "(example: nvidia.com/gpu)",
            )
        ]
    return [ConfigIssue(where, error.message if len(error.message) < 200 else "invalid value")]


def validate_schema(raw: Any, prefix: str = "") -> list[ConfigIssue]:
    """Every schema problem of ``raw``, each as a key path and a plain-English message."""
    validator = jsonschema.Draft202012Validator(POLICY_SCHEMA)
    issues: list[ConfigIssue] = []
    for error in sorted(validator.iter_errors(raw), key=lambda e: [str(p) for p in e.path]):
        issues.extend(_schema_issue(error, prefix))
    return issues
