"""The fair GPU line through the real hub: queued, served in order, given up, left,
kept across a restart and a crash, and taken when a namespace quota refuses a pod.

One hub per series with a pool of one GPU on a devcluster of its own, shared by
the module (the restart test restarts it). A start from the line goes through
``User.spawn``, whose arguments differ between the series, and the hub's
start-up, whose order differs, so those run on both.
"""

from __future__ import annotations

import asyncio
import os
import sqlite3
import sys
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from harness import hub as hub_harness
from harness.browser import chromium, have_chromium
from harness.hub import Hub, start_hub

from hubplugins_dev.devcluster.testing import arun_devcluster

from .pool_hub import GPU, pod_of, start_gpu, wait_settled

LINE, SHORT, NOW = "gpu-line", "gpu-short", "gpu-now"


def _tier(max_wait: str | None) -> dict[str, Any]:
    gpu: dict[str, Any] = {"max": 1}
    if max_wait:
        gpu["queue"] = {"max_wait": max_wait}
    return {"resources": {"gpu": gpu}, "quota": {"gpu": 1}}


POLICY = {
    "defaults": {"resources": {"gpu": {"max": 0}}, "quota": {"gpu": 0}},
    "groups": {LINE: _tier("30m"), SHORT: _tier("2s"), NOW: _tier(None)},
    "cluster": {"gpu_pool": {GPU: 1}},
}

CONFIG = f"""
import hubplugins
c.JupyterHub.spawner_class = "hubplugins.PolicySpawner"
c.HubPolicy.policy = {POLICY!r}
c.JupyterHub.load_groups = {{g: {{"users": []}} for g in {[LINE, SHORT, NOW]!r}}}
hubplugins.setup(c)
"""


@pytest.fixture(scope="module", params=["5.5", "6"], ids=["jh55", "jh6"])
async def line_hub(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> AsyncIterator[tuple[Hub, Any]]:
    root = tmp_path_factory.mktemp(f"gpuline{request.param}")
    path = os.pathsep.join([str(Path(sys.executable).parent), os.environ["PATH"]])
    os.environ["PATH"] = path
    async with arun_devcluster(root / "devcluster") as dev:
        hub = await start_hub(
            root / "hub", CONFIG, jupyterhub=request.param, kubeconfig=dev.kubeconfig
        )
        try:
            yield hub, dev
        finally:
            await hub.stop()


async def add(hub: Hub, group: str, *users: str) -> None:
    resp = await hub.api("POST", "/users", json={"usernames": list(users)})
    assert resp.status_code == 201, resp.text
    resp = await hub.api("POST", f"/groups/{group}/users", json={"users": list(users)})
    assert resp.status_code == 200, resp.text


async def hold(hub: Hub, user: str) -> None:
    resp = await start_gpu(hub, user)
    assert resp.status_code in (201, 202), resp.text
    await hub.wait_for_server(user)


async def queued(hub: Hub, user: str) -> str:
    resp = await start_gpu(hub, user)
    assert resp.status_code == 409, resp.text
    message: str = resp.json()["message"]
    assert message.startswith("queued: "), message
    return message


async def place(hub: Hub, user: str, token: str | None = None) -> dict[str, Any]:
    resp = await hub.api("GET", f"/hubplugins/gpu-queue/{user}", token=token)
    assert resp.status_code == 200, resp.text
    report: dict[str, Any] = resp.json()
    return report


async def until(check: Any, timeout: float = 60) -> Any:
    deadline = asyncio.get_running_loop().time() + timeout
    while not (found := await check()):
        assert asyncio.get_running_loop().time() < deadline, "condition not reached"
        await asyncio.sleep(0.1)
    return found


async def stop(hub: Hub, *users: str) -> None:
    for user in users:
        await hub.api("DELETE", f"/users/{user}/server")
    for user in users:
        await hub.wait_for_server(user, ready=False)


async def token_of(hub: Hub, user: str) -> str:
    resp = await hub.api("POST", f"/users/{user}/tokens", json={"note": "gpu line test"})
    assert resp.status_code == 201, resp.text
    token: str = resp.json()["token"]
    return token


@pytest.mark.slow
@pytest.mark.browser
@pytest.mark.skipif(not have_chromium(), reason="Debian's chromium is not installed")
async def test_queued_starts_begin_in_order_when_a_gpu_frees_and_the_page_shows_it(
    line_hub,
) -> None:
    hub, dev = line_hub
    await add(hub, LINE, "qholder", "qfirst", "qsecond")
    await hold(hub, "qholder")
    first = await queued(hub, "qfirst")
    assert first.startswith(f"queued: 1st in line for 1 GPU; 1 of 1 in use ({GPU})"), first
    second = await queued(hub, "qsecond")
    assert second.startswith("queued: 2nd in line for 1 GPU; 1 of 1 in use"), second
    # asking again (a reload, a second click) keeps the place
    assert (await queued(hub, "qsecond")).startswith("queued: 2nd in line")
    # nothing is pending in the hub while waiting: no spawn slot, no start_timeout
    assert pod_of(dev, "qfirst") is None
    assert (await wait_settled(hub, "qsecond")).get("pending") is None

    async with chromium() as browser:
        page = await browser.new_page()
        await page.goto(f"{hub.url}/hub/login")
        await page.fill("input[name=username]", "qsecond")
        await page.fill("input[name=password]", "pw")
        await page.click("input[type=submit], button[type=submit]")
        await page.wait_for_url("**/hub/**")
        await page.goto(f"{hub.url}/hub/home")
        panel = page.locator("#hubplugins-gpu-queue")
        await panel.get_by_text("2nd in line for 1 GPU; 1 of 1 in use").wait_for()

        await stop(hub, "qholder")
        # the first in line starts by itself; the page moves the second up
        await hub.wait_for_server("qfirst")
        # started with the options it asked with: the tier's default is no GPU
        pod = pod_of(dev, "qfirst")
        assert pod is not None
        assert pod["spec"]["containers"][0]["resources"]["limits"][GPU] == "1", pod
        await panel.get_by_text("1st in line for 1 GPU; 1 of 1 in use").wait_for()
        assert pod_of(dev, "qsecond") is None

        await stop(hub, "qfirst")
        await hub.wait_for_server("qsecond")
        await page.wait_for_function(
            "document.getElementById('hubplugins-gpu-queue').hidden === true"
        )
    assert (await place(hub, "qsecond"))["places"] == []
    await stop(hub, "qsecond")


@pytest.mark.slow
async def test_max_wait_ends_the_place_with_a_message(line_hub) -> None:
    hub, dev = line_hub
    await add(hub, LINE, "wholder")
    await add(hub, SHORT, "wshort")
    await hold(hub, "wholder")
    await queued(hub, "wshort")

    async def ended() -> list[dict[str, Any]]:
        ended: list[dict[str, Any]] = (await place(hub, "wshort"))["ended"]
        return ended

    (end,) = await until(ended)
    assert "Gave up waiting for a GPU after 2 seconds" in end["message"], end
    assert (await place(hub, "wshort"))["places"] == []
    await stop(hub, "wholder")
    assert (await wait_settled(hub, "wshort")).get("ready") is None
    assert pod_of(dev, "wshort") is None


@pytest.mark.slow
async def test_leaving_frees_the_place_and_nobody_else_can_make_you_leave(line_hub) -> None:
    hub, dev = line_hub
    await add(hub, LINE, "lholder", "lleaver", "lnext")
    await hold(hub, "lholder")
    await queued(hub, "lleaver")
    await queued(hub, "lnext")
    # one place per GPU of the user's quota: a second server of theirs is refused at once
    resp = await start_gpu(hub, "lleaver", "second")
    assert resp.status_code == 409, resp.text
    assert resp.json()["message"].startswith("GPU pool exhausted"), resp.text
    leaver, other = await token_of(hub, "lleaver"), await token_of(hub, "lnext")
    # another user can neither read nor take away the place
    for method in ("GET", "DELETE"):
        resp = await hub.api(method, "/hubplugins/gpu-queue/lleaver/", token=other)
        assert resp.status_code in (403, 404), resp.text
    assert [p["position"] for p in (await place(hub, "lleaver", leaver))["places"]] == [1]

    resp = await hub.api("DELETE", "/hubplugins/gpu-queue/lleaver/", token=leaver)
    assert resp.status_code == 204, resp.text
    resp = await hub.api("DELETE", "/hubplugins/gpu-queue/lleaver/", token=leaver)
    assert resp.status_code == 404, resp.text
    assert [p["position"] for p in (await place(hub, "lnext"))["places"]] == [1]

    await stop(hub, "lholder")
    await hub.wait_for_server("lnext")
    assert pod_of(dev, "lleaver") is None
    await stop(hub, "lnext")


@pytest.mark.slow
async def test_a_tier_without_a_line_is_refused_at_once(line_hub) -> None:
    hub, dev = line_hub
    await add(hub, LINE, "nholder")
    await add(hub, NOW, "nnow")
    await hold(hub, "nholder")
    resp = await start_gpu(hub, "nnow")
    assert resp.status_code == 409, resp.text
    assert resp.json()["message"].startswith("GPU pool exhausted: 1 of the 1"), resp.text
    assert (await place(hub, "nnow")) == {"user": "nnow", "places": [], "ended": []}
    await stop(hub, "nholder")
    assert (await wait_settled(hub, "nnow")).get("ready") is None
    assert pod_of(dev, "nnow") is None


def _database(hub: Hub) -> Path:
    return hub_harness._db_dir() / f"{hub.workdir.name}-{hub.port}.sqlite"


async def positions(hub: Hub, user: str) -> list[int]:
    return [p["position"] for p in (await place(hub, user))["places"]]


async def line_of(hub: Hub, users: dict[str, list[int]]) -> dict[str, list[int]]:
    """Each user's positions, once they are as expected (a restarted hub reads its
    line back as its start completes, just after its API answers)."""

    async def now() -> dict[str, list[int]] | None:
        found = {user: await positions(hub, user) for user in users}
        return found if found == users else None

    try:
        return await until(now, timeout=30)
    except AssertionError:
        return {user: await positions(hub, user) for user in users}


@pytest.mark.slow
async def test_the_line_survives_a_restart_and_a_crash_in_order(line_hub) -> None:
    hub, dev = line_hub
    tag = hub.version.replace(".", "")
    holder, first, second, leaver, late, renamed, recreated = (
        f"{n}{tag}" for n in ("rholder", "rfirst", "rsecond", "rleaver", "rlate", "rren", "rrec")
    )
    await add(hub, LINE, holder, first, second, leaver, late, renamed, recreated)
    await hold(hub, holder)
    for user in (first, second, leaver, late, renamed, recreated):
        await queued(hub, user)
    resp = await hub.api("DELETE", f"/hubplugins/gpu-queue/{leaver}/")
    assert resp.status_code == 204, resp.text
    # another account under an old name never inherits the place
    resp = await hub.api("PATCH", f"/users/{renamed}", json={"name": renamed + "x"})
    assert resp.status_code == 200, resp.text
    resp = await hub.api("DELETE", f"/users/{recreated}")
    assert resp.status_code == 204, resp.text
    await add(hub, LINE, recreated)
    assert await positions(hub, recreated) == []

    expected = {first: [1], second: [2], leaver: [], late: [3], recreated: []}
    await hub.restart()
    assert await line_of(hub, expected) == expected
    # read back as the hub's start completed, not when a spawner was made
    assert "3 places restored in the GPU line" in hub.log_text()
    assert await positions(hub, renamed + "x") == []

    await hub.kill()
    # the place of `late` ran out while the hub was down (it asked an hour ago)
    with sqlite3.connect(_database(hub)) as db:
        db.execute(
            "UPDATE hubplugins_gpu_line SET asked = asked - 3600, deadline = deadline - 3600"
            " WHERE user = ?",
            (late,),
        )
    await hub.start()
    expected[late] = []
    assert await line_of(hub, expected) == expected
    (end,) = (await place(hub, late))["ended"]
    assert "Gave up waiting for a GPU after 30 minutes" in end["message"], end

    # served in the order of asking, by themselves
    await stop(hub, holder)
    await hub.wait_for_server(first)
    pod = pod_of(dev, first)
    assert pod is not None
    assert pod["spec"]["containers"][0]["resources"]["limits"][GPU] == "1", pod
    assert await positions(hub, second) == [1]
    await stop(hub, first)
    await hub.wait_for_server(second)
    await stop(hub, second)
    for user in (leaver, late, recreated):
        assert (await wait_settled(hub, user)).get("ready") is None
        assert pod_of(dev, user) is None


OUTSIDE = {
    "metadata": {"name": "other-hub-gpu"},
    "spec": {
        "containers": [
            {
                "name": "main",
                "image": "devcluster/stub",
                "resources": {"requests": {GPU: "1"}, "limits": {GPU: "1"}},
            }
        ]
    },
}
USER = "hub.jupyter.org/username"
QUOTA = {"metadata": {"name": "gpus"}, "spec": {"hard": {f"requests.{GPU}": "1"}}}


@pytest.mark.slow
async def test_a_quota_refusal_takes_a_place_and_starts_when_the_quota_frees(
    line_hub,
) -> None:
    hub, dev = line_hub
    tag = hub.version.replace(".", "")
    asker, behind = f"qasker{tag}", f"qbehind{tag}"
    await add(hub, LINE, asker, behind)
    base = f"{dev.url}/api/v1/namespaces/default"
    async with httpx.AsyncClient(timeout=10) as client:
        resp = await client.post(f"{base}/resourcequotas", json=QUOTA)
        assert resp.status_code == 201, resp.text
        try:
            # another hub's pod holds the quota's one GPU: this hub's pool sees it free
            resp = await client.post(f"{base}/pods", json=OUTSIDE)
            assert resp.status_code == 201, resp.text
            message = await queued(hub, asker)
            assert message.startswith(f"queued: 1st in line for 1 GPU; 1 of 1 in use ({GPU})")
            # nothing of the refused create stays; the next asker waits behind, uncreated
            assert pod_of(dev, asker) is None
            assert [p["metadata"]["name"] for p in dev.control.objects("pods")] == [
                OUTSIDE["metadata"]["name"]
            ]
            claims = dev.control.objects("persistentvolumeclaims")
            owners = [(c["metadata"].get("annotations") or {}).get(USER) for c in claims]
            assert asker not in owners, owners
            assert (await queued(hub, behind)).startswith("queued: 2nd in line")
            assert (await wait_settled(hub, asker)).get("ready") is None

            resp = await client.delete(f"{base}/pods/{OUTSIDE['metadata']['name']}")
            assert resp.status_code == 200, resp.text
            await hub.wait_for_server(asker)
            assert await positions(hub, behind) == [1]
            await stop(hub, asker)
            await hub.wait_for_server(behind)
            await stop(hub, behind)
        finally:
            await client.delete(f"{base}/pods/{OUTSIDE['metadata']['name']}")
            await client.delete(f"{base}/resourcequotas/gpus")
    assert await positions(hub, asker) == []
