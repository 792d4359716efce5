"""``hubplugins plan`` against a real hub (JupyterHub 6) with PolicySpawner on the devcluster.

Three users hold servers under the running policy; a new policy would put
one above the new caps, delete another's stopped named server (retention
``delete_after: 0``: every idle named server, with no wait) and take a
profile from the third.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
import yaml
from harness.hub import Hub, start_hub

from hubplugins.cli import main

pytestmark = pytest.mark.slow

POLICY: dict[str, Any] = {
    "defaults": {
        "resources": {
            "cpu": {"guarantee": 0.1, "limit": 1, "max": 4},
            "memory": {"guarantee": "100M", "limit": "1G", "max": "8G"},
        },
        "quota": {"cpu": 8, "memory": "16G"},
        "profiles": ["small", "big", "huge"],
    }
}
PROFILES = [
    {"display_name": "Small", "slug": "small", "default": True},
    {"display_name": "Big", "slug": "big", "kubespawner_override": {"cpu_limit": 2.0}},
    # 8·2³⁰ bytes to KubeSpawner, above max 8G: the hub logs it when it starts
    {"display_name": "Huge", "slug": "huge", "kubespawner_override": {"mem_limit": "8G"}},
]
CONFIG = f"""
import hubplugins
c.JupyterHub.spawner_class = "hubplugins.PolicySpawner"
c.KubeSpawner.profile_list = {PROFILES!r}
c.HubPolicy.policy = {POLICY!r}
hubplugins.setup(c)
"""
NEW = {
    "defaults": {
        "idle": {"stop_after": None, "delete_after": 0},
        "resources": {
            "cpu": {"guarantee": 0.1, "limit": 1, "max": 2},
            "memory": {"guarantee": "100M", "limit": "1G", "max": "4G"},
        },
        "quota": {"cpu": 8, "memory": "16G"},
        "profiles": ["small"],
    }
}


async def _start(hub: Hub, user: str, server: str, options: dict[str, Any]) -> None:
    assert (await hub.api("POST", f"/users/{user}")).status_code in (201, 409)
    resp = await hub.api("POST", f"/users/{user}/servers/{server}", json=options)
    assert resp.status_code in (201, 202), resp.text
    await hub.wait_for_server(user, server)


@pytest.fixture(scope="module")
async def plan_hub(devcluster, tmp_path_factory: pytest.TempPathFactory) -> AsyncIterator[Hub]:
    hub = await start_hub(
        tmp_path_factory.mktemp("planhub"), CONFIG, jupyterhub="6", kubeconfig=devcluster.kubeconfig
    )
    try:
        await asyncio.gather(
            _start(hub, "plan-alice", "", {"cpu": 3, "memory": "6G"}),
            _start(hub, "plan-bob", "nb", {}),
            _start(hub, "plan-carol", "", {"profile": "big"}),
        )
        resp = await hub.api("DELETE", "/users/plan-bob/servers/nb")
        assert resp.status_code in (202, 204), resp.text
        await hub.wait_for_server("plan-bob", "nb", ready=False)
        yield hub
    finally:
        await hub.stop()


def test_hub_start_logs_the_two_readings(plan_hub: Hub) -> None:
    log = plan_hub.log_text()
    assert "hubplugins: KubeSpawner.profile_list[2].kubespawner_override: profile 'huge'" in log
    assert "reads as 8·2³⁰ bytes (8Gi)" in log


def _plan(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], hub: Hub, *args: str
) -> tuple[int, str, str]:
    path = tmp_path / "new.yaml"
    path.write_text(yaml.safe_dump(NEW))
    code = main(["plan", str(path), "--url", hub.url, *args])
    out, err = capsys.readouterr()
    return code, out, err


async def test_plan_from_the_hub(
    plan_hub: Hub, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    code, out, err = await asyncio.to_thread(
        _plan, tmp_path, capsys, plan_hub, "--token", plan_hub.token, "--json"
    )
    assert code == 0, err
    report = json.loads(out)
    assert report["notes"] == []
    mine = [e for e in report["effects"] if e["user"].startswith("plan-")]
    got = sorted((e["user"], e["server"], e["kind"], e["rule"]) for e in mine)
    assert got == [
        ("plan-alice", "", "cap", "resources.cpu.max"),
        ("plan-alice", "", "cap", "resources.memory.max"),
        ("plan-bob", "nb", "delete", "idle.delete_after"),
        ("plan-carol", "", "profile", "profiles"),
    ], mine
    messages = {(e["user"], e["rule"]): e["message"] for e in mine}
    assert (
        "runs with 6G memory, above the new resources.memory.max 4G"
        in messages[("plan-alice", "resources.memory.max")]
    )
    assert 'server "nb" would be deleted' in messages[("plan-bob", "idle.delete_after")]
    # the same as text, one line per effect; nothing was changed on the hub
    code, out, err = await asyncio.to_thread(
        _plan, tmp_path, capsys, plan_hub, "--token", plan_hub.token
    )
    assert code == 0, err
    assert '  plan-bob: server "nb" would be deleted: idle ' in out
    assert '  plan-carol: the default server uses profile "big"' in out
    resp = await plan_hub.api("GET", "/users/plan-bob?include_stopped_servers=1")
    assert "nb" in resp.json()["servers"]


# case -> (token, exit code, text on stderr)
REFUSED = {
    "unknown-token": ("not-a-token", 1, "403"),
    "no-token": ("", 2, "give --token"),
}


@pytest.mark.parametrize(("token", "code", "fragment"), REFUSED.values(), ids=REFUSED.keys())
async def test_plan_refused(
    plan_hub: Hub,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
    token: str,
    code: int,
    fragment: str,
) -> None:
    monkeypatch.delenv("JUPYTERHUB_API_TOKEN", raising=False)
    got, _, err = await asyncio.to_thread(_plan, tmp_path, capsys, plan_hub, "--token", token)
    assert got == code
    assert fragment in err
