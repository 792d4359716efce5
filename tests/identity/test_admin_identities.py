"""Admin accounts with no identity yet are named once the hub has started.

JupyterHub makes the ``admin_users`` accounts at its start, unbound: the first
person to sign in under such a name becomes the account, with its admin rights.
"""

from __future__ import annotations

import asyncio
import html
import logging
import time
from types import SimpleNamespace
from typing import Any

import pytest
from auth_github.helpers import ORG, crypt_env, github_config, oauth_sign_in
from harness.logs import Kept
from jupyterhub import crypto, orm

from hubplugins.auth.binding import (
    NAMED_AT_MOST,
    admin_accounts,
    bind_admins,
    name_unbound_admins,
)
from hubplugins.auth.github import GitHubAuthenticator, GitHubUnavailable
from hubplugins.auth.multi import MultiAuthenticator
from hubplugins.hub import identity

LINE = "hubplugins identity: "


def _db(accounts: dict[str, str]) -> Any:
    """A JupyterHub database with ``accounts``: name -> "admin-bound", "admin-unbound",
    "admin-owner-only" (a row with an owner and no identity), "admin-used" (a saved
    auth_state that cannot be read, no identity) or "user"; the test adds "admin-saved"
    and "admin-unlinked"."""
    db = orm.new_session_factory("sqlite://")()
    for i, (name, kind) in enumerate(accounts.items()):
        user = orm.User(name=name, admin=kind.startswith("admin"))
        db.add(user)
        db.commit()
        if kind.endswith("-bound"):
            identity.bind(db, user.id, "github", str(1000 + i))
        elif kind.endswith("-owner-only"):
            identity.owner_of(db, user.id)
        elif kind.endswith("-used"):  # signed in before identities were recorded
            user.encrypted_auth_state = b"saved"
            db.commit()
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


@pytest.mark.parametrize("case", CASES)
def test_the_start_line_names_the_unbound_admins(case: str) -> None:
    accounts, expected = CASES[case]
    db = _db(accounts)  # JupyterHub's migrations set up logging of their own
    logger = logging.getLogger(f"test.admin-identities.{case}")
    logger.setLevel(logging.INFO)
    got = Kept()
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


LOOKUPS = {
    # case: (login asked, what the local GitHub holds, the id found, or the error)
    "a-user": ("dave", {"dave": {}}, "7001"),
    "another-case": ("DAVE", {"dave": {}}, "7001"),
    "no-such-login": ("nobody", {"dave": {}}, None),
    "an-organisation": ("dave", {"dave": {"type": "Organization"}}, None),
    "github-down": ("dave", {"dave": {}}, GitHubUnavailable),
}


@pytest.mark.parametrize("case", LOOKUPS)
async def test_github_looks_up_a_login(case: str, github) -> None:
    login, users, expected = LOOKUPS[case]
    for name, extra in users.items():
        github.add_user(name)
        github.state.users[name].update({"id": 7001, **extra})
    github.state.fail_with = 503 if expected is GitHubUnavailable else None
    auth = GitHubAuthenticator(github_url=github.url, client_id="id", client_secret="secret")
    try:
        if expected is GitHubUnavailable:
            with pytest.raises(GitHubUnavailable, match="looking up a GitHub login: HTTP 503"):
                await auth.lookup_identity(login)
        else:
            assert await auth.lookup_identity(login) == expected
    finally:
        github.state.fail_with = None
        for name in users:
            github.state.users.pop(name, None)


def _github_child(github) -> dict[str, Any]:
    return {
        "class": "hubplugins.GitHubAuthenticator",
        "url_prefix": "github",
        "username_prefix": "gh-",
        "config": {"github_url": github.url, "client_id": "id", "client_secret": "x"},
    }


BINDS = {
    # case: (sign-in set-up, admin accounts, bound now, the identity each admin has after)
    "github": (
        "github",
        {"lena": "admin-unbound", "ghost": "admin-unbound", "rita": "user"},
        ["lena"],
        {"lena": ("github", "8001"), "ghost": None},
    ),
    "combined-page": (
        "multi",
        {"gh-lena": "admin-unbound", "lena": "admin-unbound", "gh-ghost": "admin-unbound"},
        ["gh-lena"],
        # the unprefixed lena is the other child's (no look-up there); no GitHub ghost
        {"gh-lena": ("github", "8001"), "lena": None, "gh-ghost": None},
    ),
    "bound-already": ("github", {"lena": "admin-bound"}, [], {"lena": ("github", "1000")}),
    # an account used before is its saved auth_state's person, looked up nowhere
    "used-before": ("github", {"lena": "admin-saved"}, ["lena"], {"lena": ("github", "7007")}),
    # a saved auth_state that cannot be read (its key is gone) is no evidence: looked up
    "used-before-unreadable": (
        "github",
        {"lena": "admin-used"},
        ["lena"],
        {"lena": ("github", "8001")},
    ),
    # a name username_map maps to or from is no GitHub login: left, and named
    "a-mapped-name": ("github-mapped", {"lena": "admin-unbound"}, [], {"lena": None}),
    # an account an admin unlinked is its next sign-in's
    "unlinked": ("github", {"lena": "admin-unlinked"}, [], {"lena": None}),
    # a sign-in binds the account to another id while its login is looked up: kept, and said
    "bound-meanwhile-to-another": (
        "github-race",
        {"lena": "admin-unbound"},
        [],
        {"lena": ("github", "1000")},
    ),
}


@pytest.mark.parametrize("case", BINDS)
async def test_admins_bound_by_the_login_they_have_at_start(case: str, github, keeper: Any) -> None:
    how, accounts, bound, after = BINDS[case]
    github.add_user("lena")
    github.state.users["lena"]["id"] = 8001
    db = _db(accounts)
    for name, kind in accounts.items():
        user = orm.User.find(db, name)
        if kind == "admin-saved":
            user.encrypted_auth_state = await crypto.encrypt({"github_user": {"id": 7007}})
        elif kind == "admin-unlinked":
            identity.bind(db, user.id, "github", "1000")
            identity.relink(db, user.id, None, None)
    db.commit()
    if how.startswith("github"):
        mapped = {"lena": "boss", "ann": "lena"} if how == "github-mapped" else {}
        auth: Any = GitHubAuthenticator(
            github_url=github.url, client_id="id", client_secret="x", username_map=mapped
        )
    else:
        dummy = {"class": "dummy", "url_prefix": "local"}
        auth = MultiAuthenticator(authenticators=[_github_child(github), dummy])
    logger = logging.getLogger(f"test.admin-binds.{case}")
    logger.setLevel(logging.INFO)
    got = Kept()
    logger.addHandler(got)
    auth.log = logger
    if how == "github-race":
        lookup = auth.lookup_identity

        async def signed_in_meanwhile(login: str) -> str | None:
            found = await lookup(login)
            identity.bind(db, orm.User.find(db, login).id, "github", "1000")
            return found

        auth.lookup_identity = signed_in_meanwhile
    try:
        assert await bind_admins(SimpleNamespace(db=db, authenticator=auth)) == bound
    finally:
        github.state.users.pop("lena")
    for name, held in after.items():
        assert identity.bound_identity(db, orm.User.find(db, name).id) == held
    lines = [r.getMessage() for r in got.records]
    if case == "bound-meanwhile-to-another":
        assert lines == [
            "hubplugins identity: admin account lena is bound to github id 1000, but the id "
            "of 'lena' at the hub's start is 8001"
        ]
    elif case == "used-before":
        assert lines == [
            "hubplugins identity: admin account lena bound to github id 7007, its saved "
            "auth_state's id"
        ]
    else:
        assert lines == [
            f"hubplugins identity: admin account {name} bound to github id 8001, the id of "
            "'lena' at the hub's start"
            for name in bound
        ]


@pytest.mark.slow
async def test_a_hub_binds_its_admins_at_start(make_hub, jupyterhub_version, github) -> None:
    login = f"dana{jupyterhub_version.replace('.', '')}"
    github.add_user(login, orgs=[ORG])
    dana_id = github.state.users[login]["id"]
    config = github_config(github) + "import hubplugins\nhubplugins.setup(c)\n"
    config += f"c.Authenticator.admin_users.add({login!r})\n"
    hub = await make_hub(config, jupyterhub=jupyterhub_version, env=crypt_env())
    # the harness's own admin account is no GitHub login: it is left, and named
    assert (await _start_line(hub)).endswith(
        LINE + "1 admin account(s) with no identity yet: admin. The first person to sign in "
        "under such a name becomes that account, with its admin rights. Link each to its "
        'person first: PUT /hub/api/hubplugins/identities/<name> with {"provider": '
        '"github", "subject": "<numeric id>"} (or "oidc", "directory")'
    )
    assert (
        f"hubplugins identity: admin account {login} bound to github id {dana_id}, the id of "
        f"{login!r} at the hub's start"
    ) in hub.log_text()

    # the login is freed and taken by someone else before its owner ever signed in
    github.state.users[f"{login}-renamed"] = {**github.state.users.pop(login)}
    github.add_user(login, orgs=[ORG])
    github.state.users[login]["id"] = 990000 + dana_id
    resp = await oauth_sign_in(hub.client(), login)
    assert resp.status_code == 403, resp.text
    page = html.unescape(resp.text)
    assert f'The hub account "{login}" belongs to another github account' in page
    resp = await hub.api("GET", f"/users/{login}")
    assert resp.json()["admin"] is True
    resp = await hub.api("GET", f"/hubplugins/identities/{login}")
    assert resp.json()["subject"] == str(dana_id)

    resp = await hub.api(
        "PUT", "/hubplugins/identities/admin", json={"provider": "github", "subject": "424242"}
    )
    assert resp.status_code == 200, resp.text
    await hub.restart()
    assert (await _start_line(hub)).endswith(LINE + "every admin account (2) has an identity")
