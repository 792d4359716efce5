"""Sweeps against the stand-in hub API: paging, listing mode, dry run, requests, metrics."""

from __future__ import annotations

import asyncio
import json
import logging
import os
import sys

import httpx
import pytest

from hubplugins.lifecycle import HubAPI, LifecycleService, PolicySource, metrics
from hubplugins.lifecycle.service import serve_metrics
from hubplugins_dev.standin import StandinHub

POLICY = {
    "defaults": {"idle": {"stop_after": "60s", "delete_after": "1h"}},
    "groups": {"slow": {"idle": {"stop_after": "1d", "delete_after": None}}},
}
STOP_ONLY = {"defaults": {"idle": {"stop_after": "60s", "delete_after": None}}}


def populate(hub: StandinHub, users: int) -> None:
    for i in range(users):
        name = f"u{i:04d}"
        hub.add_user(name, ["slow"] if i % 4 == 0 else [])
        hub.add_server(name, "", idle=120)
        hub.add_server(name, "nb", idle=30 if i % 5 == 0 else 7200)


@pytest.fixture
async def standin():
    hub = StandinHub().start()
    yield hub
    await hub.stop()


def service(hub: StandinHub, policy: dict, **kwargs: object) -> LifecycleService:
    api = HubAPI(hub.url, "secret", concurrency=4)
    return LifecycleService(api, PolicySource(text=json.dumps(policy)), **kwargs)


def expected_actions(users: int) -> set[tuple[str, str, str]]:
    want = set()
    for i in range(users):
        name, slow, fresh = f"u{i:04d}", i % 4 == 0, i % 5 == 0
        if not slow:
            want.add((name, "", "stop"))
            if not fresh:
                want.add((name, "nb", "delete"))
    return want


@pytest.mark.parametrize("page_size", [200, 7], ids=["page-200", "page-7"])
async def test_sweep_acts_by_policy_over_pages(standin: StandinHub, page_size: int) -> None:
    populate(standin, 450)
    svc = service(standin, POLICY, page_size=page_size)
    try:
        result = await svc.sweep()
    finally:
        svc.api.close()
    got = {(a.user, a.server, a.action) for a, outcome in result.done if outcome == "done"}
    assert got == expected_actions(450)
    # the lifecycle listing reads on after the last user id a page showed: every
    # user runs a server, and the pass over every user (retention) reads them again
    per_pass = 450 // page_size + 1  # the last page is short: it has no next
    pages = standin.requests["GET Listing"]
    assert pages == result.pages == 2 * per_pass
    assert standin.requests["GET UsersHandler"] == 0
    assert result.requests == pages + len(got)
    assert standin.total_requests == result.requests
    assert sorted(standin.removed) == sorted((u, s) for u, s, a in got if a == "delete")


async def test_dry_run_changes_nothing(standin: StandinHub, caplog) -> None:
    populate(standin, 40)
    before = json.dumps(standin.users, sort_keys=True)
    svc = service(standin, POLICY, dry_run=True)
    with caplog.at_level(logging.INFO, logger="hubplugins.lifecycle"):
        try:
            result = await svc.sweep()
        finally:
            svc.api.close()
    assert json.dumps(standin.users, sort_keys=True) == before
    assert standin.requests["POST Lifecycle"] == 0
    assert {(a.user, a.server, a.action) for a in result.actions("planned")} == expected_actions(40)
    lines = [json.loads(r.getMessage().split(" ", 1)[1]) for r in caplog.records]
    per_action = [line for line in lines if line["event"] == "lifecycle"]
    assert len(per_action) == len(result.done)
    assert all(line["dry_run"] is True and line["outcome"] == "planned" for line in per_action)
    assert set(per_action[0]) >= {"user", "server", "action", "idle_seconds", "rule", "dry_run"}


def _rename(hub: StandinHub, old: str, new: str) -> None:
    user = hub.users.pop(old)
    user["name"] = new
    hub.users[new] = user


def _recreate(hub: StandinHub, name: str) -> None:
    del hub.users[name]
    hub.add_user(name)
    hub.add_server(name, "", idle=120)


BETWEEN_PASSES = {
    # case: (change to the hub before the second pass lists, actions planned)
    # the same account under a new name is planned once, by the name it had when read
    "renamed": (lambda hub: _rename(hub, "ann", "bea"), [("ann", "", "stop")]),
    # another account under a freed name is planned in its own right
    "deleted-and-name-reused": (
        lambda hub: _recreate(hub, "ann"),
        [("ann", "", "stop"), ("ann", "", "stop")],
    ),
}


@pytest.mark.parametrize("case", BETWEEN_PASSES)
async def test_a_pass_after_another_goes_by_account_not_name(
    standin: StandinHub, case: str
) -> None:
    change, planned = BETWEEN_PASSES[case]
    standin.add_user("ann")
    standin.add_server("ann", "", idle=120)
    listed = 0

    def on_list(hub: StandinHub) -> None:
        nonlocal listed
        listed += 1
        if listed == 2:  # the retention pass's first page
            change(hub)

    standin.on_list = on_list
    svc = service(standin, POLICY, dry_run=True)  # nothing stops: both passes see the server
    try:
        result = await svc.sweep()
    finally:
        svc.api.close()
    assert listed == 2
    assert len(result.passes) == 2
    got = [(a.user, a.server, a.action) for a in result.actions("planned")]
    assert sorted(got) == sorted(planned)
    assert result.users == len(got)


LISTING = {
    # case: (policy, query parameters the sweep must send)
    "stop-only-lists-active": (STOP_ONLY, {"state": "active"}),
    "retention-lists-all-with-stopped": (POLICY, {"include_stopped_servers": "1"}),
}


@pytest.mark.parametrize("case", list(LISTING))
async def test_listing_mode(standin: StandinHub, case: str) -> None:
    policy, params = LISTING[case]
    standin.add_user("idle-stopped")
    standin.add_server("idle-stopped", "old", idle=7200, running=False)
    standin.add_user("pending")
    standin.add_server("pending", "nb", idle=7200)
    standin.users["pending"]["servers"]["nb"]["pending"] = "stop"
    seen: list[str] = []
    original = standin.user_model

    def spy(user, include_stopped):
        seen.append(f"{user['name']}:{int(include_stopped)}")
        return original(user, include_stopped)

    standin.user_model = spy  # type: ignore[method-assign]
    svc = service(standin, policy)
    try:
        result = await svc.sweep()
    finally:
        svc.api.close()
    assert [(s.user, s.reason) for s in result.skipped] == [("pending", "pending")]
    if "state" in params:
        assert seen == ["pending:0"] and result.done == []
    else:
        assert sorted(set(seen)) == ["idle-stopped:1", "pending:1"]  # pending in both passes
        assert [(a.user, a.server, a.action) for a in result.actions("done")] == [
            ("idle-stopped", "old", "delete")
        ]


async def test_gone_server_is_not_a_failure(standin: StandinHub) -> None:
    populate(standin, 2)
    svc = service(standin, STOP_ONLY)
    original = standin.user_model

    def vanish(user, include_stopped):  # listed, then removed before the action
        model = original(user, include_stopped)
        standin.users[user["name"]]["servers"].clear()
        return model

    standin.user_model = vanish  # type: ignore[method-assign]
    try:
        result = await svc.sweep()
    finally:
        svc.api.close()
    assert result.actions("gone") and not result.actions("failed")


CHANGED = {
    # case: (listed running, change after the listing, outcome)
    "used": (True, {"last_activity": "2099-01-01T00:00:00.000000Z"}, "active"),
    "started": (False, {"stopped": False, "ready": True}, "started"),
    "starting": (False, {"pending": "spawn"}, "started"),
    "stopping": (True, {"pending": "stop"}, "busy"),
}


@pytest.mark.parametrize("case", list(CHANGED))
async def test_server_changed_since_listing_is_left_alone(
    standin: StandinHub, case: str, caplog
) -> None:
    running, change, outcome = CHANGED[case]
    standin.add_user("ada")
    standin.add_server("ada", "nb", idle=7200, running=running)
    original = standin.user_model

    def then_change(user, include_stopped):  # listed, then changed before the action
        model = original(user, include_stopped)
        standin.users["ada"]["servers"]["nb"].update(change)
        return model

    standin.user_model = then_change  # type: ignore[method-assign]
    svc = service(standin, POLICY)
    with caplog.at_level(logging.INFO, logger="hubplugins.lifecycle"):
        try:
            result = await svc.sweep()
        finally:
            svc.api.close()
    assert [(a.server, a.action, o) for a, o in result.done] == [("nb", "delete", outcome)]
    assert "nb" in standin.users["ada"]["servers"] and not standin.removed
    line = next(r.getMessage() for r in caplog.records if '"event": "lifecycle"' in r.getMessage())
    record = json.loads(line.split(" ", 1)[1])
    assert record["outcome"] == outcome and record["message"]
    text = metrics.exposition().decode()
    assert f'hubplugins_lifecycle_servers_skipped_total{{reason="{outcome}"}}' in text


async def test_metrics_served(standin: StandinHub) -> None:
    populate(standin, 3)
    svc = service(standin, POLICY)
    server, port = serve_metrics("127.0.0.1", 0, "/services/lifecycle/")
    try:
        await svc.sweep()
        async with httpx.AsyncClient() as client:
            for path in ("/metrics", "/services/lifecycle/metrics"):
                text = (await client.get(f"http://127.0.0.1:{port}{path}")).text
                assert 'hubplugins_lifecycle_servers_stopped_total{dry_run="false"}' in text
                assert "hubplugins_lifecycle_servers_deleted_total" in text
                assert "hubplugins_lifecycle_sweep_duration_seconds_count" in text
    finally:
        svc.api.close()
        server.stop()


async def test_command_line_once(standin: StandinHub, tmp_path) -> None:
    populate(standin, 5)
    policy = tmp_path / "policy.yaml"
    policy.write_text("defaults:\n  idle: {stop_after: 60s, delete_after: null}\n")
    env = {**os.environ, "JUPYTERHUB_API_TOKEN": "secret"}
    proc = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "hubplugins.lifecycle", "--once", "--url", standin.url,
        "--policy-file", str(policy), "--dry-run",
        env=env, stderr=asyncio.subprocess.PIPE,
    )  # fmt: skip
    _, err = await proc.communicate()
    assert proc.returncode == 0, err.decode()
    lines = [line for line in err.decode().splitlines() if '"event": "lifecycle"' in line]
    assert len(lines) == 9 and all('"dry_run": true' in line for line in lines)
    assert standin.requests["POST Lifecycle"] == 0
