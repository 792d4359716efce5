"""The foundation end to end: real JupyterHub, real proxy, unmodified KubeSpawner.

A user signs in, starts the default and a named server on the devcluster,
reaches each through the proxy, writes a file into the server's home, stops
and starts it again, reads the file back, deletes the named server with
``remove: true`` and sees its volume gone.
"""

from __future__ import annotations

import asyncio

import pytest

PLAIN_KUBESPAWNER = """
c.JupyterHub.allow_named_servers = True
c.KubeSpawner.image = "quay.io/jupyter/base-notebook:latest"
c.KubeSpawner.storage_pvc_ensure = True
c.KubeSpawner.storage_capacity = "1Gi"
c.KubeSpawner.pvc_name_template = "claim-{user_server}"
c.KubeSpawner.volumes = [
    {"name": "home", "persistentVolumeClaim": {"claimName": "{pvc_name}"}}
]
c.KubeSpawner.volume_mounts = [{"name": "home", "mountPath": "/home/jovyan"}]
"""

pytestmark = pytest.mark.slow


async def _wait_ready(client, user: str, server: str) -> None:
    for _ in range(600):
        resp = await client.get(f"/hub/api/users/{user}/servers/{server}/progress")
        if resp.status_code == 200 and '"ready": true' in resp.text:
            return
        await asyncio.sleep(0.1)
    raise AssertionError(f"{user}/{server} never became ready")


@pytest.mark.parametrize("server", ["", "lab1"], ids=["default", "named"])
async def test_server_round_trip_keeps_files(make_hub, devcluster, jupyterhub_version, server):
    user = f"rt{jupyterhub_version.replace('.', '')}{server or 'dflt'}"
    hub = await make_hub(
        PLAIN_KUBESPAWNER, jupyterhub=jupyterhub_version, kubeconfig=devcluster.kubeconfig
    )
    browser = await hub.login(user, "any")
    assert browser.login_response.status_code in (200, 302)

    # start through the REST API as the user would from the home page
    resp = await hub.api("POST", f"/users/{user}/servers/{server}")
    assert resp.status_code in (201, 202), resp.text
    await hub.wait_for_server(user, server)

    prefix = f"/user/{user}/{server}" if server else f"/user/{user}"
    token = (await hub.api("POST", f"/users/{user}/tokens", json={"expires_in": 600})).json()[
        "token"
    ]
    headers = {"Authorization": f"token {token}"}

    status = await browser.get(f"{prefix}/api/status", headers=headers)
    assert status.status_code == 200, status.text
    assert "started" in status.json()

    put = await browser.put(
        f"{prefix}/api/contents/kept.txt",
        json={"type": "file", "format": "text", "content": "still here"},
        headers=headers,
    )
    assert put.status_code in (200, 201), put.text

    claim = f"claim-{user}" + (f"--{server}" if server else "")
    volume = devcluster.control.volume_path("default", claim)
    assert volume is not None and (volume / "kept.txt").read_text() == "still here"

    # stop: the pod goes, the volume stays
    resp = await hub.api("DELETE", f"/users/{user}/servers/{server}")
    assert resp.status_code in (202, 204), resp.text
    await hub.wait_for_server(user, server, ready=False)
    assert (volume / "kept.txt").read_text() == "still here"

    # start again: the file is read back through the server
    resp = await hub.api("POST", f"/users/{user}/servers/{server}")
    assert resp.status_code in (201, 202), resp.text
    await hub.wait_for_server(user, server)
    got = await browser.get(f"{prefix}/api/contents/kept.txt", headers=headers)
    assert got.status_code == 200, got.text
    assert got.json()["content"] == "still here"

    if not server:
        return
    # delete the named server for good: its volume goes with it
    resp = await hub.api("DELETE", f"/users/{user}/servers/{server}", json={"remove": True})
    assert resp.status_code in (202, 204), resp.text
    for _ in range(300):
        if devcluster.control.volume_path("default", claim) is None:
            break
        await asyncio.sleep(0.1)
    assert devcluster.control.volume_path("default", claim) is None
    assert not volume.exists()
    model = (await hub.api("GET", f"/users/{user}")).json()
    assert server not in model["servers"]
