"""End to end, on both JupyterHub series: the usage endpoint, its scopes, notices and keeping.

The lifecycle service sweeps from the test process with a clock set days
ahead (the hub only checks that a server is as listed, never the time), so
retention's days pass without waiting.
"""

from __future__ import annotations

import asyncio
import json
from datetime import UTC, datetime, timedelta

import pytest

from hubplugins.lifecycle import HubAPI, LifecycleService, PolicySource

from .conftest import LIFECYCLE_TOKEN, POLICY

pytestmark = pytest.mark.slow


async def user_token(hub, name: str) -> str:
    resp = await hub.api("POST", f"/users/{name}/tokens", json={"note": "usage test"})
    assert resp.status_code == 201, resp.text
    return resp.json()["token"]


async def join(hub, names: list[str], group: str) -> None:
    resp = await hub.api("POST", f"/groups/{group}", json={"users": names})
    assert resp.status_code in (201, 409), resp.text
    if resp.status_code == 409:  # the group exists
        resp = await hub.api("POST", f"/groups/{group}/users", json={"users": names})
        assert resp.status_code == 200, resp.text


async def make_users(hub, names: list[str], group: str | None = None) -> None:
    resp = await hub.api("POST", "/users", json={"usernames": names})
    assert resp.status_code == 201, resp.text
    if group:
        await join(hub, names, group)


async def start(hub, user: str, server: str, options: dict | None = None) -> None:
    resp = await hub.api("POST", f"/users/{user}/servers/{server}", json=options or {})
    assert resp.status_code in (201, 202), resp.text
    await hub.wait_for_server(user, server)


async def stopped_server(hub, user: str, server: str) -> None:
    """A named server that exists and is stopped (5.5 has no PUT to create one)."""
    await start(hub, user, server)
    resp = await hub.api("DELETE", f"/users/{user}/servers/{server}")
    assert resp.status_code in (202, 204), resp.text
    await hub.wait_for_server(user, server, ready=False)


async def usage(hub, user: str, token: str | None = None, path: str | None = None) -> dict:
    resp = await hub.api("GET", path or f"/hubplugins/usage/{user}", token=token)
    assert resp.status_code == 200, resp.text
    return resp.json()


def by_name(report: dict) -> dict[str, dict]:
    return {s["name"]: s for s in report["servers"]}


async def remove(hub, user: str) -> None:
    resp = await hub.api("GET", f"/users/{user}?include_stopped_servers=1")
    for server in resp.json().get("servers", {}):
        if server:
            await hub.api("DELETE", f"/users/{user}/servers/{server}", json={"remove": True})
        else:
            await hub.api("DELETE", f"/users/{user}/server")


async def test_usage_of_running_stopped_and_gpu_servers_and_its_scopes(usage_hub):
    hub = usage_hub
    v = hub.version.replace(".", "")
    gpu_user, other = f"ug{v}", f"uo{v}"
    await make_users(hub, [gpu_user], "gpu-users")
    await make_users(hub, [other])
    try:
        await asyncio.gather(
            start(hub, gpu_user, ""),
            start(hub, gpu_user, "gpu", {"gpu": 1}),
            stopped_server(hub, gpu_user, "old"),
        )
        token, other_token = await user_token(hub, gpu_user), await user_token(hub, other)

        report = await usage(hub, gpu_user, token)
        assert report == await usage(hub, gpu_user, token, path="/hubplugins/usage")
        assert report["user"] == gpu_user and report["tier"] == "gpu-users"
        servers = by_name(report)
        assert [servers[n]["state"] for n in ("", "gpu", "old")] == ["running"] * 2 + ["stopped"]
        assert servers["gpu"]["granted"]["gpu"] == 1 and servers[""]["granted"]["gpu"] == 0
        assert servers["old"]["granted"] is None
        # when the idle rule stops each running one, and retention deletes the named ones
        assert servers[""]["stop"]["group"] == "defaults" and servers[""]["delete"] is None
        assert servers["old"]["delete"]["rule"] == "idle.delete_after"
        assert servers["old"]["delete"]["text"].startswith("Deleted after 7 days idle: on ")
        assert report["named_servers"] == {"used": 2, "allowed": 5}
        assert report["quota"]["gpu"] == {"used": 1, "allowed": 2}
        assert report["quota"]["cpu"]["allowed"] == 4 and report["quota"]["cpu"]["used"] > 0
        (pool,) = report["gpu_pool"]
        assert pool["resource"] == "nvidia.com/gpu" and pool["size"] == 4 and pool["in_use"] >= 1
        assert "2 of 5 named servers" in report["summary"]

        # JupyterHub's scopes decide: a user reads only their own, an admin anyone's
        resp = await hub.api("GET", f"/hubplugins/usage/{gpu_user}", token=other_token)
        assert resp.status_code in (403, 404), resp.text
        assert gpu_user not in resp.text or "servers" not in resp.json()
        before = (await hub.api("GET", f"/users/{other}?include_stopped_servers=1")).json()
        assert [s["state"] for s in (await usage(hub, other, other_token))["servers"]] in (
            [],
            ["stopped"],  # the default server's record, as JupyterHub made it
        )
        assert (await usage(hub, gpu_user))["user"] == gpu_user  # the admin service
        async with hub.client() as outsider:
            resp = await outsider.get(f"/hub/api/hubplugins/usage/{gpu_user}")
            assert resp.status_code in (401, 403), resp.text
        resp = await hub.api("GET", "/hubplugins/usage/nobody-here")
        assert resp.status_code == 404
        # reading creates nothing
        model = (await hub.api("GET", f"/users/{other}?include_stopped_servers=1")).json()
        assert model["servers"] == before["servers"]
    finally:
        await remove(hub, gpu_user)


async def test_notice_webhook_keep_and_the_rule_that_acted(usage_hub, webhook):
    hub = usage_hub
    v = hub.version.replace(".", "")
    keeper, longer = f"uk{v}", f"ul{v}"
    await make_users(hub, [keeper], "keepers")
    await make_users(hub, [longer], "long")
    api = HubAPI(hub.hub_api, LIFECYCLE_TOKEN, concurrency=4)
    try:
        await asyncio.gather(
            start(hub, keeper, ""),
            stopped_server(hub, keeper, "kept"),
            stopped_server(hub, keeper, "gone"),
            stopped_server(hub, longer, "later"),
        )
        keeper_token, longer_token = await user_token(hub, keeper), await user_token(hub, longer)
        base = datetime.now(UTC)

        def service(days: float) -> LifecycleService:
            return LifecycleService(
                api,
                PolicySource(text=json.dumps(POLICY)),
                clock=lambda: base + timedelta(days=days),
                webhook=webhook.url,
            )

        # keeping: the owner of a tier with allow_keep, nobody else, never a tier without it
        keep = {"keep": True}
        path = f"/hubplugins/usage/{keeper}/servers/kept/keep"
        resp = await hub.api("POST", path, json=keep, token=longer_token)
        assert resp.status_code in (403, 404), resp.text
        resp = await hub.api("POST", path, json=keep, token=keeper_token)
        assert resp.status_code == 200 and by_name(resp.json())["kept"]["kept"], resp.text
        resp = await hub.api(
            "POST", f"/hubplugins/usage/{longer}/servers/later/keep", json=keep, token=longer_token
        )
        assert resp.status_code == 403 and "idle.allow_keep" in resp.text, resp.text
        resp = await hub.api("POST", path, json={"keep": "yes"}, token=keeper_token)
        assert resp.status_code == 400, resp.text

        # 6.5 days on: the idle stop of the running server, one notice for "gone", none for
        # the kept one, none yet for the 30-day tier
        result = await service(6.5).sweep()
        assert {(a.server, a.action, a.rule, a.rule_group, o in ("done", "pending"))
                for a, o in result.done if a.user == keeper} == {
            ("", "stop", "idle.stop_after", "defaults", True)
        }  # fmt: skip
        assert [(n.user, n.server, o) for n, o in result.notices if o == "noticed"] == [
            (keeper, "gone", "noticed")
        ]
        await asyncio.wait_for(webhook.arrived.wait(), 30)
        (body,) = webhook.bodies
        assert body["event"] == "delete-notice" and body["user"] == keeper
        assert body["server"] == "gone" and body["rule"] == "idle.delete_after"
        assert body["group"] == "defaults" and body["delete_at"].endswith("Z")
        # once per idle period
        again = await service(6.6).sweep()
        assert again.noticed == 0 and len(webhook.bodies) == 1

        await hub.wait_for_server(keeper, "", ready=False)
        servers = by_name(await usage(hub, keeper, keeper_token))
        assert servers["gone"]["notice"]["text"].startswith("Will be deleted on ")
        assert servers["kept"]["notice"] is None and servers["kept"]["delete"] is None
        assert servers[""]["last_action"]["text"] == (
            "Your default server was stopped after 2 h idle, the rule for your group "
            "defaults (idle.stop_after)"
        )

        # 7.5 days on: retention deletes "gone", naming its rule; the kept server stays
        result = await service(7.5).sweep()
        done = {(a.user, a.server, a.action, o) for a, o in result.done}
        assert (keeper, "gone", "delete", "done") in done
        assert (keeper, "kept", "delete", "kept") in done
        report = await usage(hub, keeper, keeper_token)
        assert set(by_name(report)) == {"", "kept"}
        (note,) = report["deleted"]
        assert note["server"] == "gone" and note["rule"] == "idle.delete_after"
        assert note["text"].startswith("Server 'gone' was deleted after 7 days idle")
        assert "by idle.delete_after (defaults)" in hub.log_text()

        # 29.5 days on: the 30-day tier's notice; starting the server clears it
        result = await service(29.5).sweep()
        assert (longer, "later", "noticed") in {(n.user, n.server, o) for n, o in result.notices}
        assert by_name(await usage(hub, longer, longer_token))["later"]["notice"] is not None
        await start(hub, longer, "later")
        assert by_name(await usage(hub, longer, longer_token))["later"]["notice"] is None
        assert (keeper, "kept") in {(a.user, a.server) for a in result.actions("kept")}
        assert "kept" in by_name(await usage(hub, keeper))  # admins see it, and that it is kept
        assert by_name(await usage(hub, keeper))["kept"]["kept"]

        # a tier that no longer allows keeping: the mark counts for nothing
        resp = await hub.api("DELETE", "/groups/keepers/users", json={"users": [keeper]})
        assert resp.status_code == 200, resp.text
        assert not by_name(await usage(hub, keeper))["kept"]["kept"]
        result = await service(29.5).sweep()
        assert (keeper, "kept", "delete", "done") in {
            (a.user, a.server, a.action, o) for a, o in result.done
        }
    finally:
        api.close()
        await remove(hub, keeper)
        await remove(hub, longer)
