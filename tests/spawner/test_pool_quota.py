"""Two hubs in one namespace share 4 GPUs through a Kubernetes ResourceQuota.

The two hubs run the two JupyterHub series, so one run covers both ways a
refusal leaves the hub.

Neither hub caps GPUs itself (no ``cluster.gpu_pool``): the API server's quota
admission is the only arbiter. Ten users of each hub ask at once; exactly
four GPU servers start in all, and every other start is the pool's 409
(from the quota's 403), leaving no pod, volume or record behind.
"""

from __future__ import annotations

import asyncio
from typing import Any

import httpx
import pytest
from harness.hub import Hub, start_hub

from .pool_hub import GROUP, gpu_pods, wait_settled

QUOTA = {
    "metadata": {"name": "gpus"},
    "spec": {"hard": {"requests.nvidia.com/gpu": "4"}},
}
USERS = 10


def config(release: str) -> str:
    policy = {
        "defaults": {"resources": {"gpu": {"default": 0, "max": 0}}, "quota": {"gpu": 0}},
        "groups": {GROUP: {"resources": {"gpu": {"max": 1}}, "quota": {"gpu": 1}}},
    }
    return f"""
import hubplugins
c.JupyterHub.allow_named_servers = True
c.JupyterHub.spawner_class = "hubplugins.PolicySpawner"
c.HubPolicy.policy = {policy!r}
c.JupyterHub.load_groups = {{"{GROUP}": {{"users": []}}}}
# distinct names per release, as two z2jh releases in one namespace have
c.KubeSpawner.pod_name_template = "{release}-{{user_server}}"
c.KubeSpawner.common_labels = {{"app": "jupyterhub", "release": "{release}"}}
hubplugins.setup(c)
"""


async def create_quota(devcluster: Any) -> None:
    async with httpx.AsyncClient(timeout=10) as client:
        resp = await client.post(
            f"{devcluster.url}/api/v1/namespaces/default/resourcequotas", json=QUOTA
        )
    assert resp.status_code == 201, resp.text


async def add_users(hub: Hub, users: list[str]) -> None:
    resp = await hub.api("POST", "/users", json={"usernames": users})
    assert resp.status_code == 201, resp.text
    resp = await hub.api("POST", f"/groups/{GROUP}/users", json={"users": users})
    assert resp.status_code == 200, resp.text


async def start_and_settle(hub: Hub, user: str) -> tuple[int, str, dict]:
    resp = await hub.api("POST", f"/users/{user}/servers/nb", json={"gpu": 1})
    assert resp.status_code < 500, resp.text
    message = resp.json().get("message", "") if resp.status_code >= 400 else ""
    model = await wait_settled(hub, user, "nb")
    return resp.status_code, message, model


@pytest.mark.slow
async def test_two_hubs_one_quota(fresh_devcluster, tmp_path) -> None:
    await create_quota(fresh_devcluster)
    releases = ("hub-a", "hub-b")
    series = ("6", "5.5")
    hubs = await asyncio.gather(
        *(
            start_hub(
                tmp_path / r,
                config(r),
                jupyterhub=version,
                kubeconfig=fresh_devcluster.kubeconfig,
            )
            for r, version in zip(releases, series, strict=True)
        )
    )
    try:
        users = {r: [f"{r[-1]}q{i}" for i in range(USERS)] for r in releases}
        await asyncio.gather(
            *(add_users(hub, users[r]) for hub, r in zip(hubs, releases, strict=True))
        )
        answers = await asyncio.gather(
            *(
                start_and_settle(hub, user)
                for hub, r in zip(hubs, releases, strict=True)
                for user in users[r]
            )
        )
        started = [a for a in answers if a[2].get("ready")]
        refused = [a for a in answers if not a[2].get("ready")]
        assert len(started) == 4, answers
        assert len(gpu_pods(fresh_devcluster)) == 4
        # the hub answered the refusal itself when it came in time (else 202, then stopped)
        for status, message, _ in refused:
            assert status in (409, 202), (status, message)
            if status == 409:
                assert "GPU pool exhausted: 4 of the 4 nvidia.com/gpu GPUs shared" in message
        # each hub (each series) refused at least 6 of its 10, and answered a 409 itself
        for i in range(len(hubs)):
            mine = answers[i * USERS : (i + 1) * USERS]
            assert any(status == 409 for status, _, model in mine if not model.get("ready"))
        # nothing of a refused start stays: no pod, no volume, no record of the new server
        pods = {p["metadata"]["name"] for p in fresh_devcluster.control.objects("pods")}
        claims = fresh_devcluster.control.objects("persistentvolumeclaims")
        assert len(pods) == 4 and len(claims) == 4, (pods, claims)
        for hub, r in zip(hubs, releases, strict=True):
            for user in users[r]:
                resp = await hub.api("GET", f"/users/{user}")
                servers = resp.json()["servers"]
                assert f"{r}-{user}--nb" in pods or "nb" not in servers, (user, servers)
        used = [q["status"]["used"] for q in fresh_devcluster.control.objects("resourcequotas")]
        assert used == [{"requests.nvidia.com/gpu": "4"}]
    finally:
        await asyncio.gather(*(hub.stop() for hub in hubs))
