"""The spawn form: the same refusals as the REST API, and only the allowed profiles.

JupyterHub 5.5's form POST does not consult the hub-level named-server hook,
so the spawner checks new names itself and removes the record of a refused
new server: the page shows the message and nothing is left behind.
"""

from __future__ import annotations

import asyncio
import itertools

import pytest

_ids = itertools.count()

FORM_CASES = [
    ("name-too-long", "a" * 21, {}, ["20"]),
    ("name-uppercase", "Shouting", {}, []),
    ("cpu-above-max", "ok1", {"cpu": "99"}, ["cpu"]),
    ("hidden-profile", "ok2", {"profile": "gpu"}, ["gpu"]),
    ("resources-junk", "ok3", {"resources": "meml=2\nnot a line"}, ["line 2"]),
]


async def _wait_forgotten(hub, user: str, name: str) -> dict:
    for _ in range(100):
        model = (await hub.api("GET", f"/users/{user}?include_stopped_servers=1")).json()
        if name not in model["servers"]:
            return model
        await asyncio.sleep(0.05)
    return model


@pytest.mark.parametrize(
    ("name", "fields", "words"), [pytest.param(n, f, w, id=i) for i, n, f, w in FORM_CASES]
)
async def test_form_refusals_show_the_message_and_leave_nothing(
    policy_hub, devcluster, name, fields, words
):
    user = f"form{next(_ids)}"
    client = await policy_hub.login(user, "pw")
    before = devcluster.control.counts()
    resp = await client.post(
        f"/hub/spawn/{user}/{name}",
        data={"_xsrf": client.cookies.get("_xsrf"), **fields},
        follow_redirects=True,
    )
    assert 400 <= resp.status_code < 500, resp.text[:500]
    for word in words:
        assert word in resp.text
    model = await _wait_forgotten(policy_hub, user, name)
    assert name not in model["servers"], model["servers"]
    after = devcluster.control.counts()
    for kind in ("pods", "persistentvolumeclaims"):
        assert after.get(f"create/{kind}", 0) == before.get(f"create/{kind}", 0)


async def test_rename_is_checked_and_keeps_the_volume(policy_hub, devcluster):
    user = f"ren{next(_ids)}"
    await policy_hub.api("POST", f"/users/{user}")
    resp = await policy_hub.api("POST", f"/users/{user}/servers/first")
    assert resp.status_code in (201, 202), resp.text
    await policy_hub.wait_for_server(user, "first")
    await policy_hub.api("DELETE", f"/users/{user}/servers/first")
    await policy_hub.wait_for_server(user, "first", ready=False)
    claims = set(devcluster.control.volumes())

    if policy_hub.version == "5.5":
        # 5.5 has no renames: the PATCH is refused and nothing changes
        resp = await policy_hub.api("PATCH", f"/users/{user}/servers/first", json={"name": "x"})
        assert 400 <= resp.status_code < 500, resp.text
        model = (await policy_hub.api("GET", f"/users/{user}?include_stopped_servers=1")).json()
        assert "first" in model["servers"] and "x" not in model["servers"], model["servers"]
        assert set(devcluster.control.volumes()) == claims
        return

    resp = await policy_hub.api("PATCH", f"/users/{user}/servers/first", json={"name": "a" * 21})
    assert resp.status_code == 400, resp.text
    assert "20" in resp.json()["message"]

    resp = await policy_hub.api("PATCH", f"/users/{user}/servers/first", json={"name": "second"})
    assert resp.status_code in (200, 201), resp.text
    resp = await policy_hub.api("POST", f"/users/{user}/servers/second")
    assert resp.status_code in (201, 202), resp.text
    await policy_hub.wait_for_server(user, "second")
    # no new volume: the renamed server kept its own
    assert set(devcluster.control.volumes()) == claims
    await policy_hub.api("DELETE", f"/users/{user}/servers/second")
