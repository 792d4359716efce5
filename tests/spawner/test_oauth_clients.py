"""Servers whose names JupyterHub would give one OAuth client start and stop independently.

JupyterHub's id ``jupyterhub-user-{user}-{server}`` keeps ``-``, so user ``a``
with server ``b-c``, user ``a-b`` with server ``c`` and user ``a-b-c``'s
default server would share a client: the second start fails and a stop deletes
the others' client. PolicySpawner gives each pair its own id; a server that was
running before an upgrade keeps the id it was saved under.
"""

from __future__ import annotations

import ast
import asyncio
import re
import sqlite3
from typing import Any

import httpx
from harness.hub import Hub

from hubplugins.policy.oauth_clients import oauth_client_id
from hubplugins.spawner import volume_names


def _db_path(hub: Hub) -> str:
    text = hub.config_file.read_text()
    match = re.search(r'^c\.JupyterHub\.db_url = "sqlite:///" \+ (.+)$', text, re.M)
    assert match, "the hub's config names no sqlite database"
    return str(ast.literal_eval(match.group(1).strip()))


def _clients(hub: Hub) -> set[str]:
    db = sqlite3.connect(_db_path(hub))
    try:
        return {row[0] for row in db.execute("SELECT identifier FROM oauth_clients")}
    finally:
        db.close()


def _rename_client(hub: Hub, old: str, new: str) -> None:
    """Save a client under another id, as an older hub would have (hub stopped)."""
    db = sqlite3.connect(_db_path(hub))
    try:
        db.execute("UPDATE oauth_clients SET identifier = ? WHERE identifier = ?", (new, old))
        db.execute("UPDATE spawners SET oauth_client_id = ? WHERE oauth_client_id = ?", (new, old))
        db.execute("UPDATE api_tokens SET client_id = ? WHERE client_id = ?", (new, old))
        db.commit()
    finally:
        db.close()


def _url(user: str, server: str) -> str:
    return f"/user/{user}/{server}/" if server else f"/user/{user}/"


def _pod(user: str, server: str) -> str:
    return f"jupyter-{user}--{server}" if server else f"jupyter-{user}"


async def _reaches_its_pod(hub: Hub, user: str, server: str) -> None:
    """``/api/status`` through the proxy answers from this server's own pod."""
    headers = {"Authorization": f"token {hub.token}"}
    async with httpx.AsyncClient(base_url=hub.url, timeout=30) as client:
        resp = await client.get(_url(user, server) + "api/status", headers=headers)
    assert resp.status_code == 200, resp.text[:300]
    assert resp.json().get("pod") == _pod(user, server), resp.text[:300]


async def _start(hub: Hub, user: str, server: str) -> None:
    resp = await hub.api("POST", f"/users/{user}/servers/{server}")
    assert resp.status_code in (201, 202), resp.text


async def _stop(hub: Hub, user: str, server: str, **body: Any) -> None:
    resp = await hub.api("DELETE", f"/users/{user}/servers/{server}", json=body or None)
    assert resp.status_code in (202, 204), resp.text
    if not body.get("remove"):
        await hub.wait_for_server(user, server, ready=False)


def _family(prefix: str) -> list[tuple[str, str]]:
    """Three (user, server) pairs that share one JupyterHub client id."""
    return [(prefix, "b-c"), (f"{prefix}-b", "c"), (f"{prefix}-b-c", "")]


async def test_colliding_family_starts_and_stops_independently(policy_hub, devcluster):
    hub = policy_hub
    family = _family(f"oc{hub.version.replace('.', '')}")
    assert len({f"jupyterhub-user-{u}-{s}".rstrip("-") for u, s in family}) == 1
    ids = {pair: oauth_client_id(*pair) for pair in family}
    assert len(set(ids.values())) == len(family)
    resp = await hub.api("POST", "/users", json={"usernames": sorted({u for u, _ in family})})
    assert resp.status_code == 201, resp.text

    await asyncio.gather(*(_start(hub, u, s) for u, s in family))
    await asyncio.gather(*(hub.wait_for_server(u, s) for u, s in family))
    for user, server in family:
        await _reaches_its_pod(hub, user, server)
    assert set(ids.values()) <= _clients(hub)
    claims = set(devcluster.control.volumes())

    # stop each in turn: the others keep running, reachable, with their clients
    for i, (user, server) in enumerate(family):
        await _stop(hub, user, server)
        clients = _clients(hub)
        assert ids[(user, server)] not in clients
        for other in family[i + 1 :]:
            assert (await hub.wait_for_server(*other, timeout=5))["ready"]
            await _reaches_its_pod(hub, *other)
            assert ids[other] in clients
    # stopping never deleted a volume, its own or another's
    assert set(devcluster.control.volumes()) == claims

    # back up together, then remove one named server: only its own volume goes
    await asyncio.gather(*(_start(hub, u, s) for u, s in family))
    await asyncio.gather(*(hub.wait_for_server(u, s) for u, s in family))
    first, *others = family
    await _stop(hub, *first, remove=True)
    model = (await hub.api("GET", f"/users/{first[0]}?include_stopped_servers=1")).json()
    assert first[1] not in model["servers"]
    removed = f"default/{volume_names.server_claim(*first)}"
    assert removed in claims
    deadline = asyncio.get_running_loop().time() + 30
    while removed in devcluster.control.volumes():
        assert asyncio.get_running_loop().time() < deadline, "the removed server kept its volume"
        await asyncio.sleep(0.1)
    assert set(devcluster.control.volumes()) >= claims - {removed}
    for user, server in others:
        await _reaches_its_pod(hub, user, server)
        assert ids[(user, server)] in _clients(hub)
    for user, server in others:
        await _stop(hub, user, server)


async def test_running_server_keeps_its_saved_client_across_an_upgrade(policy_hub):
    hub = policy_hub
    user = f"up{hub.version.replace('.', '')}-x"
    legacy = f"jupyterhub-user-{user}"  # JupyterHub's own id for this name
    new = oauth_client_id(user)
    assert legacy != new
    await hub.api("POST", f"/users/{user}")
    await _start(hub, user, "")
    await hub.wait_for_server(user)
    assert new in _clients(hub)

    # as if this server had been started before the upgrade
    await hub.stop()
    _rename_client(hub, new, legacy)
    await hub.start()
    assert (await hub.wait_for_server(user))["ready"]
    assert legacy in _clients(hub), "the hub's start-up cleanup deleted a running server's client"
    await _reaches_its_pod(hub, user, "")

    # once stopped it moves to the new id
    await _stop(hub, user, "")
    assert legacy not in _clients(hub)
    await _start(hub, user, "")
    await hub.wait_for_server(user)
    clients = _clients(hub)
    assert new in clients and legacy not in clients
    await _reaches_its_pod(hub, user, "")
    await _stop(hub, user, "")


REAL_SERVER = """
import hubplugins
c.JupyterHub.spawner_class = "hubplugins.PolicySpawner"
c.KubeSpawner.image = "quay.io/jupyter/base-notebook:latest"
c.HubPolicy.policy = {"defaults": {"storage": {"capacity": "1Gi"}}}
hubplugins.setup(c)
"""


async def test_real_servers_sign_in_with_escaped_client_ids(
    make_hub, devcluster, jupyterhub_version
):
    """Real single-user servers: the OAuth sign-in and its cookie under the new id."""
    hub = await make_hub(
        REAL_SERVER, jupyterhub=jupyterhub_version, kubeconfig=devcluster.kubeconfig
    )
    prefix = f"rs{jupyterhub_version.replace('.', '')}"
    family = [(prefix, "b-c"), (f"{prefix}-b", "c")]
    for user, server in family:
        await hub.api("POST", f"/users/{user}")
        await _start(hub, user, server)
    for user, server in family:
        await hub.wait_for_server(user, server)
        browser = await hub.login(user)
        # a page that needs a sign-in: through the hub's OAuth flow and back
        resp = await browser.get(_url(user, server) + "files/none.txt", follow_redirects=True)
        assert any("oauth_callback" in str(r.url) for r in resp.history), resp.history
        assert resp.url.path.startswith(_url(user, server)), resp.url
        cookies = {c.name: c for c in browser.cookies.jar}
        assert oauth_client_id(user, server) in cookies, sorted(cookies)
        # the cookie signs the user in to this server's API
        xsrf = next(c.value for c in browser.cookies.jar if c.name == "_xsrf" and c.path != "/hub/")
        status = await browser.get(_url(user, server) + "api/status", headers={"X-XSRFToken": xsrf})
        assert status.status_code == 200, status.text[:300]
    for user, server in family:
        await _stop(hub, user, server)
