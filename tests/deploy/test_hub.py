"""Each site's values through the chart's config path into a real hub on the devcluster.

The merged values (chart defaults + site file) are applied by
:mod:`chart_config`, which mirrors the chart's ``jupyterhub_config.py``, in a
real JupyterHub 5.5 (the series the chart ships) with the real proxy and
unmodified KubeSpawner code. The test then checks that the site's policy is in
force: requests above the site's caps are refused with 403 and the site's limit
in the message, and an allowed start gets what the policy grants.

Two test-only substitutions, applied to the values before the hub starts:

- sign-in uses JupyterHub's dummy authenticator instead of the site's
  directory, GitHub or OpenID Connect sign-in (tested in ``tests/auth_*``);
  groups come from ``JupyterHub.load_groups``;
- every image becomes the devcluster's stub image, so no notebook process runs.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from typing import Any

import pytest
from harness.hub import Hub

from hubplugins.policy.quantities import parse_cpu, parse_memory

from .chart_config import config_text
from .sites import merged_values

pytestmark = pytest.mark.slow

JUPYTERHUB = "5.5"  # what the Zero-to-JupyterHub chart 4.x ships


def _stub_images(node: Any, tag: str) -> None:
    """Replace every ``image`` in profile overrides with the devcluster stub image."""
    if isinstance(node, dict):
        for key, value in node.items():
            if key == "image" and isinstance(value, str):
                node[key] = f"devcluster/stub:{tag}"
            else:
                _stub_images(value, tag)
    elif isinstance(node, list):
        for item in node:
            _stub_images(item, tag)


def deploy_values(site: str) -> dict[str, Any]:
    """The site's merged values with the test substitutions (see the module doc)."""
    values = merged_values(site)
    # sign-in is not under test here: the dummy authenticator replaces the site's,
    # and the site's Authenticator settings go with it (auth state needs the
    # encryption key the chart generates, which this hub does not have)
    values["hub"]["config"]["JupyterHub"]["authenticator_class"] = "dummy"
    values["hub"]["config"].pop("Authenticator", None)
    values["singleuser"]["image"] = {"name": "devcluster/stub", "tag": site}
    _stub_images(values["singleuser"]["profileList"], site)
    return values


async def _site_hub(make_hub, devcluster, site: str, groups: dict[str, list[str]]) -> Hub:
    load_groups = {name: {"users": users} for name, users in groups.items()}
    config = config_text(deploy_values(site)) + f"c.JupyterHub.load_groups = {load_groups!r}\n"
    return await make_hub(config, jupyterhub=JUPYTERHUB, kubeconfig=devcluster.kubeconfig)


async def _start(hub: Hub, user: str, server: str = "", **options: Any) -> Any:
    created = await hub.api("POST", f"/users/{user}")
    assert created.status_code in (201, 409), created.text
    return await hub.api("POST", f"/users/{user}/servers/{server}", json=options)


async def _refused(hub: Hub, user: str, server: str, options: dict, status: int) -> str:
    resp = await _start(hub, user, server, **options)
    assert resp.status_code == status, resp.text
    return str(resp.json()["message"])


async def _started(hub: Hub, user: str, server: str = "", **options: Any) -> None:
    resp = await _start(hub, user, server, **options)
    assert resp.status_code in (201, 202), resp.text
    await hub.wait_for_server(user, server)


def _pod(devcluster, user: str, server: str = "") -> dict[str, Any]:
    for pod in devcluster.control.objects("pods"):
        annotations = pod["metadata"].get("annotations") or {}
        if (
            annotations.get("hub.jupyter.org/username") == user
            and annotations.get("hub.jupyter.org/servername", "") == server
        ):
            return pod
    raise AssertionError(f"no pod for {user}/{server}")


@pytest.fixture
async def stopped_at_end() -> AsyncIterator[list[tuple[Hub, str, str]]]:
    """Servers to stop before the hub goes, so no pod outlives its test."""
    servers: list[tuple[Hub, str, str]] = []
    yield servers
    for hub, user, server in servers:
        await hub.api("DELETE", f"/users/{user}/servers/{server}")
    for hub, user, server in servers:
        await hub.wait_for_server(user, server, ready=False)


async def test_skao(make_hub, devcluster, stopped_at_end):
    hub = await _site_hub(make_hub, devcluster, "skao", {})
    user = "skao-user"

    message = await _refused(hub, user, "", {"profile": "default", "cpu": 2}, 403)
    assert "1 core" in message
    message = await _refused(hub, user, "", {"profile": "test", "memory": "3G"}, 403)
    assert "2G" in message
    message = await _refused(hub, user, "a" * 21, {}, 400)
    assert "20" in message

    names = [f"nb{i}" for i in range(1, 6)]
    stopped_at_end.extend((hub, user, name) for name in names)
    await asyncio.gather(*(_started(hub, user, name, profile="test") for name in names))
    pod = _pod(devcluster, user, "nb1")
    limits = pod["spec"]["containers"][0]["resources"]["limits"]
    assert parse_memory(str(limits["memory"])) == 2 * 10**9  # never 2Gi

    message = await _refused(hub, user, "nb6", {"profile": "default"}, 403)
    assert "5 of 5" in message


async def test_bioimage(make_hub, devcluster, stopped_at_end):
    groups = {"authenticated": ["bio-member", "bio-gpu"], "gpu-beta": ["bio-gpu"]}
    hub = await _site_hub(make_hub, devcluster, "bioimage", groups)

    # (user, options, what the message must name)
    cases = [
        ("bio-public", {"memory": "9G"}, "8G"),
        ("bio-public", {"cpu": 5}, "4 cores"),
        ("bio-public", {"profile": "gpu"}, "cpu"),
        ("bio-member", {"memory": "17G"}, "16G"),
        ("bio-member", {"profile": "gpu"}, "cpu"),
        ("bio-gpu", {"profile": "gpu", "gpu": 3}, "2 GPUs"),
        ("bio-gpu", {"profile": "gpu", "memory": "33G"}, "32G"),
    ]
    for user, options, limit in cases:
        message = await _refused(hub, user, "", options, 403)
        assert limit in message, (user, options, message)

    # the public tier holds one named server
    stopped_at_end.append((hub, "bio-public", "first"))
    await _started(hub, "bio-public", "first", profile="cpu")
    message = await _refused(hub, "bio-public", "second", {"profile": "cpu"}, 403)
    assert "1 of 1" in message


async def test_cerit(make_hub, devcluster, stopped_at_end):
    hub = await _site_hub(make_hub, devcluster, "cerit", {})
    user = "cerit-user"

    message = await _refused(hub, user, "", {"resources": "meml=17"}, 403)
    assert "16G" in message
    message = await _refused(hub, user, "", {"cpu": 9}, 403)
    assert "8 cores" in message

    # a .resources request raises the guarantees; every server mounts the user's one volume
    stopped_at_end.extend([(hub, user, ""), (hub, user, "second")])
    await asyncio.gather(
        _started(hub, user, "", resources="cpur=2\nmemr=4"), _started(hub, user, "second")
    )
    first, second = _pod(devcluster, user), _pod(devcluster, user, "second")
    requests = first["spec"]["containers"][0]["resources"]["requests"]
    assert parse_memory(str(requests["memory"])) == 4 * 10**9
    assert parse_cpu(str(requests["cpu"])) == parse_cpu(2)
    claims = [
        {
            v["persistentVolumeClaim"]["claimName"]
            for v in pod["spec"]["volumes"]
            if "persistentVolumeClaim" in v
        }
        for pod in (first, second)
    ]
    assert claims[0] == claims[1] == {f"claim-{user}"}


async def _lifecycle_hub(make_hub, devcluster, jupyterhub: str) -> Hub:
    values = deploy_values("skao")
    # the service on, in a dry run, sweeping every second
    values["hub"]["config"]["HubLifecycle"] = {"enabled": True, "interval": 1, "dry_run": True}
    return await make_hub(
        config_text(values), jupyterhub=jupyterhub, kubeconfig=devcluster.kubeconfig
    )


async def _lifecycle_metrics(hub: Hub) -> str:
    """The hub's /hub/metrics once it holds a sweep of the lifecycle service."""
    deadline = asyncio.get_running_loop().time() + 60
    while True:
        resp = await hub.api("GET", "/metrics")  # the admin service holds read:metrics
        assert resp.status_code == 200, resp.text
        if "hubplugins_lifecycle_sweep_duration_seconds_count" in resp.text:
            return resp.text
        assert asyncio.get_running_loop().time() < deadline, hub.log_tail()
        await asyncio.sleep(0.2)


async def test_lifecycle_service_in_the_charts_hub_pod(make_hub, devcluster):
    """Both series: the service reaches the hub at its local address, its metrics are the hub's."""
    hubs = await asyncio.gather(
        *(_lifecycle_hub(make_hub, devcluster, series) for series in ("5.5", "6"))
    )
    for hub in hubs:
        text = await _lifecycle_metrics(hub)
        assert "jupyterhub_" in text  # beside the hub's own
        line = next(
            x for x in hub.log_text().splitlines() if "Starting service 'hubplugins-lifecycle'" in x
        )
        assert f"'--url', 'http://127.0.0.1:{hub.hub_port}/hub/api'" in line
        assert "metrics not sent" not in hub.log_text()
        # nobody else may stand in for the service's metrics, an admin's token neither
        resp = await hub.api(
            "PUT",
            "/hubplugins/lifecycle/metrics",
            json={"metrics": "hubplugins_lifecycle_servers_stopped_total 1e9\n"},
        )
        assert resp.status_code == 403, resp.text
        assert "custom:hubplugins:lifecycle-metrics" in resp.json()["message"]
        lines = (await hub.api("GET", "/metrics")).text.splitlines()
        assert not [x for x in lines if x.startswith("hubplugins_lifecycle_servers_stopped_total ")]
