"""A refused first start removes only the server record the refused request made.

Through the real hub on both series, with the CPU quota (defaults: 1 CPU per
server, 2 in all) filled by two running servers, so that the next start is
refused for a reason that passes once a server stops:

- a record made by a ``PUT`` (6.x: create without starting), or by the spawn
  form's page before the start, stays, and a later start succeeds in it;
- a ``POST`` to a new name, or the form's ``POST`` to a new name, leaves no
  record behind.
"""

from __future__ import annotations

import asyncio
import itertools

import pytest

_ids = itertools.count()
FORGOTTEN = "Removed the record of refused new server"


async def _servers(hub, user: str) -> dict:
    resp = await hub.api("GET", f"/users/{user}?include_stopped_servers=1")
    assert resp.status_code == 200, resp.text
    return dict(resp.json()["servers"])


async def _wait_gone(hub, user: str, name: str) -> dict:
    deadline = asyncio.get_running_loop().time() + 10
    while True:
        servers = await _servers(hub, user)
        if name not in servers or asyncio.get_running_loop().time() > deadline:
            return servers
        await asyncio.sleep(0.05)


async def _fill_quota(hub, user: str) -> None:
    results = await asyncio.gather(
        *(hub.api("POST", f"/users/{user}/servers/{name}") for name in ("", "nb1"))
    )
    assert all(r.status_code in (201, 202) for r in results), [r.text for r in results]
    await asyncio.gather(*(hub.wait_for_server(user, name) for name in ("", "nb1")))


async def _stop_all(hub, user: str) -> None:
    for name, model in (await _servers(hub, user)).items():
        if model.get("ready") or model.get("pending"):
            await hub.api("DELETE", f"/users/{user}/servers/{name}")
            await hub.wait_for_server(user, name, ready=False)


def _refused_by_quota(resp) -> None:
    assert resp.status_code == 403, resp.text
    assert "quota" in resp.json()["message"].lower(), resp.text


async def _made_by_put(hub, user: str, client) -> None:
    resp = await hub.api("PUT", f"/users/{user}/servers/nb2", json={"display_name": "Kept"})
    assert resp.status_code == 201, resp.text


async def _made_by_form_page(hub, user: str, client) -> None:
    resp = await client.get(f"/hub/spawn/{user}/nb2")
    assert resp.status_code == 200, resp.text[:500]


async def _start_by_api(hub, user: str, client):
    return await hub.api("POST", f"/users/{user}/servers/nb2")


async def _start_by_form(hub, user: str, client):
    return await client.post(
        f"/hub/spawn/{user}/nb2",
        data={"_xsrf": client.cookies.get("_xsrf")},
        follow_redirects=True,
    )


# (case id, how the record is made before the start or None, how the start is
#  made, whether the record must stay, JupyterHub series that have the path)
RECORD_CASES = [
    ("put-then-api-start", _made_by_put, _start_by_api, True, {"6"}),
    ("form-page-then-api-start", _made_by_form_page, _start_by_api, False, {"6", "5.5"}),
    ("form-page-then-form-start", _made_by_form_page, _start_by_form, False, {"6", "5.5"}),
    ("api-post-new-name", None, _start_by_api, False, {"6", "5.5"}),
    ("form-post-new-name", None, _start_by_form, False, {"6", "5.5"}),
]


@pytest.mark.parametrize(
    ("make", "start", "stays", "series"),
    [pytest.param(m, s, k, v, id=i) for i, m, s, k, v in RECORD_CASES],
)
async def test_refused_first_start_removes_only_its_own_record(
    policy_hub, make, start, stays, series
):
    hub = policy_hub
    user = f"rec{next(_ids)}x{hub.version.replace('.', '')}"
    client = await hub.login(user, "pw")
    if hub.version not in series:
        # no such path on this series (5.5 has no PUT): refused, nothing made
        resp = await hub.api("PUT", f"/users/{user}/servers/nb2", json={})
        assert 400 <= resp.status_code < 500, resp.text
        assert "nb2" not in await _servers(hub, user)
        return
    await _fill_quota(hub, user)
    if make is not None:
        await make(hub, user, client)
        assert "nb2" in await _servers(hub, user)

    resp = await start(hub, user, client)
    if start is _start_by_form:
        assert 400 <= resp.status_code < 500, resp.text[:500]
        assert "quota" in resp.text.lower(), resp.text[:2000]
    else:
        _refused_by_quota(resp)
    await hub.wait_for_server(user, "nb2", ready=False)

    if not stays:
        servers = await _wait_gone(hub, user, "nb2")
        assert "nb2" not in servers, servers
        assert f"{FORGOTTEN} {user}:nb2" in hub.log_text()
        await _stop_all(hub, user)
        return

    # the record stays; once the quota has room, a start in it succeeds
    await hub.api("DELETE", f"/users/{user}/servers/nb1")
    await hub.wait_for_server(user, "nb1", ready=False)
    resp = await hub.api("POST", f"/users/{user}/servers/nb2")
    assert resp.status_code in (201, 202), resp.text
    model = await hub.wait_for_server(user, "nb2")
    if make is _made_by_put:
        assert model.get("display_name") == "Kept", model
    assert f"{FORGOTTEN} {user}:nb2" not in hub.log_text()
    await _stop_all(hub, user)


# -- new_records: which requests see a record as their own ---------------------------


async def test_a_record_is_new_only_to_the_request_that_made_it() -> None:
    from jupyterhub import orm

    from hubplugins.hub import new_records

    new_records.install()
    new_records.install()  # once per process, however often it is called
    db = orm.new_session_factory("sqlite:///:memory:")()
    user = orm.User(name="ann")
    db.add(user)
    db.commit()

    async def request(name: str) -> orm.Spawner:
        # a request makes a record, then starts it in a task of its own
        record = orm.Spawner(name=name, user=user)
        db.add(record)
        db.commit()
        assert await asyncio.create_task(_seen(record)), "the start of the same request"
        return record

    async def _seen(record: orm.Spawner) -> bool:
        return new_records.created_in_this_request(record)

    made_by_put = await asyncio.create_task(request("put"))
    assert not new_records.created_in_this_request(made_by_put)
    # a later request, on the same connection's context or another, does not see it
    assert not await asyncio.create_task(_seen(made_by_put))
    other = await asyncio.create_task(request("post"))
    assert not await asyncio.create_task(_seen(other))
    db.close()
