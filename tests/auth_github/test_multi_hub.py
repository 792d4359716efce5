"""The combined sign-in page through a real hub on both JupyterHub series.

GitHub (names ``gh-``), the real DirectoryAuthenticator on OpenLDAP (names
``dir-``) and JupyterHub's DummyAuthenticator (no prefix, any password) on one
page; the lists are written in hub names, as admins write them.
"""

from __future__ import annotations

import asyncio
import html
import re
from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest
from auth_directory.directory_data import PASSWORDS, DirectoryUnderTest
from auth_github.helpers import ORG, TEAM, crypt_env, github_config, oauth_sign_in, populate
from harness.hub import Hub, HubError, start_hub
from services.fake_github import FakeGitHub

CHILDREN = """\
c.JupyterHub.authenticator_class = "hubplugins.auth.multi.MultiAuthenticator"
c.MultiAuthenticator.authenticators = [
    {{"class": "hubplugins.GitHubAuthenticator", "url_prefix": "github",
     "username_prefix": "gh-"}},
    {{"class": "directory", "url_prefix": "directory", "username_prefix": {dir_prefix!r}}},
    {{"class": "jupyterhub.auth.DummyAuthenticator", "url_prefix": "local",
     "config": {{"allow_all": True}}}},
]
c.DirectoryAuthenticator.manage_groups = True
c.DirectoryAuthenticator.allowed_groups = {{"staff"}}
c.DirectoryAuthenticator.worker_processes = 1
"""

LISTS = """\
c.Authenticator.admin_users = {"alice", "gh-bob"}
c.Authenticator.blocked_users = {"gh-dscully"}
c.Authenticator.auth_refresh_age = 1
"""


def multi_config(github: FakeGitHub, directory: DirectoryUnderTest, dir_prefix: str) -> str:
    lines = [f"c.DirectoryAuthenticator.{k} = {v!r}" for k, v in directory.config.items()]
    extra = CHILDREN.format(dir_prefix=dir_prefix) + "\n".join(lines) + "\n"
    return github_config(github, extra)


@pytest.fixture(scope="module", params=["6", "5.5"], ids=["jh6", "jh55"])
async def shared(
    request: pytest.FixtureRequest,
    tmp_path_factory: pytest.TempPathFactory,
    openldap: DirectoryUnderTest,
) -> AsyncIterator[tuple[Hub, FakeGitHub]]:
    """One local GitHub and one hub per series for the tests of this module."""
    github = await FakeGitHub().start()
    workdir = tmp_path_factory.mktemp(f"multinames{request.param}")
    config = multi_config(github, openldap, "dir-") + LISTS
    try:
        hub = await start_hub(workdir, config, jupyterhub=request.param, env=crypt_env())
    except BaseException:
        await github.stop()
        raise
    yield hub, github
    await hub.stop()
    await github.stop()


@pytest.fixture
async def world(shared: tuple[Hub, FakeGitHub]) -> tuple[Hub, FakeGitHub]:
    hub, github = shared
    await github.reset()
    populate(github)
    github.add_user("dscully", orgs=[ORG])
    github.remove_from_org("alice", ORG)  # alice: a GitHub account in no allowed org
    return hub, github


async def form_sign_in(client: httpx.AsyncClient, url: str, name: str, password: str) -> Any:
    page = await client.get("/hub/login")
    xsrf = re.search(r'name="_xsrf" value="([^"]+)"', page.text)
    assert xsrf is not None
    data = {"username": name, "password": password, "_xsrf": xsrf.group(1)}
    return await client.post(url, data=data, follow_redirects=True)


async def who(client: httpx.AsyncClient) -> dict[str, Any] | None:
    """The session's user as the hub sees it (``/hub/api/user``), None if not signed in."""
    xsrf = client.cookies.get("_xsrf") or ""
    resp = await client.get("/hub/api/user", headers={"X-XSRFToken": xsrf})
    if resp.status_code == 403:
        return None
    assert resp.status_code == 200, resp.text
    return dict(resp.json())


# how -> (login, password) -> status, hub name signed in (None: refused), admin, page words
SIGN_IN = [
    pytest.param(
        "github", "alice", "", 403, None, None, "is not a member", id="gh-no-org-admin-name"
    ),
    pytest.param("local", "alice", "x", 200, "alice", True, None, id="admin-list-hub-name"),
    pytest.param("github", "bob", "", 200, "gh-bob", True, None, id="gh-admin-by-hub-name"),
    pytest.param("github", "dave", "", 200, "gh-dave", True, None, id="gh-admin-team"),
    pytest.param("github", "dscully", "", 403, None, None, None, id="gh-blocked-by-hub-name"),
    pytest.param("local", "gh-bob", "x", 403, None, None, "belongs to another", id="local-gh-name"),
    pytest.param(
        "local", "GH-Mal", "x", 403, None, None, "sign in as 'gh-mal'", id="local-gh-normalized"
    ),
    pytest.param(
        "local", "dir-bob", "x", 403, None, None, "belongs to another", id="local-dir-name"
    ),
    pytest.param("directory", "bob", PASSWORDS["bob"], 200, "dir-bob", False, None, id="dir"),
    pytest.param(
        "directory",
        "dave",
        PASSWORDS["dave"],
        403,
        None,
        None,
        "Invalid username",
        id="dir-no-group",
    ),
]


async def test_names_on_the_combined_page(world: tuple[Hub, FakeGitHub]) -> None:
    """Every case of the table, each in a fresh browser; nothing is created on refusal."""
    hub, github = world
    for case in SIGN_IN:
        how, login, password, status, name, admin, words = case.values
        client = hub.client()
        if how == "github":
            resp = await oauth_sign_in(client, login, start="/hub/github/oauth_login")
        else:
            resp = await form_sign_in(client, f"/hub/{how}/login", login, password)
        assert resp.status_code == status, (case.id, resp.text[:500])
        if words:
            assert words in html.unescape(resp.text), (case.id, resp.text[:500])
        model = await who(client)
        if name is None:
            assert model is None, (case.id, model)
            continue
        assert model is not None, case.id
        assert (model["name"], model["admin"]) == (name, admin), case.id

    # refused accounts left no user behind (alice exists: the admin list creates her)
    for refused in ("gh-alice", "gh-dscully", "gh-mal", "dir-dave"):
        assert (await hub.api("GET", f"/users/{refused}")).status_code == 404, refused

    # authorization stays GitHub's: alice joins the org, signs in as gh-alice, no admin
    github.add_to_org("alice", ORG)
    client = hub.client()
    assert (
        await oauth_sign_in(client, "alice", start="/hub/github/oauth_login")
    ).status_code == 200
    model = await who(client)
    assert model is not None and (model["name"], model["admin"]) == ("gh-alice", False)


async def test_github_and_directory_feed_one_set_of_groups(world: tuple[Hub, FakeGitHub]) -> None:
    """One page, each child's flow under its own URL, the same JupyterHub groups."""
    hub, github = world
    github.add_to_team("alice", TEAM)
    page = await hub.client().get("/hub/login")
    assert "Sign in with GitHub" in page.text
    assert 'href="/hub/github/oauth_login' in page.text
    assert 'action="/hub/directory/login' in page.text
    assert 'action="/hub/local/login' in page.text

    # GitHub side: prefixed name, mapped groups; an outsider is refused
    resp = await oauth_sign_in(hub.client(), "alice", start="/hub/github/oauth_login")
    assert resp.status_code == 200, resp.text[:300]
    refused = await oauth_sign_in(hub.client(), "carol", start="/hub/github/oauth_login")
    assert refused.status_code == 403 and "is not a member" in refused.text

    # directory side: the form on the shared page posts to the child's own URL
    resp = await form_sign_in(hub.client(), "/hub/directory/login", "bob", PASSWORDS["bob"])
    assert resp.status_code == 200 and str(resp.url).endswith("/hub/home"), resp.text[:300]

    # both feed the same JupyterHub groups, hence the same policy tiers
    github_groups = (await hub.api("GET", "/users/gh-alice")).json()["groups"]
    assert sorted(github_groups) == ["authenticated", "gpu-beta"]
    assert "gpu-beta" in (await hub.api("GET", "/users/dir-bob")).json()["groups"]
    group = (await hub.api("GET", "/groups/gpu-beta")).json()
    assert {"dir-bob", "gh-alice"} <= set(group["users"])

    # steps after sign-in reach the owning child: GitHub's spawn check refuses
    github.remove_from_org("alice", ORG)
    resp = await hub.api("POST", "/users/gh-alice/server")
    assert resp.status_code == 403, resp.text


async def _poll(check: Any, what: str, timeout: float = 30) -> None:
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    while not await check():
        assert loop.time() < deadline, what
        await asyncio.sleep(0.2)


async def test_prefixed_directory_refresh(
    world: tuple[Hub, FakeGitHub], openldap: DirectoryUnderTest
) -> None:
    """dir-frank is refreshed as frank: groups follow the directory; removal signs out."""
    hub, _ = world
    client = hub.client()
    await form_sign_in(client, "/hub/directory/login", "frank", PASSWORDS["frank"])
    model = await who(client)
    assert model is not None and model["name"] == "dir-frank"
    assert "gpu-beta" not in model["groups"]
    changed: list[str] = []
    try:
        await openldap.add_member("gpu-beta", "frank")
        changed.append("joined gpu-beta")

        async def joined() -> bool:
            model = await who(client)
            assert model is not None and model["name"] == "dir-frank", model
            return "gpu-beta" in model["groups"]

        await _poll(joined, "the refresh never brought dir-frank's new group")

        await openldap.remove_member("staff", "frank")
        changed.append("left staff")

        async def signed_out() -> bool:
            return await who(client) is None

        await _poll(signed_out, "dir-frank kept access after leaving the allowed group")
        again = await form_sign_in(client, "/hub/directory/login", "frank", PASSWORDS["frank"])
        assert again.status_code == 403 and await who(client) is None
    finally:
        # put frank back as the directory tests expect him
        if "left staff" in changed:
            await openldap.add_member("staff", "frank")
        if "joined gpu-beta" in changed:
            await openldap.remove_member("gpu-beta", "frank")


STARTS = [
    pytest.param("gh-x-", "", "starts username_prefix 'gh-x-'", id="nested-prefixes"),
    pytest.param(
        "dir-",
        'c.GitHubAuthenticator.admin_users = {"dave"}\n',
        "GitHubAuthenticator.admin_users: 'dave' is a name of another sign-in method",
        id="own-list-other-name",
    ),
]


async def test_start_refuses_names_that_meet(
    tmp_path_factory: pytest.TempPathFactory, openldap: DirectoryUnderTest
) -> None:
    """Names that could meet, a list entry of another child: the hub exits with the why.

    The check runs before JupyterHub's own start, the same on both series; the
    other configuration errors are tables in test_multi.py.
    """
    github = await FakeGitHub().start()
    try:
        starts = []
        for case in STARTS:
            dir_prefix, extra, _ = case.values
            config = multi_config(github, openldap, dir_prefix) + extra
            workdir = tmp_path_factory.mktemp(f"multistart-{case.id}")
            starts.append(start_hub(workdir, config, jupyterhub="6", env=crypt_env()))
        results = await asyncio.gather(*starts, return_exceptions=True)
    finally:
        await github.stop()
    for case, result in zip(STARTS, results, strict=True):
        assert isinstance(result, HubError), (case.id, result)
        assert case.values[2] in str(result), (case.id, str(result)[-2000:])
