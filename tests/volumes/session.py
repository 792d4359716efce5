"""A user's view of the hub in the volume tests: servers, files, the hub API."""

from __future__ import annotations

import ast
import asyncio
import json
import re
import sqlite3
from typing import Any

import httpx

NS = "default"


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

    async def start(self, server: str, **options: Any) -> None:
        resp = await self.hub.api(
            "POST", f"/users/{self.user}/servers/{server}", json=options or None
        )
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
            path = f"/users/{self.user}?include_stopped_servers"
            model = (await self.hub.api("GET", path)).json()
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


def pod_file(devcluster: Any, pod: str, path: str) -> str:
    rootfs = devcluster.control.pod_rootfs(NS, pod)
    assert rootfs is not None, f"no pod {pod}"
    return (rootfs / path.lstrip("/")).read_text()


def secrets_named(devcluster: Any, name: str) -> list[dict[str, Any]]:
    return [s for s in devcluster.control.objects("secrets") if s["metadata"]["name"] == name]


def claims_of(devcluster: Any, pod: str) -> list[str]:
    """The volume claims a pod mounts, from the devcluster's copy of it."""
    for obj in devcluster.control.objects("pods"):
        if obj["metadata"]["name"] == pod and not obj["metadata"].get("deletionTimestamp"):
            volumes = obj["spec"].get("volumes") or []
            return [
                v["persistentVolumeClaim"]["claimName"]
                for v in volumes
                if "persistentVolumeClaim" in v
            ]
    raise AssertionError(f"no pod {pod}")


async def create_claim(devcluster: Any, name: str) -> None:
    """Create a PVC directly, as an older hub would have."""
    from kubernetes_asyncio import client, config

    conf = client.Configuration()
    await config.load_kube_config(config_file=str(devcluster.kubeconfig), client_configuration=conf)
    async with client.ApiClient(conf) as api_client:
        await client.CoreV1Api(api_client).create_namespaced_persistent_volume_claim(
            NS,
            {
                "metadata": {"name": name},
                "spec": {
                    "accessModes": ["ReadWriteOnce"],
                    "resources": {"requests": {"storage": "1Gi"}},
                },
            },
        )


def set_spawner_state(hub: Any, user: str, server: str, state: dict[str, Any]) -> None:
    """Write a server's saved state into the (stopped) hub's database."""
    db = sqlite3.connect(_db_path(hub))
    try:
        cur = db.execute(
            "UPDATE spawners SET state = ? WHERE name = ? AND user_id = "
            "(SELECT id FROM users WHERE name = ?)",
            (json.dumps(state), server, user),
        )
        assert cur.rowcount == 1, (user, server)
        db.commit()
    finally:
        db.close()


def _db_path(hub: Any) -> str:
    """The hub's sqlite file, as its generated config names it."""
    text = hub.config_file.read_text()
    match = re.search(r'^c\.JupyterHub\.db_url = "sqlite:///" \+ (.+)$', text, re.M)
    assert match, "the hub's config names no sqlite database"
    return str(ast.literal_eval(match.group(1).strip()))
