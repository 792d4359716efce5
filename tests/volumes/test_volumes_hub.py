"""Volumes and SSH keys through the real hub, proxy and PolicySpawner on the devcluster.

Files are written and read through each server's Jupyter contents API; the
devcluster shows which volumes and secrets exist and what they hold.
"""

from __future__ import annotations

import asyncio
from typing import Any

import httpx
import pytest

from hubplugins import volume_names

from .hubconfig import CONFIG

pytestmark = pytest.mark.slow

NS = "default"


@pytest.fixture(scope="module")
async def volume_hub(devcluster, tmp_path_factory: pytest.TempPathFactory):
    from harness.hub import start_hub

    hub = await start_hub(
        tmp_path_factory.mktemp("volumehub"), CONFIG, kubeconfig=devcluster.kubeconfig
    )
    yield hub
    await hub.stop()


class Session:
    """One user's token and client, to reach their servers through the proxy."""

    def __init__(self, hub: Any, user: str, token: str) -> None:
        self.hub, self.user = hub, user
        self.headers = {"Authorization": f"token {token}"}

    def _client(self) -> httpx.AsyncClient:
        # a client per call: a hub restart closes the hub's own clients
        return httpx.AsyncClient(base_url=self.hub.url, timeout=60)

    @classmethod
    async def open(cls, hub: Any, user: str) -> Session:
        resp = await hub.api("POST", f"/users/{user}")
        assert resp.status_code in (201, 409), resp.text
        resp = await hub.api("POST", f"/users/{user}/tokens", json={"expires_in": 3600})
        return cls(hub, user, resp.json()["token"])

    def _prefix(self, server: str) -> str:
        return f"/user/{self.user}/{server}" if server else f"/user/{self.user}"

    async def start(self, server: str) -> None:
        resp = await self.hub.api("POST", f"/users/{self.user}/servers/{server}")
        assert resp.status_code in (201, 202), resp.text
        await self.hub.wait_for_server(self.user, server)

    async def stop(self, server: str, *, remove: bool = False) -> None:
        body = {"remove": True} if remove else None
        resp = await self.hub.api("DELETE", f"/users/{self.user}/servers/{server}", json=body)
        assert resp.status_code in (202, 204), resp.text
        if not remove:
            await self.hub.wait_for_server(self.user, server, ready=False)
            return
        for _ in range(600):
            model = (await self.hub.api("GET", f"/users/{self.user}")).json()
            if server not in model["servers"]:
                return
            await asyncio.sleep(0.1)
        raise AssertionError(f"{self.user}/{server} was never removed")

    async def write(self, server: str, path: str, text: str) -> None:
        async with self._client() as client:
            resp = await client.put(
                f"{self._prefix(server)}/api/contents/{path}",
                json={"type": "file", "format": "text", "content": text},
                headers=self.headers,
            )
        assert resp.status_code in (200, 201), resp.text

    async def read(self, server: str, path: str) -> str:
        async with self._client() as client:
            resp = await client.get(
                f"{self._prefix(server)}/api/contents/{path}", headers=self.headers
            )
        assert resp.status_code == 200, resp.text
        return str(resp.json()["content"])

    async def hub_get(self, path: str) -> httpx.Response:
        async with self._client() as client:
            return await client.get(f"/hub/api{path}", headers=self.headers)


def _pod_file(devcluster: Any, pod: str, path: str) -> str:
    rootfs = devcluster.control.pod_rootfs(NS, pod)
    assert rootfs is not None, f"no pod {pod}"
    return (rootfs / path.lstrip("/")).read_text()


def _secrets(devcluster: Any, name: str) -> list[dict[str, Any]]:
    return [s for s in devcluster.control.objects("secrets") if s["metadata"]["name"] == name]


async def test_server_volume_survives_restarts_and_goes_with_the_server(volume_hub, devcluster):
    user, server = "srv1", "lab"
    s = await Session.open(volume_hub, user)
    await s.start(server)
    claim = volume_names.server_claim(user, server)
    await s.write(server, "kept.txt", "still here")
    assert (devcluster.control.volume_path(NS, claim) / "kept.txt").read_text() == "still here"

    await s.stop(server)
    assert devcluster.control.volume_path(NS, claim) is not None
    await volume_hub.restart()
    await s.start(server)
    assert await s.read(server, "kept.txt") == "still here"

    await s.stop(server, remove=True)
    assert devcluster.control.volume_path(NS, claim) is None


async def test_keep_policy_keeps_the_volume_of_a_deleted_server(volume_hub, devcluster):
    user, server = "keep1", "lab"
    s = await Session.open(volume_hub, user)
    await s.start(server)
    claim = volume_names.server_claim(user, server)
    await s.write(server, "kept.txt", "keep me")
    await s.stop(server, remove=True)
    volume = devcluster.control.volume_path(NS, claim)
    assert volume is not None and (volume / "kept.txt").read_text() == "keep me"
    # a new server of the same name finds the kept volume
    await s.start(server)
    assert await s.read(server, "kept.txt") == "keep me"
    await s.stop(server)
    resp = await volume_hub.api("DELETE", f"/users/{user}")
    assert resp.status_code == 204, resp.text
    assert devcluster.control.volume_path(NS, claim) is not None


async def test_user_volume_is_shared_and_outlives_servers_with_one_ssh_key(volume_hub, devcluster):
    user = "shared1"
    s = await Session.open(volume_hub, user)
    claim = volume_names.user_claim(user)
    secret = volume_names.ssh_secret(user)
    await s.start("a")
    await s.write("a", "shared.txt", "from a")
    await s.start("b")
    assert await s.read("b", "shared.txt") == "from a"

    # one key Secret, mounted read-only in both servers, served by the hub
    assert len(_secrets(devcluster, secret)) == 1
    resp = await s.hub_get("/hubplugins/sshkey")
    assert resp.status_code == 200, resp.text
    key = resp.json()["public_key"]
    assert key.startswith("ssh-ed25519 ")
    for server in ("a", "b"):
        pod = f"jupyter-{volume_names.user_server(user, server)}"
        assert _pod_file(devcluster, pod, "/home/jovyan/.ssh/id_ed25519.pub").strip() == key
        assert "PRIVATE KEY" in _pod_file(devcluster, pod, "/home/jovyan/.ssh/id_ed25519")

    # deleting every server keeps the user's volume
    await s.stop("a", remove=True)
    await s.stop("b", remove=True)
    volume = devcluster.control.volume_path(NS, claim)
    assert volume is not None and (volume / "shared.txt").read_text() == "from a"

    # stable across a hub restart: same volume, same key
    await volume_hub.restart()
    await s.start("c")
    assert await s.read("c", "shared.txt") == "from a"
    assert (await s.hub_get("/hubplugins/sshkey")).json()["public_key"] == key
    assert len(_secrets(devcluster, secret)) == 1
    await s.stop("c")

    # deleting the user deletes the volume (delete_with_user) and the key
    resp = await volume_hub.api("DELETE", f"/users/{user}")
    assert resp.status_code == 204, resp.text
    assert devcluster.control.volume_path(NS, claim) is None
    assert _secrets(devcluster, secret) == []


async def test_no_ssh_key_without_the_policy(volume_hub):
    s = await Session.open(volume_hub, "nokey1")
    resp = await s.hub_get("/hubplugins/sshkey")
    assert resp.status_code == 404, resp.text
