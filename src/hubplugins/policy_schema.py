"""The JSON Schema (draft 2020-12) of the policy table.

The schema checks the shape: known keys only, the right types, ranges of
plain integers. Quantity strings (``2G``, ``500m``, ``2h``) are parsed
afterwards by :mod:`hubplugins.quantities`; each such field carries an
``x-kind`` annotation (``cpu``, ``memory``, ``duration``) so that type errors
can name what is expected. ``defaults`` and every group share one schema: all
keys are optional, and a missing key keeps the built-in default.
"""

from __future__ import annotations

from typing import Any

__all__ = ["POLICY_SCHEMA", "SECTION_SCHEMA"]

_RESOURCE_NAME = r"^[a-z0-9]([-a-z0-9.]*[a-z0-9])?/[a-zA-Z0-9]([-a-zA-Z0-9_.]*[a-zA-Z0-9])?$"


def _obj(properties: dict[str, Any], description: str = "") -> dict[str, Any]:
    schema: dict[str, Any] = {
        "type": "object",
        "properties": properties,
        "additionalProperties": False,
    }
    if description:
        schema["description"] = description
    return schema


def _cpu(nullable: bool = False) -> dict[str, Any]:
    types = ["string", "number", "null"] if nullable else ["string", "number"]
    return {"type": types, "x-kind": "cpu"}


def _memory(nullable: bool = False) -> dict[str, Any]:
    types = ["string", "number", "null"] if nullable else ["string", "number"]
    return {"type": types, "x-kind": "memory"}


_DURATION = {"type": ["string", "number", "null"], "x-kind": "duration"}
_COUNT = {"type": "integer", "minimum": 0}
_COUNT_OR_NULL = {"type": ["integer", "null"], "minimum": 0}

SECTION_SCHEMA: dict[str, Any] = _obj(
    {
        "servers": _obj(
            {
                "max_named": _COUNT_OR_NULL,
                "max_running": {"type": ["integer", "null"], "minimum": 1},
                "name_max_length": {"type": "integer", "minimum": 1, "maximum": 30},
            }
        ),
        "idle": _obj({"stop_after": _DURATION, "delete_after": _DURATION}),
        "resources": _obj(
            {
                "cpu": _obj({"guarantee": _cpu(), "limit": _cpu(), "max": _cpu()}),
                "memory": _obj({"guarantee": _memory(), "limit": _memory(), "max": _memory()}),
                "gpu": _obj(
                    {
                        "default": _COUNT,
                        "max": _COUNT,
                        "resource": {"type": "string", "pattern": _RESOURCE_NAME},
                    }
                ),
            }
        ),
        "quota": _obj(
            {"cpu": _cpu(nullable=True), "memory": _memory(nullable=True), "gpu": _COUNT_OR_NULL}
        ),
        "storage": _obj(
            {
                "capacity": _memory(),
                "scope": {"enum": ["server", "user"]},
                "mount_path": {"type": "string", "pattern": "^/", "maxLength": 255},
                "delete_with_server": {"type": "boolean"},
                "delete_with_user": {"type": "boolean"},
            }
        ),
        "profiles": {
            "type": "array",
            "items": {"type": "string", "minLength": 1, "maxLength": 255},
        },
        "ssh_keys": {"type": "boolean"},
    }
)

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
            "cluster": _obj(
                {
                    "gpu_pool": {
                        "type": "object",
                        "propertyNames": {"pattern": _RESOURCE_NAME},
                        "additionalProperties": _COUNT,
                    }
                }
            ),
        }
    ),
}
