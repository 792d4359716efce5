"""The directory's entryUUID binds an account: an entry re-made under the same uid is refused.

OpenLDAP, through the login form of a real hub on both JupyterHub series.
"""

from __future__ import annotations

import asyncio
import re
from typing import Any

import pytest
from auth_directory.directory_data import DirectoryUnderTest

pytestmark = pytest.mark.slow

PASSWORD = "Ivan-Passw0rd!"


def _config(directory: DirectoryUnderTest) -> str:
    lines = [
        'c.JupyterHub.authenticator_class = "directory"',
        "c.Authenticator.allow_all = True",
        "c.DirectoryAuthenticator.worker_processes = 1",
    ]
    lines += [f"c.DirectoryAuthenticator.{k} = {v!r}" for k, v in directory.config.items()]
    return "\n".join(lines) + "\nimport hubplugins\nhubplugins.setup(c)\n"


def _make_entry(directory: DirectoryUnderTest, uid: str) -> None:
    """(Re-)create a person entry: the directory gives it a new entryUUID each time."""
    conn = directory._admin()
    try:
        dn = directory.user_dn(uid)
        conn.delete(dn)  # absent the first time
        attrs = {"uid": uid, "cn": uid, "sn": uid, "userPassword": PASSWORD}
        if not conn.add(dn, ["inetOrgPerson"], attrs):
            raise RuntimeError(f"add {dn}: {conn.result}")
    finally:
        conn.unbind()


async def test_directory_entry_remade_under_the_same_name_is_refused(
    make_hub: Any, openldap: DirectoryUnderTest
) -> None:
    versions = ("6", "5.5")
    hubs = await asyncio.gather(
        *(
            make_hub(_config(openldap), jupyterhub=v, env={"JUPYTERHUB_CRYPT_KEY": "cd" * 32})
            for v in versions
        )
    )
    users = [f"ivan{v.replace('.', '')}" for v in versions]
    for user in users:
        await asyncio.to_thread(_make_entry, openldap, user)
    for hub, user in zip(hubs, users, strict=True):
        client = await hub.login(user, PASSWORD)
        assert client.login_response.status_code == 302, hub.log_tail()
        assert (await client.get("/hub/api/user")).json()["name"] == user
        bound = (await hub.api("GET", f"/hubplugins/identities/{user}")).json()
        assert bound["provider"] == "directory"
        assert re.fullmatch(r"[0-9a-f-]{32,}", bound["subject"]), bound

    # the entry is deleted and another person's entry made under the same uid
    for user in users:
        await asyncio.to_thread(_make_entry, openldap, user)
    for hub, user in zip(hubs, users, strict=True):
        client = await hub.login(user, PASSWORD)
        resp = client.login_response
        assert resp.status_code == 403, hub.log_tail()
        assert "belongs to another directory account" in resp.text
        assert (await client.get("/hub/api/user")).status_code == 403
