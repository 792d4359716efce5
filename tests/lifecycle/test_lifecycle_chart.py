"""The lifecycle service in the chart's hub pod: the hub's local address, one culler, metrics.

Pure tables; the chart's config path and a real hub are in ``tests/deploy``.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import yaml
from traitlets.config import Config

import hubplugins
from hubplugins.cli import main as cli_main
from hubplugins.lifecycle import metrics
from hubplugins.lifecycle.cullers import (
    CHART_CULL_DEFAULTS,
    services_culler_issues,
    values_culler_issues,
)
from hubplugins.lifecycle.hub_metrics import MAX_BYTES, read_metrics
from hubplugins.lifecycle.hub_url import local_api_url
from hubplugins.policy.decision import Decision
from hubplugins.policy.errors import PolicyConfigError

CHART_VALUES = Path(__file__).resolve().parents[1] / "deploy" / "z2jh-4.4.0" / "values.yaml"

# (case id, JupyterHub settings, the service's URL; None: JupyterHub's own)
HUB_URLS = [
    ("jupyterhub-defaults", {}, "http://127.0.0.1:8081/hub/api"),
    ("chart", {"hub_bind_url": "http://:8081"}, "http://127.0.0.1:8081/hub/api"),
    (
        "chart-base-url",
        {"hub_bind_url": "http://:8081", "base_url": "/jh"},
        "http://127.0.0.1:8081/jh/hub/api",
    ),
    (
        "every-ipv4-address",
        {"hub_ip": "0.0.0.0", "hub_port": 9000},
        "http://127.0.0.1:9000/hub/api",
    ),
    ("every-ipv6-address", {"hub_bind_url": "http://[::]:8081"}, "http://[::1]:8081/hub/api"),
    ("named-ip", {"hub_ip": "10.0.0.5"}, "http://10.0.0.5:8081/hub/api"),
    ("ipv6-ip", {"hub_ip": "fd00::5"}, "http://[fd00::5]:8081/hub/api"),
    (
        "bind-url-path",
        {"hub_bind_url": "http://127.0.0.1:8081/x/"},
        "http://127.0.0.1:8081/hub/api",
    ),
    ("unix-socket", {"hub_bind_url": "unix+http://%2Fsrv%2Fhub.sock"}, None),
    ("internal-ssl", {"internal_ssl": True}, None),
]


@pytest.mark.parametrize(("settings", "url"), [pytest.param(s, u, id=i) for i, s, u in HUB_URLS])
def test_local_api_url(settings, url):
    assert local_api_url(settings) == url


SETUP_LINE = "import hubplugins; hubplugins.setup(c)"

# (case id, helm values as written, the problem's path or None)
VALUES = [
    ("chart-default-culler", {"hub": {"extraConfig": {"h": SETUP_LINE}}}, "cull.enabled"),
    ("culler-on", {"cull": {"enabled": True}, "hub": {"extraConfig": {"h": SETUP_LINE}}}, "cull"),
    (
        "culler-null-is-default",
        {"cull": {"enabled": None}, "hub": {"extraConfig": {"h": SETUP_LINE}}},
        "cull",
    ),
    ("culler-off", {"cull": {"enabled": False}, "hub": {"extraConfig": {"h": SETUP_LINE}}}, None),
    (
        "lifecycle-off",
        {"hub": {"extraConfig": {"h": SETUP_LINE}, "config": {"HubLifecycle": {"enabled": False}}}},
        None,
    ),
    ("no-hubplugins-setup", {"hub": {"extraConfig": {"x": "c.Spawner.debug = True"}}}, None),
    (
        "configure-call",
        {"hub": {"extraConfig": {"h": "from hubplugins.lifecycle import configure; configure(c)"}}},
        "cull",
    ),
]


@pytest.mark.parametrize(("values", "path"), [pytest.param(v, p, id=i) for i, v, p in VALUES])
def test_values_with_two_cullers_are_refused(values, path):
    issues = values_culler_issues(values)
    if path is None:
        assert issues == []
        return
    (issue,) = issues
    assert issue.path == "cull.enabled"
    assert "cull.enabled: false" in issue.message  # the fix, named
    assert "HubLifecycle.enabled: false" in issue.message


def test_the_chart_default_is_the_charts():
    chart = yaml.safe_load(CHART_VALUES.read_text(encoding="utf-8"))["cull"]
    assert {key: chart[key] for key in CHART_CULL_DEFAULTS} == dict(CHART_CULL_DEFAULTS)
    (issue,) = values_culler_issues({"hub": {"extraConfig": {"h": SETUP_LINE}}})
    assert f"after {chart['timeout']} s idle" in issue.message


CULLER = {
    "name": "jupyterhub-idle-culler",
    "command": ["python3", "-m", "jupyterhub_idle_culler", "--url=x", "--timeout=3600"],
}
# (case id, services already in the hub's config, refused)
SERVICES = [
    ("chart-culler", [CULLER], True),
    ("renamed-culler", [{**CULLER, "name": "culler"}], True),
    ("culler-by-name-only", [{"name": "jupyterhub-idle-culler", "api_token": "x"}], True),
    ("other-service", [{"name": "announcements", "command": ["python3", "-m", "x"]}], False),
    ("none", [], False),
]


@pytest.mark.parametrize(
    ("services", "refused"), [pytest.param(s, r, id=i) for i, s, r in SERVICES]
)
def test_setup_refuses_a_culler_beside_the_lifecycle_service(services, refused):
    assert bool(services_culler_issues(services)) is refused
    c = Config()
    c.JupyterHub.services = [dict(s) for s in services]
    if not refused:
        hubplugins.setup(c)
        assert "hubplugins-lifecycle" in [s["name"] for s in c.JupyterHub.services]
        return
    with pytest.raises(PolicyConfigError) as caught:
        hubplugins.setup(c)
    assert "cull.enabled: false" in str(caught.value)
    # nothing of the lifecycle service was added
    assert "hubplugins-lifecycle" not in [s["name"] for s in c.JupyterHub.services]


def test_setup_keeps_the_culler_when_the_lifecycle_service_is_off():
    c = Config()
    c.JupyterHub.services = [dict(CULLER)]
    c.HubLifecycle.enabled = False
    hubplugins.setup(c)
    assert [s["name"] for s in c.JupyterHub.services] == ["jupyterhub-idle-culler"]


def test_check_refuses_a_values_file_with_two_cullers(tmp_path, capsys):
    values = {
        "hub": {
            "config": {"HubPolicy": {"policy": {"defaults": {"idle": {"stop_after": "2h"}}}}},
            "extraConfig": {"hubplugins": SETUP_LINE},
        }
    }
    path = tmp_path / "values.yaml"
    path.write_text(yaml.safe_dump(values), encoding="utf-8")
    assert cli_main(["check", str(path)]) == 1
    err = capsys.readouterr().err
    assert "cull.enabled:" in err and "set cull.enabled: false" in err
    values["cull"] = {"enabled": False}
    path.write_text(yaml.safe_dump(values), encoding="utf-8")
    assert cli_main(["check", str(path)]) == 0, capsys.readouterr().err


def _body(text: str) -> bytes:
    return json.dumps({"metrics": text}).encode()


# (case id, request body, the refusal's words or None when accepted)
METRIC_BODIES = [
    ("the-services-own", _body(metrics.exposition().decode()), None),
    ("empty-exposition", _body(""), None),
    ("not-json", b"hubplugins_lifecycle_x 1", "JSON object"),
    ("json-list", b"[1]", "JSON object"),
    ("metrics-not-text", json.dumps({"metrics": 5}).encode(), "JSON object"),
    ("empty-body", b"", "JSON object"),
    ("not-utf-8", b"\xff\xfe", "JSON object"),
    ("nested-too-deep", b"[" * 100_000, "JSON object"),
    ("not-the-text-format", _body("hubplugins_lifecycle_x{a=1} one"), "text format"),
    (
        "a-hub-metric",
        _body("# TYPE jupyterhub_running_servers gauge\njupyterhub_running_servers 0\n"),
        "Only",
    ),
    ("too-large", b" " * (MAX_BYTES + 1), "bytes"),
    (
        "too-many-families",
        _body("".join(f"hubplugins_lifecycle_m{i} 1\n" for i in range(65))),
        "families",
    ),
]


@pytest.mark.parametrize(
    ("body", "refused"), [pytest.param(b, r, id=i) for i, b, r in METRIC_BODIES]
)
def test_read_metrics(body, refused):
    result = read_metrics(body)
    if refused is None:
        assert not isinstance(result, Decision)
        assert all(f.name.startswith("hubplugins_lifecycle_") for f in result)
        return
    assert isinstance(result, Decision) and not result.allowed
    assert result.status == 400 and result.rule == "lifecycle.metrics"
    assert refused in result.message
