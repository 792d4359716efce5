"""The hub acts on a server only if it is still as the sweep listed it.

One PolicySpawner hub per JupyterHub series on the devcluster serves the
lifecycle endpoint. The races are driven deterministically: the service's
listing is wrapped so that something happens (a start, some activity) after
the listing and before the action; the sweep runs at a "now" a month ahead, so
every listed server is due. Then the raw endpoint is asked with bad tokens and
bad input.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator, Awaitable, Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest
from harness.hub import Hub, start_hub

from hubplugins.lifecycle import LIFECYCLE_SCOPES, HubAPI, LifecycleService, PolicySource
from hubplugins.lifecycle.endpoint import RULE_HEADER
from hubplugins.spawner.volume_names import server_claim
from hubplugins_dev.standin import iso

pytestmark = pytest.mark.slow

TOKEN = "lifecycle-endpoint-token-0123456789"
POLICY = {
    "defaults": {
        "idle": {"stop_after": "1h", "delete_after": "7d"},
        "storage": {"capacity": "1Gi", "scope": "server", "delete_with_server": True},
        "quota": {"cpu": None, "memory": None},
    }
}
CONFIG = f"""
import hubplugins
from hubplugins.lifecycle.endpoint import setup_endpoint
c.JupyterHub.allow_named_servers = True
c.JupyterHub.spawner_class = "hubplugins.PolicySpawner"
c.HubPolicy.policy = {POLICY!r}
hubplugins.setup(c)
# the test drives the service itself: its token and role, and the endpoint
setup_endpoint(c)
c.JupyterHub.services.append({{"name": "lc-endpoint", "api_token": {TOKEN!r}}})
c.JupyterHub.load_roles.append(
    {{"name": "lc-endpoint", "scopes": {LIFECYCLE_SCOPES!r}, "services": ["lc-endpoint"]}}
)
"""


@pytest.fixture(scope="module", params=["6", "5.5"], ids=["jh6", "jh55"])
async def hub(
    request: pytest.FixtureRequest, devcluster, tmp_path_factory: pytest.TempPathFactory
) -> AsyncIterator[Hub]:
    workdir: Path = tmp_path_factory.mktemp(f"lchub{request.param}")
    hub = await start_hub(
        workdir, CONFIG, jupyterhub=request.param, kubeconfig=devcluster.kubeconfig
    )
    hub.tag = request.param.replace(".", "")  # type: ignore[attr-defined]
    yield hub
    await hub.stop()


def name(hub: Hub, case: str) -> str:
    return f"le{hub.tag}-{case}"[:30]  # type: ignore[attr-defined]


async def start(hub: Hub, user: str, server: str, *, wait: bool = True) -> None:
    path = f"/users/{user}/servers/{server}" if server else f"/users/{user}/server"
    resp = await hub.api("POST", path)
    assert resp.status_code in (201, 202), resp.text
    if wait:
        await hub.wait_for_server(user, server)


async def stop(hub: Hub, user: str, server: str) -> None:
    path = f"/users/{user}/servers/{server}" if server else f"/users/{user}/server"
    resp = await hub.api("DELETE", path)
    assert resp.status_code in (202, 204), resp.text
    await hub.wait_for_server(user, server, ready=False)


async def servers(hub: Hub, user: str) -> dict[str, Any]:
    resp = await hub.api("GET", f"/users/{user}?include_stopped_servers=1")
    assert resp.status_code == 200, resp.text
    return dict(resp.json()["servers"])


async def new_user(hub: Hub, user: str, running: dict[str, bool]) -> None:
    """A user with servers, each running or stopped as given (volumes made by a start)."""
    resp = await hub.api("POST", f"/users/{user}")
    assert resp.status_code == 201, resp.text
    await asyncio.gather(*(start(hub, user, s) for s in running))
    await asyncio.gather(*(stop(hub, user, s) for s, run in running.items() if not run))


def volume(devcluster, user: str, server: str) -> Any:
    return devcluster.control.volume_path("default", server_claim(user, server))


async def volume_gone(devcluster, user: str, server: str) -> bool:
    deadline = asyncio.get_running_loop().time() + 30
    while volume(devcluster, user, server) is not None:
        if asyncio.get_running_loop().time() > deadline:
            return False
        await asyncio.sleep(0.1)
    return True


class ListingThen(HubAPI):
    """The hub API for one user's servers, doing ``between`` after listing them."""

    def __init__(self, hub: Hub, user: str, between: Callable[[], Awaitable[None]] | None):
        super().__init__(hub.hub_api, TOKEN, concurrency=2)
        self.user, self.between = user, between

    async def listing(self, **kwargs: Any) -> AsyncIterator[list[dict[str, Any]]]:
        listed = False
        async for page in super().listing(**kwargs):
            page = [u for u in page if u["name"] == self.user]
            listed = listed or bool(page)
            yield page
        # after the listing that held the user, before the sweep acts on it
        if listed and self.between is not None:
            between, self.between = self.between, None
            await between()


async def sweep(hub: Hub, user: str, between=None) -> dict[str, str]:
    """One sweep of ``user``'s servers a month ahead: {server: outcome}."""
    later = datetime.now(UTC) + timedelta(days=30)
    api = ListingThen(hub, user, between)
    service = LifecycleService(api, PolicySource(text=json.dumps(POLICY)), clock=lambda: later)
    try:
        result = await service.sweep()
    finally:
        api.close()
    return {action.server: outcome for action, outcome in result.done}


async def activity(hub: Hub, user: str, server: str) -> None:
    now = iso(datetime.now(UTC) + timedelta(seconds=1))
    body = {"servers": {server: {"last_activity": now}}}
    resp = await hub.api("POST", f"/users/{user}/activity", json=body)
    assert resp.status_code == 200, resp.text


RACES = {
    # case: (server, running when listed, what happens after the listing, outcome, running after)
    "started-after-listing": ("nb", False, "start", "started", True),
    "used-after-listing": ("nb", False, "activity", "active", False),
    "running-used-after-listing": ("nb", True, "activity", "active", True),
    "default-used-after-listing": ("", True, "activity", "active", True),
}


@pytest.mark.parametrize("case", list(RACES))
async def test_server_changed_after_listing_is_left_alone(hub: Hub, devcluster, case: str) -> None:
    server, running, event, outcome, running_after = RACES[case]
    user = name(hub, case)
    await new_user(hub, user, {server: running})

    async def between() -> None:
        if event == "start":
            await start(hub, user, server, wait=False)
        else:
            await activity(hub, user, server)

    try:
        assert await sweep(hub, user, between) == {server: outcome}
        if running_after:
            await hub.wait_for_server(user, server)
        model = (await servers(hub, user))[server]
        assert model["stopped"] is (not running_after), model
        assert volume(devcluster, user, server) is not None
        lines = [
            x
            for x in hub.log_text().splitlines()
            if '"event": "lifecycle-request"' in x and f'"user": "{user}"' in x
        ]
        assert lines and '"outcome": "refused"' in lines[-1], lines
    finally:
        await hub.api("DELETE", f"/users/{user}")


DONE = {
    # case: (server, running when listed, outcome, server kept, volume kept)
    "stopped-named-deleted": ("nb", False, "done", False, False),
    "running-named-stopped-and-deleted": ("nb", True, "done", False, False),
    "running-default-stopped": ("", True, "done", True, True),
}


@pytest.mark.parametrize("case", list(DONE))
async def test_unchanged_server_is_acted_on(hub: Hub, devcluster, case: str) -> None:
    server, running, outcome, kept, volume_kept = DONE[case]
    user = name(hub, case)
    await new_user(hub, user, {server: running})
    try:
        assert await sweep(hub, user) == {server: outcome}
        models = await servers(hub, user)
        assert (server in models) is kept, models
        if kept:
            assert models[server]["stopped"], models
        if volume_kept:
            assert volume(devcluster, user, server) is not None
        else:
            assert await volume_gone(devcluster, user, server)
    finally:
        await hub.api("DELETE", f"/users/{user}")


STALE = "2020-01-01T00:00:00.000000Z"
DELETE = {"action": "delete", "running": False}  # last_activity: the hub's own, added
REQUEST, GONE, ACTIVITY = "lifecycle.request", "lifecycle.gone", "lifecycle.activity"
REFUSALS = {
    # case: (token, server in the path, body, status, rule or None for JupyterHub's own)
    "no-token": ("none", "nb", DELETE, 403, None),
    # another user's token holds delete:servers for that user only: JupyterHub answers
    # 404 there, on its own DELETE as here, so as not to tell whether the server exists
    "other-users-token": ("other", "nb", DELETE, 404, None),
    "token-without-the-scope": ("read-only", "nb", DELETE, 403, None),
    "owners-token": ("owner", "nb", DELETE, 403, "lifecycle.owner"),
    "not-json": ("service", "nb", b"{nope", 400, None),
    "not-an-object": ("service", "nb", ["delete"], 400, REQUEST),
    "missing-field": ("service", "nb", {"action": "delete", "last_activity": None}, 400, REQUEST),
    "unknown-field": ("service", "nb", {**DELETE, "force": True}, 400, REQUEST),
    "unknown-action": ("service", "nb", {**DELETE, "action": "purge"}, 400, REQUEST),
    "running-not-a-bool": ("service", "nb", {**DELETE, "running": "no"}, 400, REQUEST),
    "malformed-time": ("service", "nb", {**DELETE, "last_activity": "yesterday"}, 400, REQUEST),
    "delete-default": ("service", "", DELETE, 400, REQUEST),
    "unknown-server": ("service", "zz", DELETE, 404, GONE),
    "unknown-user": ("service", "@nobody", DELETE, 404, GONE),
    "seen-stopped-is-running": ("service", "run", DELETE, 409, "lifecycle.started"),
    "stale-activity": ("service", "nb", {**DELETE, "last_activity": STALE}, 412, ACTIVITY),
}


@pytest.fixture(scope="module")
async def refusal_user(hub: Hub) -> AsyncIterator[dict[str, str]]:
    """A user with a stopped "nb" and a running "run", and the tokens to ask with."""
    user, other = name(hub, "refusals"), name(hub, "refusals-other")
    await new_user(hub, user, {"nb": False, "run": True})
    resp = await hub.api("POST", f"/users/{other}")
    assert resp.status_code == 201, resp.text
    tokens = {"service": TOKEN, "none": ""}
    asks = {
        "owner": (user, {"note": "test"}),
        "other": (other, {"note": "test"}),
        "read-only": (user, {"note": "test", "scopes": [f"read:servers!user={user}"]}),
    }
    for key, (who, body) in asks.items():
        resp = await hub.api("POST", f"/users/{who}/tokens", json=body)
        assert resp.status_code == 201, resp.text
        tokens[key] = resp.json()["token"]
    yield {"user": user, **tokens}
    await hub.api("DELETE", f"/users/{user}")
    await hub.api("DELETE", f"/users/{other}")


@pytest.mark.parametrize("case", list(REFUSALS))
async def test_refusals(hub: Hub, devcluster, refusal_user: dict[str, str], case: str) -> None:
    token, server, body, status, rule = REFUSALS[case]
    user = refusal_user["user"]
    before = await servers(hub, user)
    if isinstance(body, dict) and "last_activity" not in body:
        # the activity the hub has now: only what the case names is wrong
        body = {**body, "last_activity": before.get(server, {}).get("last_activity")}
    target, server = (f"nobody-{user}", "nb") if server == "@nobody" else (user, server)
    path = f"/hubplugins/lifecycle/users/{target}/" + (f"servers/{server}" if server else "server")
    headers = {"Authorization": f"token {refusal_user[token]}"} if refusal_user[token] else {}
    content = body if isinstance(body, bytes) else json.dumps(body).encode()
    async with httpx.AsyncClient(timeout=60) as client:
        resp = await client.post(f"{hub.hub_api}{path}", content=content, headers=headers)
    assert resp.status_code == status, resp.text
    assert resp.headers.get("Content-Type", "").startswith("application/json")
    assert resp.json()["message"], resp.text
    if rule is not None:
        assert resp.headers.get(RULE_HEADER) == rule, resp.headers
    # nothing changed: the servers, their state and their volumes
    after = await servers(hub, user)
    assert {k: (v["stopped"], v["last_activity"]) for k, v in after.items()} == {
        k: (v["stopped"], v["last_activity"]) for k, v in before.items()
    }
    for kept in ("nb", "run"):
        assert volume(devcluster, user, kept) is not None


async def test_start_while_deleting_is_refused(
    fresh_devcluster, make_hub, jupyterhub_version: str
) -> None:
    """From the check on, the server is pending stop: a start or a second delete waits it out.

    The devcluster holds the volume's deletion (a delay, then it proceeds) so the
    requests land while the hub deletes; the test waits for the mark itself.
    """
    cluster = fresh_devcluster
    config = CONFIG + "c.KubeSpawner.k8s_api_request_timeout = 30  # outlasts the delay\n"
    hub = await make_hub(config, jupyterhub=jupyterhub_version, kubeconfig=cluster.kubeconfig)
    hub.tag = jupyterhub_version.replace(".", "")  # type: ignore[attr-defined]
    user = name(hub, "start-while-deleting")
    await new_user(hub, user, {"nb": False})
    pods = cluster.control.count("create", "pods")
    cluster.control.fail("delete", "persistentvolumeclaims", status=0, count=1, delay=3)
    deleting = asyncio.create_task(sweep(hub, user))
    deadline = asyncio.get_running_loop().time() + 30
    while (await servers(hub, user)).get("nb", {}).get("pending") != "stop":
        assert not deleting.done() and asyncio.get_running_loop().time() < deadline
        await asyncio.sleep(0.05)
    started = await hub.api("POST", f"/users/{user}/servers/nb")
    removed = await hub.api("DELETE", f"/users/{user}/servers/nb", json={"remove": True})
    assert await deleting == {"nb": "done"}
    assert started.status_code == 400 and "pending stop" in started.text, started.text
    assert removed.status_code == 202, removed.text
    assert "nb" not in await servers(hub, user)
    assert cluster.control.count("create", "pods") == pods
    assert await volume_gone(cluster, user, "nb")
    assert "Task exception was never retrieved" not in hub.log_text()
