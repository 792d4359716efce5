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
        "c.Authenticator.auth_refresh_age = 1",
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


def _rename_entry(directory: DirectoryUnderTest, uid: str, new_uid: str) -> None:
    """Rename a person's entry (its uid and RDN); the entryUUID stays."""
    conn = directory._admin()
    try:
        conn.delete(directory.user_dn(new_uid))  # left by an earlier run
        if not conn.modify_dn(directory.user_dn(uid), f"uid={new_uid}"):
            raise RuntimeError(f"rename {uid}: {conn.result}")
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

    # the entry is renamed in the directory (same entryUUID): the session and the
    # account stay, under the account's name; then it gets its name back
    for hub, user in zip(hubs, users, strict=True):
        client = await hub.login(user, PASSWORD)
        await asyncio.to_thread(_rename_entry, openldap, user, user + "r")
        loop = asyncio.get_running_loop()
        deadline = loop.time() + 30
        while f"{user} is now '{user}r' at the provider" not in hub.log_text():
            home = await client.get("/hub/home", follow_redirects=False)
            assert home.status_code == 200, hub.log_tail()
            assert loop.time() < deadline, hub.log_tail()
            await asyncio.sleep(0.2)
        assert (await client.get("/hub/api/user")).json()["name"] == user
        assert (await hub.api("GET", f"/users/{user}r")).status_code == 404
        assert " 500 " not in hub.log_text()
        await asyncio.to_thread(_rename_entry, openldap, user + "r", user)

    # the entry is deleted and another person's entry made under the same uid
    for user in users:
        await asyncio.to_thread(_make_entry, openldap, user)
    for hub, user in zip(hubs, users, strict=True):
        client = await hub.login(user, PASSWORD)
        resp = client.login_response
        assert resp.status_code == 403, hub.log_tail()
        assert "belongs to another directory account" in resp.text
        assert (await client.get("/hub/api/user")).status_code == 403
