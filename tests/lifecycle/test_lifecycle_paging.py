"""Paging the user list: every user once, however the hub pages and however the list moves.

Against the stand-in hub: a hub that pages by servers instead of users (as
some JupyterHub versions did, jupyterhub#4789 and #5293), and users added or
removed between the pages a sweep reads. Against the real hub on both
supported series: users of several servers, some running, read in pages of 3
with and without the ``state`` filter. And the users with no running server
are read at most once per retention interval.
"""

from __future__ import annotations

import json
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass

import pytest

from hubplugins.lifecycle import HubAPI, LifecycleService, PolicySource
from hubplugins_dev.standin import StandinHub

USERS = 60


def populate(hub: StandinHub) -> None:
    for i in range(USERS):
        name = f"p{i:03d}"
        hub.add_user(name)
        for k in range(i % 4):  # 0 to 3 servers, every other one running
            hub.add_server(name, f"s{k}" if k else "", idle=7200, running=(i + k) % 2 == 0)


def running(hub: StandinHub) -> set[str]:
    return {n for n, u in hub.users.items() if any(not s["stopped"] for s in u["servers"].values())}


def remove_before(count: int, every: int) -> Callable[[StandinHub], None]:
    """Remove ``count`` users from the front of the list at every ``every``-th page."""
    pages = {"n": 0}

    def change(hub: StandinHub) -> None:
        pages["n"] += 1
        if pages["n"] % every == 0:
            for name in [n for n in hub.users if n.startswith("p")][:count]:
                del hub.users[name]

    return change


def add_front(every: int) -> Callable[[StandinHub], None]:
    """Add a user at the front of the list at every ``every``-th page (a state change)."""
    pages = {"n": 0}

    def change(hub: StandinHub) -> None:
        pages["n"] += 1
        if pages["n"] % every == 0:
            name = f"new{pages['n']:03d}"
            hub.users = {
                name: {"kind": "user", "name": name, "groups": [], "servers": {}},
                **hub.users,
            }
            hub.add_server(name, "", idle=7200)

    return change


@dataclass
class Case:
    id: str
    pages_by_servers: bool = False
    change: Callable[[], Callable[[StandinHub], None]] | None = None


CASES = [
    Case("users"),
    Case("by-servers", pages_by_servers=True),
    Case("removed-2-each-page", change=lambda: remove_before(2, 1)),
    Case("removed-9-every-3rd-page", change=lambda: remove_before(9, 3)),
    Case("added-each-page", change=lambda: add_front(1)),
    Case("by-servers-removed-2", pages_by_servers=True, change=lambda: remove_before(2, 1)),
]


@pytest.mark.parametrize("state", ["active", None], ids=["active", "all"])
@pytest.mark.parametrize("case", CASES, ids=[c.id for c in CASES])
async def test_each_user_once_however_the_list_pages(case: Case, state: str | None) -> None:
    hub = StandinHub(pages_by_servers=case.pages_by_servers).start()
    populate(hub)
    before = set(hub.users) if state is None else running(hub)
    if case.change is not None:
        hub.on_list = case.change()
    api = HubAPI(hub.url, "secret")
    try:
        listed = await api.list_users(state=state, include_stopped=state is None, page_size=7)
    finally:
        api.close()
        await hub.stop()
    counts = Counter(u["name"] for u in listed)
    assert [n for n, c in counts.items() if c > 1] == []
    after = set(hub.users) if state is None else running(hub)
    # every user there from the first page to the last is listed; none that never was
    assert before & after <= set(counts)
    assert set(counts) <= before | after


PARTIAL_TOKEN = "partial-listing-token-0123456789abcdef"
HUB_CONFIG = f"""
c.JupyterHub.allow_named_servers = True
from hubplugins.lifecycle.endpoint import setup_endpoint
setup_endpoint(c)
c.JupyterHub.services.append({{"name": "partial", "api_token": {PARTIAL_TOKEN!r}}})
c.JupyterHub.load_roles.append({{
    "name": "partial",
    "services": ["partial"],
    "scopes": ["list:users", "read:servers!group=g1", "read:users:groups",
               "read:users:activity"],
}})
"""
LISTED = ("name", "last_activity", "started", "pending", "ready", "stopped")
BAD_QUERIES = {
    # case: query string of the lifecycle listing, answered 400
    "limit-zero": "limit=0",
    "limit-over-cap": "limit=2001",
    "limit-not-a-number": "limit=ten",
    "limit-non-ascii-digit": "limit=%C2%B2",
    "limit-fullwidth-digit": "limit=%EF%BC%95",
    "limit-underscore": "limit=1_0",
    "after-huge": "after=" + "9" * 40,
    "after-negative": "after=-1",
    "after-float": "after=1.5",
    "running-not-a-flag": "running=maybe",
    "stopped-not-a-flag": "stopped=2",
}


async def _listing(api: HubAPI, **kwargs: object) -> list[dict]:
    return [u async for page in api.listing(**kwargs) for u in page]  # type: ignore[arg-type]


async def test_real_hub_pages_each_user_once(make_hub, devcluster, jupyterhub_version) -> None:
    v = jupyterhub_version.replace(".", "")
    users = [f"pg{v}u{i}" for i in range(10)]
    hub = await make_hub(
        HUB_CONFIG, jupyterhub=jupyterhub_version, kubeconfig=devcluster.kubeconfig
    )
    resp = await hub.api("POST", "/users", json={"usernames": users})
    assert resp.status_code == 201, resp.text
    # users 0-2 run three servers, 3-4 one named server, the rest none (one stopped each)
    started = [(u, s) for u in users[:3] for s in ("", "a", "b")]
    started += [(u, "a") for u in users[3:5]]
    for user, server in started:
        resp = await hub.api("POST", f"/users/{user}/servers/{server}")
        assert resp.status_code in (201, 202), resp.text
    for user in users[5:]:
        resp = await hub.api("POST", f"/users/{user}/servers/old", json={})
        assert resp.status_code in (201, 202), resp.text
    for user, server in [*started, *((u, "old") for u in users[5:])]:
        await hub.wait_for_server(user, server)
    for user in users[5:]:
        resp = await hub.api("DELETE", f"/users/{user}/servers/old")
        assert resp.status_code in (202, 204), resp.text
        await hub.wait_for_server(user, "old", ready=False)

    api = HubAPI(hub.hub_api, hub.token)
    try:
        active = await api.list_users(state="active", include_stopped=False, page_size=3)
        every = await api.list_users(state=None, include_stopped=True, page_size=3)
    finally:
        api.close()
    active_names = [u["name"] for u in active if u["name"] in users]
    assert sorted(active_names) == users[:5]  # each once
    every_names = [u["name"] for u in every if u["name"] in users]
    assert sorted(every_names) == users
    servers = {u["name"]: sorted(u["servers"]) for u in every if u["name"] in users}
    assert servers[users[0]] == ["", "a", "b"]
    assert "old" in servers[users[7]]  # stopped servers listed too

    # the lifecycle listing: the same users and the same server fields as the
    # hub's own list, in id order, a page read on after the last id
    resp = await hub.api("POST", "/groups/g1", json={"users": users[:2]})
    assert resp.status_code == 201, resp.text
    api = HubAPI(hub.hub_api, hub.token)
    try:
        every = await api.list_users(state=None, include_stopped=True, page_size=3)
        for running, stopped in [(True, False), (True, True), (False, True), (False, False)]:
            listed = await _listing(api, running=running, stopped=stopped, page_size=3)
            ids = [u["id"] for u in listed]
            assert ids == sorted(set(ids))
            mine = {u["name"]: u for u in listed if u["name"] in users}
            assert sorted(mine) == (users[:5] if running else users)
            for model in every:
                if model["name"] not in mine:
                    continue
                got = mine[model["name"]]
                assert got["groups"] == sorted(model["groups"])
                assert got["last_activity"] == model["last_activity"]
                want = {
                    name: {k: server[k] for k in LISTED}
                    for name, server in model["servers"].items()
                    if stopped or not server["stopped"]
                }
                assert got["servers"] == want, model["name"]
    finally:
        api.close()

    for case, query in BAD_QUERIES.items():
        resp = await hub.api("GET", f"/hubplugins/lifecycle/users?{query}")
        assert resp.status_code == 400, (case, resp.text)
        assert "limit" in resp.json()["message"] or "running" in resp.json()["message"], case
    # a token that may list some users only is refused, not shown part of the list
    resp = await hub.api("GET", "/hubplugins/lifecycle/users", token=PARTIAL_TOKEN)
    assert resp.status_code == 403, resp.text
    assert resp.json()["message"] == (
        "The lifecycle listing shows every user, so it needs list:users, read:servers, "
        "read:users:groups, read:users:activity on all users; this token lacks read:servers "
        "or holds it for some users only."
    )
    resp = await hub.api("POST", f"/users/{users[9]}/tokens", json={})
    assert resp.status_code == 201, resp.text
    resp = await hub.api("GET", "/hubplugins/lifecycle/users", token=resp.json()["token"])
    assert resp.status_code == 403, resp.text

    # the list moves while it is read: users removed, renamed and created
    # among those read and those not read yet; each is listed once, by its name then
    seen: list[str] = []
    after: int | None = 0
    moved: dict[str, str] = {}
    while after is not None:
        resp = await hub.api("GET", f"/hubplugins/lifecycle/users?after={after}&limit=3")
        assert resp.status_code == 200, resp.text
        page = resp.json()
        seen += [u["name"] for u in page["items"]]
        after = page["next"]
        if not moved and sum(u in seen for u in users) >= 6:
            read = [u for u in users[5:] if u in seen]  # no running server: deletable
            unread = [u for u in users[5:] if u not in seen]
            moved = {"gone-read": read[0], "gone-unread": unread[0]}
            moved.update({"renamed-read": read[-1], "renamed-unread": unread[-1]})
            for gone in (moved["gone-read"], moved["gone-unread"]):
                resp = await hub.api("DELETE", f"/users/{gone}")
                assert resp.status_code == 204, hub.log_tail(60)
            for old in (moved["renamed-read"], moved["renamed-unread"]):
                resp = await hub.api("PATCH", f"/users/{old}", json={"name": f"{old}r"})
                assert resp.status_code == 200, resp.text
            resp = await hub.api("POST", "/users", json={"usernames": [f"pg{v}new"]})
            assert resp.status_code == 201, resp.text
    counts = Counter(seen)
    assert [n for n, c in counts.items() if c > 1] == []
    assert set(users) - {moved["gone-unread"], moved["renamed-unread"]} <= set(counts)
    assert moved["gone-unread"] not in counts and f"pg{v}new" in counts
    assert f"{moved['renamed-unread']}r" in counts and moved["renamed-unread"] not in counts
    assert f"{moved['renamed-read']}r" not in counts


async def test_users_without_a_running_server_are_read_once_per_retention_interval() -> None:
    hub = StandinHub().start()
    populate(hub)
    policy = PolicySource(text=json.dumps({"defaults": {"idle": {"delete_after": "30d"}}}))
    api = HubAPI(hub.url, "secret")
    service = LifecycleService(api, policy, dry_run=True, retention_interval=3600)
    try:
        first = await service.sweep()
        second = await service.sweep()
        service.retention_interval = 0
        third = await service.sweep()
    finally:
        api.close()
        await hub.stop()
    active = len(running(hub))
    assert first.users == third.users == USERS  # every user: the inactive ones too
    assert second.users == active  # within the interval: those with a running server only
