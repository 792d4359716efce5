"""The package's hub endpoints as an ordinary user's API token reaches them.

One PolicySpawner hub per JupyterHub series on the devcluster, with the
lifecycle endpoints served. Each case is a request a signed-in user can make
with a token of their own: it must be a 4xx naming what is wrong (never a
500), and a token scoped down to less than the user's own rights must not
read what those rights guard.
"""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from pathlib import Path

import httpx
import pytest
from harness.hub import Hub, start_hub

pytestmark = pytest.mark.slow

POLICY = {
    "defaults": {
        "storage": {"capacity": "1Gi", "scope": "user", "mount_path": "/home/jovyan"},
        "ssh_keys": True,
        "quota": {"cpu": None, "memory": None},
    }
}
PROFILES = [
    {"display_name": "Stub", "slug": "stub", "kubespawner_override": {"image": "devcluster/stub"}}
]
CONFIG = f"""
import hubplugins
from hubplugins.lifecycle.endpoint import setup_endpoint
c.JupyterHub.allow_named_servers = True
c.JupyterHub.spawner_class = "hubplugins.PolicySpawner"
c.KubeSpawner.profile_list = {PROFILES!r}
c.HubPolicy.policy = {POLICY!r}
hubplugins.setup(c)
setup_endpoint(c)
"""

OUT_OF_RANGE = "0001-01-01T00:00:00+01:00"


@pytest.fixture(scope="module", params=["6", "5.5"], ids=["jh6", "jh55"])
async def hub(
    request: pytest.FixtureRequest, devcluster, tmp_path_factory: pytest.TempPathFactory
) -> AsyncIterator[Hub]:
    workdir: Path = tmp_path_factory.mktemp(f"tokenhub{request.param}")
    hub = await start_hub(
        workdir, CONFIG, jupyterhub=request.param, kubeconfig=devcluster.kubeconfig
    )
    hub.tag = request.param.replace(".", "")  # type: ignore[attr-defined]
    yield hub
    await hub.stop()


async def new_user(hub: Hub, case: str) -> str:
    user = f"ut{hub.tag}-{case}"[:30]  # type: ignore[attr-defined]
    resp = await hub.api("POST", f"/users/{user}")
    assert resp.status_code == 201, resp.text
    return user


async def token_of(hub: Hub, user: str, **body: object) -> str:
    resp = await hub.api("POST", f"/users/{user}/tokens", json={"note": "test", **body})
    assert resp.status_code == 201, resp.text
    token: str = resp.json()["token"]
    return token


async def post(hub: Hub, path: str, body: object, token: str) -> httpx.Response:
    async with httpx.AsyncClient(timeout=60) as client:
        return await client.post(
            f"{hub.hub_api}{path}",
            content=json.dumps(body).encode(),
            headers={"Authorization": f"token {token}"},
        )


@pytest.mark.parametrize(
    ("endpoint", "body"),
    [
        (
            "lifecycle/users/{user}/servers/nb",
            {"action": "delete", "last_activity": OUT_OF_RANGE, "running": False},
        ),
        (
            "lifecycle/users/{user}/server",
            {"action": "stop", "last_activity": OUT_OF_RANGE, "running": True},
        ),
        (
            "lifecycle/notices/{user}/servers/nb",
            {"last_activity": None, "delete_at": OUT_OF_RANGE},
        ),
    ],
    ids=["delete", "stop-default", "notice"],
)
async def test_an_owners_out_of_range_time_is_a_400_not_a_500(
    hub: Hub, endpoint: str, body: dict[str, object]
) -> None:
    """The owner's own token holds delete:servers on their servers, so the body is read
    before the owner is turned away: a time that leaves datetime's range in UTC."""
    user = await new_user(hub, "time-" + endpoint.split("/")[1][:6])
    token = await token_of(hub, user)
    try:
        resp = await post(hub, "/hubplugins/" + endpoint.format(user=user), body, token)
        assert resp.status_code < 500, resp.text
        assert resp.status_code in (400, 403), resp.text
        assert "OverflowError" not in hub.log_text()
    finally:
        await hub.api("DELETE", f"/users/{user}")


async def test_a_token_scoped_to_the_users_name_does_not_read_their_ssh_key(
    hub: Hub, devcluster
) -> None:
    """A token the user made for reading their name only (as one hands to another
    service, or as a server's OAuth sign-in holds) reads no more than the name: not
    the public key and the Secret's name, which the user's full token reads."""
    user = await new_user(hub, "sshkey")
    full = await token_of(hub, user)
    name_only = await token_of(hub, user, scopes=[f"read:users:name!user={user}"])
    try:
        resp = await hub.api("POST", f"/users/{user}/servers/a", json={"profile": "stub"})
        assert resp.status_code in (201, 202), resp.text
        await hub.wait_for_server(user, "a")
        mine = await hub.api("GET", "/hubplugins/sshkey", token=full)
        assert mine.status_code == 200, mine.text
        assert mine.json()["public_key"].startswith("ssh-ed25519 "), mine.text
        # the same token cannot read the user's own model beyond the name
        model = await hub.api("GET", f"/users/{user}", token=name_only)
        assert "servers" not in model.json(), model.text
        resp = await hub.api("GET", "/hubplugins/sshkey", token=name_only)
        assert resp.status_code == 403, resp.text
    finally:
        await hub.api("DELETE", f"/users/{user}/servers/a")
        await hub.wait_for_server(user, "a", ready=False)
        await hub.api("DELETE", f"/users/{user}")
