"""Named servers in the GPU line whose record is gone when a GPU frees for them.

A queued start has ended with the ``queued`` 409, so the server is stopped:
its owner may remove it (``DELETE /users/{user}/servers/{server}`` with
``remove``), and the first start of a new name leaves no record behind at all.
When a GPU frees, the line reserves it for the place and starts the server:
the GPUs of a place that cannot start must go back to the pool, for the next
in line, and no server its owner removed is started.
"""

from __future__ import annotations

import os
import sys
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
from harness.hub import Hub, start_hub

from hubplugins_dev.devcluster.testing import arun_devcluster

from .pool_hub import pod_of, start_gpu, wait_settled
from .test_gpu_queue import CONFIG, LINE, add, hold, place, stop, until

pytestmark = pytest.mark.slow


@pytest.fixture(params=["5.5", "6"], ids=["jh55", "jh6"])
async def line_hub(
    request: pytest.FixtureRequest, tmp_path: Path
) -> AsyncIterator[tuple[Hub, Any]]:
    """The line's hub (a pool of one GPU) on a devcluster, one per test: a GPU a test
    leaves reserved would be another test's."""
    path = os.pathsep.join([str(Path(sys.executable).parent), os.environ["PATH"]])
    os.environ["PATH"] = path
    async with arun_devcluster(tmp_path / "devcluster") as dev:
        hub = await start_hub(
            tmp_path / "hub", CONFIG, jupyterhub=request.param, kubeconfig=dev.kubeconfig
        )
        try:
            yield hub, dev
        finally:
            await hub.stop()


async def servers(hub, user: str) -> dict:
    resp = await hub.api("GET", f"/users/{user}?include_stopped_servers=1")
    assert resp.status_code == 200, resp.text
    return dict(resp.json()["servers"])


async def queue(hub, user: str, server: str) -> None:
    resp = await start_gpu(hub, user, server)
    assert resp.status_code == 409, resp.text
    assert resp.json()["message"].startswith("queued: "), resp.text
    await wait_settled(hub, user, server)


async def gpu_goes_to(hub, user: str) -> None:
    """A GPU start of ``user`` that is given the free GPU (not queued behind a stuck place)."""
    resp = await start_gpu(hub, user)
    assert resp.status_code in (201, 202), resp.text
    await hub.wait_for_server(user)


async def test_a_server_removed_while_in_line_gives_its_gpu_to_the_next(line_hub) -> None:
    hub, dev = line_hub
    holder, owner, nxt = "rmholder", "rmowner", "rmnext"
    await add(hub, LINE, holder, owner, nxt)
    # a named server that exists (started once without a GPU, then stopped)
    resp = await start_gpu(hub, owner, "nb", gpu=0)
    assert resp.status_code in (201, 202), resp.text
    await hub.wait_for_server(owner, "nb")
    resp = await hub.api("DELETE", f"/users/{owner}/servers/nb")
    assert resp.status_code in (202, 204), resp.text
    await hub.wait_for_server(owner, "nb", ready=False)

    await hold(hub, holder)
    await queue(hub, owner, "nb")
    resp = await hub.api("DELETE", f"/users/{owner}/servers/nb", json={"remove": True})
    assert resp.status_code in (202, 204), resp.text
    assert "nb" not in await servers(hub, owner)
    try:
        # the removal ended the place: nothing of it is left to serve
        assert (await place(hub, owner))["places"] == []
        await stop(hub, holder)
        # the freed GPU is the next user's, and the removed server is not made again
        await gpu_goes_to(hub, nxt)
        assert "nb" not in await servers(hub, owner)
        assert pod_of(dev, owner, "nb") is None
        assert "Task exception was never retrieved" not in hub.log_text()
    finally:
        await stop(hub, nxt)
        for user in (holder, owner, nxt):
            await hub.api("DELETE", f"/users/{user}")


async def test_a_new_named_server_in_line_starts_when_a_gpu_frees(line_hub) -> None:
    hub, dev = line_hub
    holder, owner = "nnholder", "nnowner"
    await add(hub, LINE, holder, owner)
    await hold(hub, holder)
    await queue(hub, owner, "fresh")
    try:
        await stop(hub, holder)

        async def started() -> bool:
            return bool((await servers(hub, owner)).get("fresh", {}).get("ready"))

        await until(started, timeout=30)
        assert pod_of(dev, owner, "fresh") is not None
        assert "Task exception was never retrieved" not in hub.log_text()
    finally:
        await hub.api("DELETE", f"/users/{owner}/servers/fresh")
        for user in (holder, owner):
            await hub.api("DELETE", f"/users/{user}")
