"""End to end: the lifecycle service against a real hub on the devcluster.

A policy of seconds: users in no listed group stop after 2 s idle and their
named servers go 4 s later with their volume; the ``slow`` group stops after
an hour and never deletes. The service sweeps with a token holding exactly
its role's scopes; one user's activity is kept fresh through the hub API. The
hub restarts between the stop and the deletion.
"""

from __future__ import annotations

import asyncio
import json
from datetime import UTC, datetime

import pytest
from harness.ports import free_port

from hubplugins.lifecycle import LIFECYCLE_SCOPES, HubAPI, LifecycleService, PolicySource
from hubplugins_dev.standin import iso

pytestmark = pytest.mark.slow

TOKEN = "lifecycle-test-token-0123456789"
POLICY = {
    "defaults": {"idle": {"stop_after": "2s", "delete_after": "4s"}},
    "groups": {"slow": {"idle": {"stop_after": "1h", "delete_after": None}}},
}
HUB_CONFIG = f"""
c.JupyterHub.allow_named_servers = True
c.KubeSpawner.storage_pvc_ensure = True
c.KubeSpawner.storage_capacity = "1Gi"
c.KubeSpawner.pvc_name_template = "claim-{{user_server}}"
c.KubeSpawner.volumes = [
    {{"name": "home", "persistentVolumeClaim": {{"claimName": "{{pvc_name}}"}}}}
]
c.KubeSpawner.volume_mounts = [{{"name": "home", "mountPath": "/home/jovyan"}}]
# the endpoint the service stops and deletes through (configure(c) adds it too)
from hubplugins.lifecycle.endpoint import setup_endpoint
setup_endpoint(c)
c.JupyterHub.services.append({{"name": "lifecycle-test", "api_token": {TOKEN!r}}})
c.JupyterHub.load_roles.append(
    {{"name": "lifecycle-test", "scopes": {LIFECYCLE_SCOPES!r}, "services": ["lifecycle-test"]}}
)
"""


def claim(user: str, server: str) -> str:
    return f"claim-{user}" + (f"--{server}" if server else "")


async def test_idle_stop_then_delete_by_group(make_hub, devcluster, jupyterhub_version) -> None:
    v = jupyterhub_version.replace(".", "")
    fast, slow, active = f"lcf{v}", f"lcs{v}", f"lca{v}"
    hub = await make_hub(
        HUB_CONFIG, jupyterhub=jupyterhub_version, kubeconfig=devcluster.kubeconfig
    )
    resp = await hub.api("POST", "/users", json={"usernames": [fast, slow, active]})
    assert resp.status_code == 201, resp.text
    resp = await hub.api("POST", "/groups/slow", json={"users": [slow]})
    assert resp.status_code == 201, resp.text
    servers = [(fast, ""), (fast, "nb"), (slow, "nb"), (active, "nb")]
    for user, server in servers:
        resp = await hub.api("POST", f"/users/{user}/servers/{server}")
        assert resp.status_code in (201, 202), resp.text
    for user, server in servers:
        await hub.wait_for_server(user, server)

    api = HubAPI(hub.hub_api, TOKEN, concurrency=4)
    policy = PolicySource(text=json.dumps(POLICY))
    live = LifecycleService(api, policy, retention_interval=0)
    dry = LifecycleService(api, policy, dry_run=True, retention_interval=0)
    every: list[tuple[str, str, str]] = []

    async def sweep(service: LifecycleService) -> set[tuple[str, str, str]]:
        now = iso(datetime.now(UTC))
        body = {"last_activity": now, "servers": {"nb": {"last_activity": now}}}
        resp = await hub.api("POST", f"/users/{active}/activity", json=body)
        assert resp.status_code == 200, resp.text
        result = await service.sweep()
        assert not result.actions("failed"), result.done
        done = {(a.user, a.server, a.action) for a, _ in result.done}
        every.extend(done)
        return done

    async def sweep_until(service: LifecycleService, wanted: set) -> set:
        """Sweep until ``wanted`` was done; everything the sweeps did."""
        done: set[tuple[str, str, str]] = set()
        for _ in range(200):
            done |= await sweep(service)
            if wanted <= done:
                return done
            await asyncio.sleep(0.25)  # idle time has to pass on the hub's clock
        raise AssertionError(f"never planned {wanted}")

    async def model(user: str) -> dict:
        resp = await hub.api("GET", f"/users/{user}?include_stopped_servers=1")
        return resp.json()["servers"]

    try:
        # idle times start now for every server, however long the starts took
        for user, server in servers:
            now = iso(datetime.now(UTC))
            body = {"last_activity": now, "servers": {server: {"last_activity": now}}}
            resp = await hub.api("POST", f"/users/{user}/activity", json=body)
            assert resp.status_code == 200, resp.text

        # stop: pods go, volumes stay; the slow group and the active user are left alone
        stops = {(fast, "", "stop"), (fast, "nb", "stop")}
        assert await sweep_until(live, stops) == stops
        await hub.wait_for_server(fast, "", ready=False)
        await hub.wait_for_server(fast, "nb", ready=False)
        for server in ("", "nb"):
            assert devcluster.control.volume_path("default", claim(fast, server)) is not None

        # idle times live in the hub database: retention keeps counting across a restart
        await hub.restart()
        for user in (slow, active):
            await hub.wait_for_server(user, "nb")

        # retention: the stopped named server goes 4 s after it stopped, with its volume;
        # a dry run first only reports it
        delete = {(fast, "nb", "delete")}
        assert await sweep_until(dry, delete) == delete
        assert "nb" in await model(fast)
        assert devcluster.control.volume_path("default", claim(fast, "nb")) is not None
        assert await sweep(live) == delete
        for _ in range(300):
            if devcluster.control.volume_path("default", claim(fast, "nb")) is None:
                break
            await asyncio.sleep(0.1)
        assert devcluster.control.volume_path("default", claim(fast, "nb")) is None
        fast_servers = await model(fast)
        assert "nb" not in fast_servers
        # the default server is never deleted by idleness, nor its volume
        assert fast_servers[""]["stopped"] and await sweep(live) == set()
        assert devcluster.control.volume_path("default", claim(fast, "")) is not None
        for user in (slow, active):
            assert (await model(user))["nb"]["ready"], user
        assert not [a for a in every if a[0] in (slow, active)]
    finally:
        api.close()
        for user, server in servers:
            await hub.api("DELETE", f"/users/{user}/servers/{server}", json={"remove": True})


async def test_hub_starts_the_wired_service(make_hub, devcluster) -> None:
    """On 5.5, the series the chart ships (the 6.x wiring is the same config)."""
    jupyterhub_version = "5.5"
    user = "lcw55"
    port = free_port()
    config = f"""
c.JupyterHub.allow_named_servers = True
c.HubPolicy.policy = {{"groups": {{"quick": {{"idle": {{"stop_after": "1s"}}}}}},
                      "defaults": {{"idle": {{"stop_after": "1s"}}}}}}
from hubplugins.lifecycle import configure
configure(c, interval=1, dry_run=True, metrics_port={port})
c.JupyterHub.load_groups = {{"quick": {{"users": [{user!r}]}}}}
"""
    hub = await make_hub(config, jupyterhub=jupyterhub_version, kubeconfig=devcluster.kubeconfig)
    resp = await hub.api("POST", f"/users/{user}/server")
    assert resp.status_code in (201, 202), resp.text
    await hub.wait_for_server(user)
    line = ""
    for _ in range(300):
        lines = [
            json.loads(x.split("hubplugins ", 1)[1])
            for x in hub.log_text().splitlines()
            if '"event": "lifecycle"' in x
        ]
        if lines:
            line = lines[0]
            break
        await asyncio.sleep(0.1)
    assert line, hub.log_tail()
    # the role's scopes read the owner's groups; dry run leaves the server running
    assert line["user"] == user and line["policy_groups"] == ["quick"] and line["dry_run"]
    assert "lifecycle sweep failed" not in hub.log_text()
    assert (await hub.api("GET", f"/users/{user}")).json()["servers"][""]["ready"]
    metrics = await hub.client().get(f"http://127.0.0.1:{port}/metrics")
    assert 'hubplugins_lifecycle_servers_stopped_total{dry_run="true"}' in metrics.text
    await hub.api("DELETE", f"/users/{user}/server")
