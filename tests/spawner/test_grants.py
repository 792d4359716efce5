"""What the policy grants, through the real hub: pods, quotas, the GPU pool, faults."""

from __future__ import annotations

import asyncio
import itertools
import re

_ids = itertools.count()


async def _user(hub, name: str | None = None) -> str:
    user = name or f"g{next(_ids)}"
    resp = await hub.api("POST", f"/users/{user}")
    assert resp.status_code in (201, 409), resp.text
    return user


def _pod(devcluster, user: str, server: str = "") -> dict:
    pods = [
        p
        for p in devcluster.control.objects("pods")
        if p["metadata"].get("annotations", {}).get("hub.jupyter.org/username") == user
        and p["metadata"].get("annotations", {}).get("hub.jupyter.org/servername", "") == server
        and not p["metadata"].get("deletionTimestamp")
    ]
    assert len(pods) == 1, [p["metadata"]["name"] for p in pods]
    return pods[0]


async def _gpu_metric(hub) -> float:
    resp = await hub.api("GET", "/../metrics")
    match = re.search(
        r'^hubplugins_gpu_pool_reserved\{resource="nvidia.com/gpu"\} (\S+)$', resp.text, re.M
    )
    return float(match.group(1)) if match else 0.0


async def test_requested_resources_reach_the_pod_exactly(policy_hub, devcluster):
    # auth1 is in "authenticated": up to 8 CPUs and 16G per server
    user = await _user(policy_hub, f"auth1x{policy_hub.version.replace('.', '')}")
    await policy_hub.api("POST", "/groups/authenticated/users", json={"users": [user]})
    resp = await policy_hub.api(
        "POST", f"/users/{user}/servers/big", json={"cpu": 4, "memory": "8G"}
    )
    assert resp.status_code in (201, 202), resp.text
    await policy_hub.wait_for_server(user, "big")
    container = _pod(devcluster, user, "big")["spec"]["containers"][0]
    limits = container["resources"]["limits"]
    assert float(limits["cpu"]) == 4
    # 8G is 8*10^9 bytes, never 8Gi
    assert int(limits["memory"]) == 8_000_000_000
    assert "nvidia.com/gpu" not in limits
    await policy_hub.api("DELETE", f"/users/{user}/servers/big")


async def test_resources_text_sets_guarantee_and_limit(policy_hub, devcluster):
    user = await _user(policy_hub)
    await policy_hub.api("POST", "/groups/authenticated/users", json={"users": [user]})
    text = "# my server\ncpur=1\ncpul=2\nmemr=1\nmeml=4\n"
    resp = await policy_hub.api("POST", f"/users/{user}/servers/", json={"resources": text})
    assert resp.status_code in (201, 202), resp.text
    await policy_hub.wait_for_server(user, "")
    res = _pod(devcluster, user)["spec"]["containers"][0]["resources"]
    assert float(res["requests"]["cpu"]) == 1 and float(res["limits"]["cpu"]) == 2
    assert int(res["requests"]["memory"]) == 1_000_000_000
    assert int(res["limits"]["memory"]) == 4_000_000_000
    await policy_hub.api("DELETE", f"/users/{user}/servers/")


async def test_quota_across_running_servers(policy_hub):
    # defaults: 1 CPU per server, quota 2 CPUs
    user = await _user(policy_hub)
    for name in ("q1", "q2"):
        resp = await policy_hub.api("POST", f"/users/{user}/servers/{name}")
        assert resp.status_code in (201, 202), resp.text
        await policy_hub.wait_for_server(user, name)
    resp = await policy_hub.api("POST", f"/users/{user}/servers/q3")
    assert resp.status_code == 403, resp.text
    message = resp.json()["message"]
    assert "quota" in message.lower() and "2" in message, message
    # stopping one frees its share of the quota
    await policy_hub.api("DELETE", f"/users/{user}/servers/q1")
    await policy_hub.wait_for_server(user, "q1", ready=False)
    resp = await policy_hub.api("POST", f"/users/{user}/servers/q3")
    assert resp.status_code in (201, 202), resp.text
    await policy_hub.wait_for_server(user, "q3")
    for name in ("q2", "q3"):
        await policy_hub.api("DELETE", f"/users/{user}/servers/{name}")


async def test_gpu_pool_is_first_come_first_served(policy_hub, devcluster):
    suffix = policy_hub.version.replace(".", "")
    users = [await _user(policy_hub, f"gpu{i}x{suffix}") for i in range(20)]
    await policy_hub.api("POST", "/groups/gpu-beta/users", json={"users": users})
    results = await asyncio.gather(
        *(policy_hub.api("POST", f"/users/{u}/servers/", json={"profile": "gpu"}) for u in users)
    )
    started = [u for u, r in zip(users, results, strict=True) if r.status_code in (201, 202)]
    refused = [r for r in results if r.status_code == 409]
    assert len(started) == 4, [r.status_code for r in results]
    assert len(refused) == 16
    assert "GPU pool" in refused[0].json()["message"]
    assert "4 of the 4" in refused[0].json()["message"]
    for u in started:
        await policy_hub.wait_for_server(u, "")
        pod = _pod(devcluster, u)
        assert pod["spec"]["containers"][0]["resources"]["limits"]["nvidia.com/gpu"] == "1"
        assert pod["spec"]["nodeSelector"] == {"hubplugins.io/gpu": "true"}
        assert pod["spec"]["containers"][0]["image"] == "devcluster/stub:cuda"
    assert await _gpu_metric(policy_hub) == 4

    # a stop gives the GPU back to the next user
    await policy_hub.api("DELETE", f"/users/{started[0]}/servers/")
    await policy_hub.wait_for_server(started[0], "", ready=False)
    waiting = next(u for u in users if u not in started)
    resp = await policy_hub.api("POST", f"/users/{waiting}/servers/", json={"profile": "gpu"})
    assert resp.status_code in (201, 202), resp.text
    await policy_hub.wait_for_server(waiting, "")
    for u in [*started[1:], waiting]:
        await policy_hub.api("DELETE", f"/users/{u}/servers/")
    for u in [*started[1:], waiting]:
        await policy_hub.wait_for_server(u, "", ready=False)
    assert await _gpu_metric(policy_hub) == 0


async def test_failed_pod_creation_releases_the_gpu(policy_hub, devcluster):
    user = await _user(policy_hub)
    await policy_hub.api("POST", "/groups/gpu-beta/users", json={"users": [user]})
    pods_before = len(devcluster.control.objects("pods"))
    devcluster.control.fail("create", "pods", status=500, count=1)
    try:
        resp = await policy_hub.api("POST", f"/users/{user}/servers/", json={"profile": "gpu"})
        if resp.status_code in (201, 202):
            model = await policy_hub.wait_for_server(user, "", ready=False)
            assert not model.get("ready")
        else:
            assert resp.status_code >= 400
            assert resp.json()["message"]
    finally:
        devcluster.control.clear_faults()
    assert len(devcluster.control.objects("pods")) == pods_before
    assert await _gpu_metric(policy_hub) == 0
    # and the user can start once the cluster works again
    resp = await policy_hub.api("POST", f"/users/{user}/servers/", json={"profile": "gpu"})
    assert resp.status_code in (201, 202), resp.text
    await policy_hub.wait_for_server(user, "")
    assert await _gpu_metric(policy_hub) == 1
    await policy_hub.api("DELETE", f"/users/{user}/servers/")
    await policy_hub.wait_for_server(user, "", ready=False)


async def test_progress_shows_the_policy_decision(policy_hub, devcluster):
    user = await _user(policy_hub)
    token = (await policy_hub.api("POST", f"/users/{user}/tokens", json={})).json()["token"]
    devcluster.control.set_readiness_delay(2)
    try:
        start = asyncio.ensure_future(policy_hub.api("POST", f"/users/{user}/servers/"))
        for _ in range(200):  # until the hub has the pending server
            if (await policy_hub.api("GET", f"/users/{user}")).json()["servers"]:
                break
            await asyncio.sleep(0.05)
        client = policy_hub.client()
        seen = []
        async with client.stream(
            "GET",
            f"/hub/api/users/{user}/servers//progress",
            headers={"Authorization": f"token {token}"},
        ) as stream:
            async for line in stream.aiter_lines():
                seen.append(line)
                if '"ready": true' in line or '"failed": true' in line:
                    break
        resp = await start
        assert resp.status_code in (201, 202), resp.text
    finally:
        devcluster.control.set_readiness_delay(0)
    text = "\n".join(seen)
    assert "Policy (defaults): 1 CPU, 2G memory" in text, text[:2000]
    assert "quota: 1 of 2 CPUs in use" in text, text[:2000]
    await policy_hub.api("DELETE", f"/users/{user}/servers/")
