"""Admin accounts with no identity yet are named once the hub has started.

JupyterHub makes the ``admin_users`` accounts at its start, unbound: the first
person to sign in under such a name becomes the account, with its admin rights.
"""

from __future__ import annotations

import asyncio
import logging
import time
from types import SimpleNamespace
from typing import Any

import pytest
from auth_github.helpers import ORG, crypt_env, github_config, oauth_sign_in
from jupyterhub import orm

from hubplugins.auth.binding import NAMED_AT_MOST, admin_accounts, name_unbound_admins
from hubplugins.hub import identity

LINE = "hubplugins identity: "


def _db(accounts: dict[str, str]) -> Any:
    """A JupyterHub database with ``accounts``: name -> "admin-bound", "admin-unbound",
    "admin-owner-only" (a row with an owner and no identity) or "user"."""
    db = orm.new_session_factory("sqlite://")()
    for i, (name, kind) in enumerate(accounts.items()):
        user = orm.User(name=name, admin=kind.startswith("admin"))
        db.add(user)
        db.commit()
        if kind.endswith("-bound"):
            identity.bind(db, user.id, "github", str(1000 + i))
        elif kind.endswith("-owner-only"):
            identity.owner_of(db, user.id)
    return db


MANY = {f"admin{i:02d}": "admin-unbound" for i in range(NAMED_AT_MOST + 3)}
CASES = {
    # case: (accounts, the line logged)
    "no-admins": ({"rita": "user"}, "every admin account (0) has an identity"),
    "every-admin-bound": (
        {"alice": "admin-bound", "bob": "admin-bound", "rita": "user"},
        "every admin account (2) has an identity",
    ),
    "one-unbound": (
        {"alice": "admin-bound", "dave": "admin-unbound", "rita": "user"},
        "1 admin account(s) with no identity yet: dave. ",
    ),
    "an-owner-is-not-an-identity": (
        {"dave": "admin-owner-only", "erin": "admin-unbound"},
        "2 admin account(s) with no identity yet: dave, erin. ",
    ),
    "many": (
        MANY,
        f"{len(MANY)} admin account(s) with no identity yet: "
        + ", ".join(sorted(MANY)[:NAMED_AT_MOST])
        + " and 3 more. ",
    ),
}


class _Records(logging.Handler):
    def __init__(self) -> None:
        super().__init__(logging.INFO)
        self.records: list[logging.LogRecord] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.records.append(record)


@pytest.mark.parametrize("case", CASES)
def test_the_start_line_names_the_unbound_admins(case: str) -> None:
    accounts, expected = CASES[case]
    db = _db(accounts)  # JupyterHub's migrations set up logging of their own
    logger = logging.getLogger(f"test.admin-identities.{case}")
    logger.setLevel(logging.INFO)
    got = _Records()
    logger.addHandler(got)
    name_unbound_admins(SimpleNamespace(db=db, authenticator=SimpleNamespace(log=logger)))
    (record,) = got.records
    message = record.getMessage()
    assert message.startswith(LINE + expected)
    if "no identity yet" in expected:
        assert record.levelno == logging.WARNING
        assert message.endswith(
            "The first person to sign in under such a name becomes that account, with its "
            "admin rights. Link each to its person first: PUT "
            '/hub/api/hubplugins/identities/<name> with {"provider": "github", '
            '"subject": "<numeric id>"} (or "oidc", "directory")'
        )
    else:
        assert record.levelno == logging.INFO and message == LINE + expected
    assert admin_accounts(db)[0] == sum(k.startswith("admin") for k in accounts.values())


async def _start_line(hub: Any) -> str:
    """The identity line of the hub's latest start (logged once its start is complete)."""
    deadline = time.monotonic() + 60
    while True:
        latest = hub.log_text().rpartition("Running JupyterHub version")[2]
        lines = [line for line in latest.splitlines() if LINE + "every admin" in line]
        lines += [line for line in latest.splitlines() if "with no identity yet" in line]
        if lines or time.monotonic() > deadline:
            assert len(lines) == 1, latest[-3000:]
            return lines[0]
        await asyncio.sleep(0.1)


@pytest.mark.slow
async def test_a_hub_names_its_unbound_admins_until_each_is_linked(
    make_hub, jupyterhub_version, github
) -> None:
    github.add_user("dave", orgs=[ORG])
    config = github_config(github) + "import hubplugins\nhubplugins.setup(c)\n"
    config += 'c.Authenticator.admin_users.add("dave")\n'
    hub = await make_hub(config, jupyterhub=jupyterhub_version, env=crypt_env())
    # the harness's own admin account and dave, both made by JupyterHub at its start
    assert "2 admin account(s) with no identity yet: admin, dave. " in await _start_line(hub)

    assert (await oauth_sign_in(hub.client(), "dave")).status_code == 200
    dave_id = github.state.users["dave"]["id"]
    resp = await hub.api(
        "PUT", "/hubplugins/identities/admin", json={"provider": "github", "subject": "424242"}
    )
    assert resp.status_code == 200, resp.text
    await hub.restart()
    assert (await _start_line(hub)).endswith(LINE + "every admin account (2) has an identity")
    resp = await hub.api("GET", "/hubplugins/identities/dave")
    assert resp.json()["subject"] == str(dave_id)
