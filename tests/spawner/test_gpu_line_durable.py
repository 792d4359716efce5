"""The GPU line across hub restarts, and a namespace quota's refusal as a place in line.

One hub per series with a pool of one GPU and a queueing tier, on a devcluster
of its own, shared by the module's two tests. Both series: the line's start
goes through ``User.spawn`` and the hub's start-up, whose order differs.
"""

from __future__ import annotations

import os
import sqlite3
import sys
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from harness import hub as hub_harness
from harness.hub import Hub, start_hub

from hubplugins_dev.devcluster.testing import arun_devcluster

from .pool_hub import GPU, pod_of, wait_settled
from .test_gpu_queue import CONFIG, LINE, add, hold, place, queued, stop, until


@pytest.fixture(scope="module", params=["5.5", "6"], ids=["jh55", "jh6"])
async def durable_hub(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> AsyncIterator[tuple[Hub, Any]]:
    root = tmp_path_factory.mktemp(f"gpudurable{request.param}")
    os.environ["PATH"] = os.pathsep.join([str(Path(sys.executable).parent), os.environ["PATH"]])
    async with arun_devcluster(root / "devcluster") as dev:
        hub = await start_hub(
            root / "hub", CONFIG, jupyterhub=request.param, kubeconfig=dev.kubeconfig
        )
        try:
            yield hub, dev
        finally:
            await hub.stop()


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
async def test_the_line_survives_a_restart_and_a_crash_in_order(durable_hub) -> None:
    hub, dev = durable_hub
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
    durable_hub,
) -> None:
    hub, dev = durable_hub
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
