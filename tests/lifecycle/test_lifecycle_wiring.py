"""How ``configure(c)`` and ``hubplugins.setup(c)`` wire the service into a hub config."""

from __future__ import annotations

import json
import os

import pytest
from traitlets.config import Config

import hubplugins
from hubplugins.lifecycle import LIFECYCLE_SCOPES, configure
from hubplugins.lifecycle.endpoint import ENDPOINT
from hubplugins.lifecycle.hub_metrics import METRICS_ENDPOINT, METRICS_SCOPE
from hubplugins.lifecycle.notice_endpoint import NOTICE_ENDPOINT

NAME = "hubplugins-lifecycle"


def entry(c: Config) -> dict:
    (service,) = [s for s in c.JupyterHub.services if s["name"] == NAME]
    return service


def policy_dict(c: Config) -> None:
    c.HubPolicy.policy = {"defaults": {"idle": {"stop_after": "30m"}}}


def policy_file(c: Config) -> None:
    c.HubPolicy.policy_file = "/etc/hub/policy.yaml"


def _url(service: dict) -> str:
    command = service["command"]
    return str(command[command.index("--url") + 1])


CASES = {
    # case: (config before, options, what to check on the service entry)
    "policy-dict-as-json-env": (
        policy_dict,
        {},
        lambda s: (
            json.loads(s["environment"]["HUBPLUGINS_POLICY"])
            == {"defaults": {"idle": {"stop_after": "30m"}}}
        ),
    ),
    "policy-file-as-flag": (
        policy_file,
        {},
        lambda s: s["command"][-2:] == ["--policy-file", "/etc/hub/policy.yaml"],
    ),
    "dry-run-flag": (policy_dict, {"dry_run": True}, lambda s: "--dry-run" in s["command"]),
    # this process stands for the hub: configure() runs in the hub's own process
    "exits-with-its-hub": (
        policy_dict,
        {},
        lambda s: f"--parent-pid={os.getpid()}" in s["command"],
    ),
    "notice-webhook-flag": (
        policy_dict,
        {"notice_webhook": "http://mailer/notices"},
        lambda s: s["command"][-2:] == ["--notice-webhook", "http://mailer/notices"],
    ),
    "metrics-port-is-service-url": (
        policy_dict,
        {"metrics_port": 9999},
        lambda s: s["url"] == "http://127.0.0.1:9999",
    ),
    "no-url-without-metrics": (policy_dict, {}, lambda s: "url" not in s),
    "hub-local-address": (
        lambda c: c.JupyterHub.update(hub_bind_url="http://:8081", base_url="/jh/"),
        {},
        lambda s: _url(s) == "http://127.0.0.1:8081/jh/hub/api",
    ),
    "hub-api-url-given": (
        policy_dict,
        {"hub_api_url": "http://hub.example:8081/hub/api"},
        lambda s: _url(s) == "http://hub.example:8081/hub/api",
    ),
    "runs-the-module": (
        policy_dict,
        {"interval": 60},
        lambda s: s["command"][1:5] == ["-m", "hubplugins.lifecycle", "--interval", "60"],
    ),
}


@pytest.mark.parametrize("case", list(CASES))
def test_configure(case: str) -> None:
    before, options, check = CASES[case]
    c = Config()
    before(c)
    c.JupyterHub.services = [{"name": "other", "api_token": "x"}]
    configure(c, **options)
    configure(c, **options)  # idempotent: replaced, not doubled
    assert [s["name"] for s in c.JupyterHub.services] == ["other", NAME]
    assert check(entry(c))
    (role,) = c.JupyterHub.load_roles
    scopes = [*LIFECYCLE_SCOPES, METRICS_SCOPE]
    assert role == {"name": NAME, "scopes": scopes, "services": [NAME]}
    # the endpoints the service lists, acts and sends its metrics through, once
    paths = [entry[0] for entry in c.JupyterHub.extra_handlers]
    assert paths == [
        ENDPOINT,
        f"{ENDPOINT}/([^/]+)/server",
        f"{ENDPOINT}/([^/]+)/servers/([^/]*)",
        f"{NOTICE_ENDPOINT}/([^/]+)/servers/([^/]*)",
        METRICS_ENDPOINT,
    ]
    assert set(c.JupyterHub.custom_scopes) == {METRICS_SCOPE}


SETUP = {
    "enabled-by-default": ({}, True),
    "disabled": ({"enabled": False}, False),
    "options-from-section": ({"dry_run": True, "interval": 5.0}, True),
}


@pytest.mark.parametrize("case", list(SETUP))
def test_setup_wires_lifecycle(case: str) -> None:
    section, wired = SETUP[case]
    c = Config()
    policy_dict(c)
    for key, value in section.items():
        setattr(c.HubLifecycle, key, value)
    hubplugins.setup(c)
    names = [s["name"] for s in c.JupyterHub.services] if "services" in c.JupyterHub else []
    assert (NAME in names) is wired
    if wired and section.get("dry_run"):
        command = entry(c)["command"]
        assert "--dry-run" in command and command[command.index("--interval") + 1] == "5.0"
