"""The policy table: validation errors with key paths, and resolution."""

from __future__ import annotations

from typing import Any

import pytest

from hubplugins.policy.errors import PolicyConfigError
from hubplugins.policy.table import PolicyTable

GUIDE_EXAMPLE = """
defaults:
  servers: {max_named: 5, max_running: 6, name_max_length: 20}
  idle: {stop_after: 2h, delete_after: null}
  resources:
    cpu:    {guarantee: 0.5, limit: 1, max: 1}
    memory: {guarantee: 1G,  limit: 2G, max: 2G}
    gpu:    {default: 0, max: 0}
  quota: {cpu: 2, memory: 4G, gpu: 0}
  storage:
    capacity: 2Gi
    scope: server
    mount_path: /home/jovyan
    delete_with_server: true
  profiles: ["*"]
  ssh_keys: false
groups:
  gpu-beta:
    resources: {gpu: {max: 2}, memory: {max: 32G}}
    quota: {gpu: 2}
    profiles: ["*"]
cluster:
  gpu_pool: {nvidia.com/gpu: 4}
"""


def test_guide_example_is_valid() -> None:
    table = PolicyTable.from_yaml(GUIDE_EXAMPLE)
    assert table.group_names == ("gpu-beta",)
    assert table.cluster.gpu_pool == {"nvidia.com/gpu": 4}
    policy = table.resolve(["gpu-beta"])
    assert policy.resources.memory.max == 32 * 10**9
    assert policy.resources.gpu.max == 2
    assert policy.idle.stop_after == 7200


def test_empty_policy_gives_builtin_defaults() -> None:
    policy = PolicyTable.from_dict({}).resolve([])
    assert policy.servers.max_named == 5
    assert policy.resources.memory.limit == 2 * 10**9
    assert policy.storage.capacity == 2 * 2**30
    assert policy.tier == "defaults"


# name -> (table, [fragments that must each appear in one error line])
BAD: dict[str, tuple[Any, list[str]]] = {
    "not-a-mapping": ([1, 2], ["the policy must be a mapping"]),
    "unknown-top-key": ({"default": {}}, ["default: unknown key", "did you mean 'defaults'"]),
    "unknown-section-key": (
        {"defaults": {"server": {}}},
        ["defaults.server: unknown key", "did you mean 'servers'"],
    ),
    "unknown-servers-key": (
        {"defaults": {"servers": {"max_namd": 1}}},
        ["defaults.servers.max_namd: unknown key (allowed: max_named, max_running"],
    ),
    "gpu-node-selector-not-here": (
        {"groups": {"g": {"resources": {"gpu": {"node_selector": {}}}}}},
        ["groups.g.resources.gpu.node_selector: unknown key"],
    ),
    "bad-memory-in-group": (
        {"groups": {"gpu-beta": {"resources": {"memory": {"max": "32X"}}}}},
        [
            "groups.gpu-beta.resources.memory.max: '32X' is not a memory quantity "
            "(examples: 512Mi, 2G, 2Gi)"
        ],
    ),
    "memory-milli": (
        {"defaults": {"resources": {"memory": {"limit": "500m"}}}},
        ["defaults.resources.memory.limit:", "'m' means milli"],
    ),
    "memory-bool": (
        {"defaults": {"resources": {"memory": {"max": True}}}},
        ["defaults.resources.memory.max: True is not a memory quantity"],
    ),
    "cpu-list": (
        {"defaults": {"resources": {"cpu": {"max": [1]}}}},
        ["defaults.resources.cpu.max: [1] is not a CPU quantity"],
    ),
    "cpu-negative": (
        {"defaults": {"resources": {"cpu": {"max": -1}}}},
        ["defaults.resources.cpu.max: -1 is not a CPU quantity: it must not be negative"],
    ),
    "cpu-nan": (
        {"defaults": {"resources": {"cpu": {"max": float("nan")}}}},
        ["defaults.resources.cpu.max:", "finite"],
    ),
    "quota-inf": (
        {"defaults": {"quota": {"memory": float("inf")}}},
        ["defaults.quota.memory:", "finite"],
    ),
    "duration-junk": (
        {"defaults": {"idle": {"stop_after": "2 hours"}}},
        ["defaults.idle.stop_after: '2 hours' is not a duration"],
    ),
    "duration-object": (
        {"defaults": {"idle": {"stop_after": {"h": 2}}}},
        ["defaults.idle.stop_after: {'h': 2} is not a duration"],
    ),
    "max-named-float": (
        {"defaults": {"servers": {"max_named": 2.5}}},
        ["defaults.servers.max_named: 2.5 is not a whole number or null"],
    ),
    "max-named-negative": (
        {"defaults": {"servers": {"max_named": -1}}},
        ["defaults.servers.max_named: -1 must be at least 0"],
    ),
    "max-running-zero": (
        {"defaults": {"servers": {"max_running": 0}}},
        ["defaults.servers.max_running: 0 must be at least 1"],
    ),
    "name-length-too-long": (
        {"defaults": {"servers": {"name_max_length": 31}}},
        ["defaults.servers.name_max_length: 31 must be at most 30"],
    ),
    "gpu-string": (
        {"defaults": {"resources": {"gpu": {"max": "two"}}}},
        ["defaults.resources.gpu.max: 'two' is not a whole number"],
    ),
    "gpu-resource-name": (
        {"defaults": {"resources": {"gpu": {"resource": "gpu"}}}},
        ["defaults.resources.gpu.resource: 'gpu' is not an extended resource name"],
    ),
    "scope-enum": (
        {"defaults": {"storage": {"scope": "both"}}},
        ["defaults.storage.scope: 'both' is not one of: server, user"],
    ),
    "mount-path-relative": (
        {"defaults": {"storage": {"mount_path": "home/jovyan"}}},
        ["defaults.storage.mount_path: 'home/jovyan' must be an absolute path"],
    ),
    "mount-path-placeholder": (
        {"defaults": {"storage": {"mount_path": "/home/{user}"}}},
        ["defaults.storage.mount_path:", "unknown placeholder"],
    ),
    "delete-with-server-string": (
        {"defaults": {"storage": {"delete_with_server": "yes"}}},
        ["defaults.storage.delete_with_server: 'yes' is not true or false"],
    ),
    "profiles-string": (
        {"defaults": {"profiles": "*"}},
        ["defaults.profiles: '*' is not a list"],
    ),
    "profiles-item-number": (
        {"defaults": {"profiles": [1]}},
        ["defaults.profiles.0: 1 is not a string"],
    ),
    "ssh-keys-string": (
        {"defaults": {"ssh_keys": "true"}},
        ["defaults.ssh_keys: 'true' is not true or false"],
    ),
    "group-not-a-mapping": ({"groups": {"g": 5}}, ["groups.g: 5 is not a mapping"]),
    "gpu-pool-negative": (
        {"cluster": {"gpu_pool": {"nvidia.com/gpu": -1}}},
        ["cluster.gpu_pool.nvidia.com/gpu: -1 must be at least 0"],
    ),
    "gpu-pool-bad-name": (
        {"cluster": {"gpu_pool": {"gpus": 4}}},
        ["cluster.gpu_pool: 'gpus' is not an extended resource name"],
    ),
    "cpu-guarantee-above-limit": (
        {"defaults": {"resources": {"cpu": {"guarantee": 2, "limit": 1, "max": 4}}}},
        ["defaults.resources.cpu: guarantee 2 is above limit 1"],
    ),
    "memory-limit-above-max": (
        {"defaults": {"resources": {"memory": {"limit": "4G", "max": "2G"}}}},
        ["defaults.resources.memory: limit 4G is above max 2G"],
    ),
    "gpu-default-above-max": (
        {"defaults": {"resources": {"gpu": {"default": 1, "max": 0}}, "quota": {"gpu": 4}}},
        ["defaults.resources.gpu: default 1 is above max 0"],
    ),
    "delete-before-stop": (
        {"defaults": {"idle": {"stop_after": "2h", "delete_after": "1h"}}},
        ["defaults.idle: delete_after 1h must be longer than stop_after 2h"],
    ),
    "quota-below-one-server": (
        {"defaults": {"quota": {"memory": "1G"}}},
        ["defaults.quota.memory: 1G is below resources.memory.limit 2G"],
    ),
    "group-merged-with-defaults": (
        {"groups": {"big": {"resources": {"cpu": {"guarantee": 4}}}}},
        ["groups.big.resources.cpu: guarantee 4 is above limit 1 (limit from defaults)"],
    ),
    "gpu-max-above-pool": (
        {
            "groups": {"g": {"resources": {"gpu": {"max": 8}}, "quota": {"gpu": 8}}},
            "cluster": {"gpu_pool": {"nvidia.com/gpu": 4}},
        },
        ["groups.g.resources.gpu.max: 8 is above cluster.gpu_pool nvidia.com/gpu: 4"],
    ),
}


@pytest.mark.parametrize(("raw", "fragments"), BAD.values(), ids=BAD.keys())
def test_bad_tables_name_key_paths(raw: Any, fragments: list[str]) -> None:
    with pytest.raises(PolicyConfigError) as info:
        PolicyTable.from_dict(raw)
    errors = info.value.errors
    for fragment in fragments:
        assert any(fragment in e for e in errors), (fragment, errors)


def test_every_error_is_reported_not_just_the_first() -> None:
    raw = {
        "defaults": {
            "servers": {"max_namd": 5, "name_max_length": 40},
            "resources": {"memory": {"max": "32X"}, "cpu": {"limit": "lots"}},
        },
        "groups": {"a": {"quota": {"gpu": 1.5}}, "b": {"storage": {"scope": "x"}}},
    }
    with pytest.raises(PolicyConfigError) as info:
        PolicyTable.from_dict(raw)
    paths = [issue.path for issue in info.value.issues]
    assert paths == sorted(paths)
    assert set(paths) == {
        "defaults.servers.max_namd",
        "defaults.servers.name_max_length",
        "defaults.resources.memory.max",
        "defaults.resources.cpu.limit",
        "groups.a.quota.gpu",
        "groups.b.storage.scope",
    }
    assert "6 errors" in str(info.value)


def test_prefix_for_helm_values() -> None:
    with pytest.raises(PolicyConfigError) as info:
        PolicyTable.from_dict({"defaults": {"x": 1}}, prefix="hub.config.HubPolicy.policy")
    assert info.value.errors[0].startswith("hub.config.HubPolicy.policy.defaults.x:")


YAML_BAD = {
    "syntax": ("defaults: [", "not valid YAML"),
    "duplicate-key": ("groups:\n  a: {}\n  a: {}\n", "key 'a' is given twice (line 3)"),
}


@pytest.mark.parametrize(("text", "fragment"), YAML_BAD.values(), ids=YAML_BAD.keys())
def test_bad_yaml(text: str, fragment: str) -> None:
    with pytest.raises(PolicyConfigError) as info:
        PolicyTable.from_yaml(text)
    assert fragment in str(info.value)


def test_from_file(tmp_path: Any) -> None:
    path = tmp_path / "policy.yaml"
    path.write_text(GUIDE_EXAMPLE)
    assert PolicyTable.from_file(path).group_names == ("gpu-beta",)


# -- resolution ----------------------------------------------------------------

TIERS = {
    "defaults": {
        "servers": {"max_named": 2, "max_running": 2},
        "idle": {"stop_after": "1h", "delete_after": "7d"},
        "resources": {"cpu": {"guarantee": 0.5, "limit": 1, "max": 2}},
        "quota": {"cpu": 2},
        "storage": {"delete_with_server": True, "scope": "server"},
        "profiles": ["small"],
    },
    "groups": {
        "a": {
            "servers": {"max_named": 10},
            "idle": {"stop_after": "4h"},
            "resources": {"cpu": {"max": 4}},
            "storage": {"scope": "user", "mount_path": "/home/{username}"},
            "profiles": ["gpu"],
            "ssh_keys": True,
        },
        "b": {
            "servers": {"max_named": 3, "max_running": None},
            "idle": {"stop_after": None},
            "quota": {"cpu": None},
            "resources": {"cpu": {"max": 3, "limit": 2}},
            "storage": {"scope": "server", "delete_with_server": False},
            "profiles": ["big"],
        },
        "everything": {"profiles": ["*"]},
    },
}

RESOLVE = {
    "no-groups": ([], {"servers.max_named": 2, "profiles": ("small",), "tier": "defaults"}),
    "unknown-group-ignored": (["zzz"], {"servers.max_named": 2, "tier": "defaults"}),
    "largest-limit-wins": (["a", "b"], {"servers.max_named": 10, "resources.cpu.max": 4.0}),
    "null-beats-number-running": (["a", "b"], {"servers.max_running": None}),
    "null-beats-number-timeout": (["a", "b"], {"idle.stop_after": None}),
    "longest-timeout": (["a"], {"idle.stop_after": 14400.0}),
    "quota-null-unlimited": (["b"], {"quota.cpu": None}),
    "union-of-profiles": (["a", "b"], {"profiles": ("big", "gpu", "small")}),
    "star-absorbs": (["a", "everything"], {"profiles": ("*",)}),
    "ssh-true-wins": (["a", "b"], {"ssh_keys": True}),
    "keep-data-wins": (["a", "b"], {"storage.delete_with_server": False}),
    "scope-first-group-sorted": (["b", "a"], {"storage.scope": "user"}),
    "mount-path-first-group": (["b", "a"], {"storage.mount_path": "/home/{username}"}),
    "tier-label": (["b", "zzz", "a"], {"tier": "a, b"}),
}


def _get(policy: Any, dotted: str) -> Any:
    value = policy
    for part in dotted.split("."):
        value = getattr(value, part)
    return value


@pytest.mark.parametrize(("groups", "expected"), RESOLVE.values(), ids=RESOLVE.keys())
def test_resolve(groups: list[str], expected: dict[str, Any]) -> None:
    policy = PolicyTable.from_dict(TIERS).resolve(groups)
    for key, value in expected.items():
        assert _get(policy, key) == value, key


def test_resolve_records_sources() -> None:
    policy = PolicyTable.from_dict(TIERS).resolve(["a", "b"])
    assert policy.sources["servers.max_named"] == "a"
    assert policy.sources["servers.max_running"] == "b"
    assert policy.sources["resources.cpu.limit"] == "b"
    assert policy.sources["quota.memory"] == "defaults"
    assert policy.sources["profiles"] == "a, b"


def test_resolve_is_cached_per_group_set() -> None:
    table = PolicyTable.from_dict(TIERS)
    assert table.resolve(["a", "b", "zzz"]) is table.resolve(("b", "a"))
    assert table.resolve("a") is table.resolve(["a"])


def test_combined_groups_stay_consistent() -> None:
    policy = PolicyTable.from_dict(TIERS).resolve(["a", "b"])
    cpu = policy.resources.cpu
    assert cpu.guarantee <= cpu.limit <= cpu.max


# name -> (table, paths of every error, found in one pass)
ONE_PASS: dict[str, tuple[Any, set[str]]] = {
    "bad-value-and-guarantee-above-limit": (
        {
            "defaults": {"resources": {"memory": {"max": "32X"}, "cpu": {"guarantee": 4}}},
            "groups": {"a": {"resources": {"gpu": {"default": 2}}}},
        },
        {
            "defaults.resources.memory.max",
            "defaults.resources.cpu",
            "groups.a.resources.gpu",
            "groups.a.quota.gpu",
        },
    ),
    "broken-key-is-not-checked-again": (
        {"defaults": {"resources": {"cpu": {"limit": "lots", "guarantee": 4}}}},
        {"defaults.resources.cpu.limit"},
    ),
    "broken-section": (
        {"defaults": {"quota": 5}, "groups": {"a": {"resources": {"cpu": {"guarantee": 3}}}}},
        {"defaults.quota", "groups.a.resources.cpu"},
    ),
    "broken-pool": (
        {
            "cluster": {"gpu_pool": {"nvidia.com/gpu": "x"}},
            "groups": {"a": {"resources": {"cpu": {"guarantee": 3}, "gpu": {"max": 1}}}},
        },
        {"cluster.gpu_pool.nvidia.com/gpu", "groups.a.resources.cpu"},
    ),
}


@pytest.mark.parametrize(("raw", "paths"), ONE_PASS.values(), ids=ONE_PASS.keys())
def test_cross_checks_run_beside_value_errors(raw: Any, paths: set[str]) -> None:
    with pytest.raises(PolicyConfigError) as info:
        PolicyTable.from_dict(raw)
    assert {issue.path for issue in info.value.issues} == paths, info.value.errors
