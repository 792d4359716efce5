"""The chart emulation: helm's value merging and the chart's config order."""

from __future__ import annotations

import pytest
import yaml
from traitlets.config import Config

from hubplugins.policy.errors import PolicyConfigError

from .chart_config import apply_values, get_value, merge_values
from .sites import chart_file, merged_values, site_values

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


def _site_config(values: dict, hub_port: int = 8081) -> Config:
    c = Config()
    c.JupyterHub.hub_port = hub_port  # the test hub's port stands for the chart's 8081
    apply_values(c, values)
    return c


def _service(c: Config, name: str) -> dict:
    (service,) = [s for s in c.JupyterHub.services if s["name"] == name]
    return service


def _url(service: dict) -> str:
    command = service["command"]
    flag = next(w for w in command if w.startswith("--url"))
    return str(flag.partition("=")[2] or command[command.index(flag) + 1])


@pytest.mark.parametrize("base_url", ["/", "/jupyter/"])
def test_lifecycle_service_reaches_the_hub_as_the_charts_culler_does(base_url):
    values = merged_values("skao")
    values["hub"]["baseUrl"] = base_url
    lifecycle = _service(_site_config(values), "hubplugins-lifecycle")
    values["cull"]["enabled"] = True
    values["hub"]["config"]["HubLifecycle"] = {"enabled": False}
    culler = _service(_site_config(values), "jupyterhub-idle-culler")
    # the hub's own address in the pod, never the hub Service of hub_connect_url
    assert _url(lifecycle) == _url(culler).replace("localhost", "127.0.0.1")
    assert _url(lifecycle) == f"http://127.0.0.1:8081{base_url}hub/api"


@pytest.mark.parametrize("cull", [None, {"enabled": True}], ids=["chart-default", "enabled"])
def test_setup_refuses_the_charts_culler_beside_the_lifecycle_service(cull):
    site = site_values("skao")
    site.pop("cull")
    if cull is not None:
        site["cull"] = cull
    values = merge_values(yaml.safe_load(chart_file("values.yaml").read_text()), site)
    with pytest.raises(PolicyConfigError) as caught:
        _site_config(values)
    assert "cull.enabled: false" in str(caught.value)
    assert "after 3600 s idle" in str(caught.value)  # the chart's default cull.timeout
