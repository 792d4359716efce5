"""The chart emulation: helm's value merging and the chart's config order."""

from __future__ import annotations

import pytest
from traitlets.config import Config

from .chart_config import apply_values, get_value, merge_values

# (case id, chart defaults, site values, merged)
MERGES = [
    ("mapping-merges", {"a": {"x": 1, "y": 2}}, {"a": {"y": 3}}, {"a": {"x": 1, "y": 3}}),
    ("list-replaces", {"a": [1, 2]}, {"a": [3]}, {"a": [3]}),
    ("null-removes", {"a": {"x": 1, "y": 2}}, {"a": {"y": None}}, {"a": {"x": 1}}),
    ("scalar-replaces-mapping", {"a": {"x": 1}}, {"a": 5}, {"a": 5}),
    ("new-key", {}, {"b": {"c": 1}}, {"b": {"c": 1}}),
]


@pytest.mark.parametrize(
    ("base", "site", "merged"), [pytest.param(b, s, m, id=i) for i, b, s, m in MERGES]
)
def test_merge_values_like_helm(base, site, merged):
    assert merge_values(base, site) == merged


def test_merge_leaves_the_defaults_alone():
    base = {"a": {"x": [1]}}
    merge_values(base, {"a": {"x": [2]}})
    assert base == {"a": {"x": [1]}}


def test_get_value_reads_dotted_keys():
    values = {"hub": {"db": {"type": "sqlite-pvc", "url": None}}}
    assert get_value(values, "hub.db.type") == "sqlite-pvc"
    assert get_value(values, "hub.db.url", "none") == "none"
    assert get_value(values, "hub.missing.key") is None


def test_apply_values_in_the_charts_order():
    values = {
        "hub": {
            "allowNamedServers": False,
            "config": {
                "JupyterHub": {"allow_named_servers": True, "cookie_secret": "dropped"},
                "KubeSpawner": {"cpu_limit": 2},
            },
            "extraConfig": {
                "b": "c.KubeSpawner.cpu_limit = 4",
                "a": "c.KubeSpawner.cpu_limit = 3\nc.KubeSpawner.start_timeout = 1",
            },
        },
        "singleuser": {
            "cpu": {"limit": 1},
            "image": {"name": "img", "tag": "v1"},
            "profileList": [{"slug": "x"}],
            "storage": {
                "type": "dynamic",
                "capacity": "2Gi",
                "homeMountPath": "/home/jovyan",
                "dynamic": {"volumeNameTemplate": "volume-{user_server}"},
            },
        },
    }
    c = Config()
    apply_values(c, values)
    assert c.JupyterHub.allow_named_servers is True  # hub.config after chart settings
    assert "cookie_secret" not in c.JupyterHub  # the chart manages it
    assert c.KubeSpawner.cpu_limit == 4  # extraConfig last, in sorted key order
    assert c.KubeSpawner.start_timeout == 1
    assert c.KubeSpawner.image == "img:v1"
    assert c.KubeSpawner.profile_list == [{"slug": "x"}]
    assert c.KubeSpawner.storage_capacity == "2Gi"
    assert c.KubeSpawner.volume_mounts == [
        {"mountPath": "/home/jovyan", "name": "volume-{user_server}"}
    ]
