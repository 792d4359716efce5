"""Each policy key is declared once (policy/keys.py) and is in everything derived from it."""

from __future__ import annotations

import pytest

from hubplugins.cli import explain_text
from hubplugins.policy.keys import KEYS, values_of
from hubplugins.policy.schema import SECTION_SCHEMA
from hubplugins.policy.table import BUILTIN_DEFAULTS, FIELDS, PolicyTable

PATHS = [key.path for key in KEYS]


def _schema_leaves(schema, prefix=""):
    for name, value in schema["properties"].items():
        if value.get("type") == "object" and "properties" in value:
            yield from _schema_leaves(value, f"{prefix}{name}.")
        else:
            yield f"{prefix}{name}"


def test_the_keys_are_unique():
    assert len(PATHS) == len(set(PATHS))


def test_the_schema_has_every_key_and_no_other():
    assert list(_schema_leaves(SECTION_SCHEMA)) == PATHS


def test_the_parsers_merges_and_defaults_are_the_keys():
    assert list(FIELDS) == PATHS
    assert list(BUILTIN_DEFAULTS) == PATHS
    assert all(FIELDS[k.path] == (k.parse, k.merge) for k in KEYS)


@pytest.mark.parametrize("key", KEYS, ids=PATHS)
def test_the_policy_holds_each_key_at_its_attribute(key):
    policy = PolicyTable.from_dict({}).resolve([])
    value = policy
    for part in key.attribute.split("."):
        value = getattr(value, part)
    assert value == key.default


def test_explain_shows_every_key_the_table_sets():
    table = PolicyTable.from_dict(
        {
            "defaults": {
                "resources": {"gpu_kinds": {"nvidia.com/mig-1g.10gb": 1}},
                "quota": {"gpu_kinds": {"nvidia.com/mig-1g.10gb": 2}},
            }
        }
    )
    policy = table.resolve([])
    assert list(values_of(policy)) == PATHS
    text = explain_text(table, [])
    for path in PATHS:
        assert f"{path.split('.')[-1]}: " in text, path


def test_explain_leaves_out_gpu_kinds_the_table_does_not_offer():
    shown = values_of(PolicyTable.from_dict({}).resolve([]))
    assert [p for p in PATHS if p not in shown] == ["resources.gpu_kinds", "quota.gpu_kinds"]
