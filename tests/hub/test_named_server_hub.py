"""The named-server hook of ``setup(c)`` in a real JupyterHub (5.5 and 6.x).

Only refusals are exercised (nothing is spawned): the hook must answer before
any server record exists, with the policy's status and message, using the
policy of the user in the request path, not of the requester.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

import pytest

pytestmark = pytest.mark.slow

CONFIG = """
import hubplugins
c.HubPolicy.policy = {
    "defaults": {"servers": {"max_named": 0, "name_max_length": 10}},
    "groups": {"big": {"servers": {"max_named": 3}}},
}
hubplugins.setup(c)
"""


async def test_named_server_hook(
    make_hub: Callable[..., Awaitable[Any]], jupyterhub_version: str
) -> None:
    hub = await make_hub(CONFIG, jupyterhub=jupyterhub_version)
    for user in ("alice", "bob"):
        assert (await hub.api("POST", f"/users/{user}")).status_code == 201
    resp = await hub.api("POST", "/groups/big", json={"users": ["bob"]})
    assert resp.status_code == 201, resp.text

    # alice's own policy (defaults: no named servers), though the requester is an admin service
    resp = await hub.api("POST", "/users/alice/servers/nb1", json={})
    assert resp.status_code == 403, resp.text
    assert "Named servers are not available for your groups (defaults)" in resp.json()["message"]

    # bob may hold named servers, but the name is checked on 5.5 too
    resp = await hub.api("POST", "/users/bob/servers/My_NB", json={})
    assert resp.status_code == 400, resp.text
    assert 'Server name "My_NB" contains uppercase letters' in resp.json()["message"]
    resp = await hub.api("POST", "/users/bob/servers/abcdefghijk", json={})
    assert resp.status_code == 400, resp.text
    assert "too long: 11 of at most 10 characters" in resp.json()["message"]

    # nothing was created
    resp = await hub.api("GET", "/users/alice")
    assert set(resp.json()["servers"]) <= {""}
    resp = await hub.api("GET", "/users/bob")
    assert set(resp.json()["servers"]) <= {""}

    # the home page (no server name in the path) still renders
    client = await hub.login("bob")
    home = await client.get("/hub/home")
    assert home.status_code == 200
    assert "hubplugins" in hub.log_text() and "named-server" in hub.log_text()
