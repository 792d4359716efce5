"""GitHub sign-in through a real JupyterHub (5.5 and 6.x) and the local GitHub."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Awaitable, Callable
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

import pytest
from auth_github.helpers import ORG, TEAM, crypt_env, github_config, oauth_sign_in, populate
from harness.hub import Hub, HubError, start_hub
from services.fake_github import FakeGitHub

# login, world change before sign-in -> status, groups, admin, words on the page
SIGN_IN = [
    pytest.param("alice", None, 200, ["authenticated", "gpu-beta"], False, None, id="team-member"),
    pytest.param("bob", None, 200, ["authenticated"], False, None, id="org-member"),
    pytest.param("dave", None, 200, ["authenticated"], True, None, id="admin-team"),
    pytest.param("carol", None, 403, None, None, "is not a member", id="outsider"),
    pytest.param("erin", None, 403, None, None, "bioimage-io", id="other-org"),
    pytest.param("bob", "withhold-read-org", 403, None, None, "read:org", id="private-membership"),
]

Factory = Callable[..., Awaitable[Hub]]

REFRESH_CONFIG = """\
c.Authenticator.auth_refresh_age = 1
c.Authenticator.admin_users = {"hubroot"}
"""


@pytest.fixture(scope="module", params=["6", "5.5"], ids=["jh6", "jh55"])
async def shared(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory, devcluster
) -> AsyncIterator[tuple[Hub, FakeGitHub]]:
    """One local GitHub and one hub per series (KubeSpawner on the devcluster)."""
    github = await FakeGitHub().start()
    workdir = tmp_path_factory.mktemp(f"githubhub{request.param}")
    config = github_config(github, REFRESH_CONFIG)
    try:
        hub = await start_hub(
            workdir,
            config,
            jupyterhub=request.param,
            env=crypt_env(),
            kubeconfig=devcluster.kubeconfig,
        )
    except BaseException:
        await github.stop()
        raise
    yield hub, github
    await hub.stop()
    await github.stop()


@pytest.fixture
async def world(shared: tuple[Hub, FakeGitHub]) -> tuple[Hub, FakeGitHub]:
    """The shared hub and GitHub, with GitHub's users and memberships as new."""
    hub, github = shared
    await github.reset()
    populate(github)
    return hub, github


async def test_sign_in(world: tuple[Hub, FakeGitHub]) -> None:
    """Every case of the table in turn, a forged state, then GitHub down."""
    hub, github = world
    for case in SIGN_IN:
        login, change, status, groups, admin, words = case.values
        github.state.withheld_scopes = {"read:org"} if change == "withhold-read-org" else set()
        resp = await oauth_sign_in(hub.client(), login)
        assert resp.status_code == status, (case.id, resp.text[:500])
        if words:
            assert words in resp.text, case.id
            continue
        assert str(resp.url).endswith("/hub/home"), case.id
        model = (await hub.api("GET", f"/users/{login}")).json()
        assert sorted(model["groups"]) == groups, case.id
        assert model["admin"] is admin, case.id
    github.state.withheld_scopes = set()

    # state mismatch (CSRF): a callback whose state is not the browser's is refused
    client = hub.client()
    resp = await client.get("/hub/oauth_login", follow_redirects=False)
    parts = urlsplit(resp.headers["location"])
    query = dict(parse_qsl(parts.query))
    query.update(login="erin", state="forged")
    resp = await client.get(urlunsplit(parts._replace(query=urlencode(query))))
    callback = await client.get(resp.headers["location"])
    assert callback.status_code == 400
    assert "OAuth state mismatch" in callback.text
    assert (await hub.api("GET", "/users/erin")).status_code == 404

    # GitHub unreachable between the authorize page and the callback: 503
    client = hub.client()
    resp = await client.get("/hub/oauth_login", follow_redirects=False)
    resp = await client.get(resp.headers["location"] + "&login=alice", follow_redirects=False)
    await github.set_reachable(False)
    callback = await client.get(resp.headers["location"])
    assert callback.status_code == 503
    assert "GitHub cannot be reached right now" in callback.text


async def test_allow_all_with_org_rules_refuses_to_start(
    make_hub: Factory, github: FakeGitHub
) -> None:
    """Both series at once (a start that fails is slow to observe, not to run)."""
    config = github_config(github, "c.Authenticator.allow_all = True\n")
    starts = [make_hub(config, jupyterhub=v, env=crypt_env()) for v in ("6", "5.5")]
    results = await asyncio.gather(*starts, return_exceptions=True)
    for result in results:
        assert isinstance(result, HubError), result
        assert "bypass GitHubAuthenticator.allowed_organizations" in str(result)


async def _wait_signed_out(client, timeout: float = 30) -> None:  # type: ignore[no-untyped-def]
    """Poll a hub page until the hub asks the user to sign in again."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    while True:
        resp = await client.get("/hub/home", follow_redirects=False)
        if resp.status_code == 302 and "/hub/login" in resp.headers["location"]:
            return
        assert loop.time() < deadline, "the hub never asked for a new sign-in"
        await asyncio.sleep(0.2)


async def test_membership_is_rechecked(world: tuple[Hub, FakeGitHub]) -> None:
    """Removed upstream after sign-in: tier lost at refresh, access lost, no spawn."""
    hub, github = world
    alice, bob = hub.client(), hub.client()
    assert (await oauth_sign_in(alice, "alice")).status_code == 200
    assert (await oauth_sign_in(bob, "bob")).status_code == 200
    assert (await oauth_sign_in(hub.client(), "dave")).status_code == 200

    # left the team: the gpu-beta group goes at the next refresh
    github.remove_from_team("alice", TEAM)
    loop = asyncio.get_running_loop()
    deadline = loop.time() + 30
    while True:
        # a hub page older than auth_refresh_age refreshes the user's groups
        assert (await alice.get("/hub/home")).status_code == 200
        groups = (await hub.api("GET", "/users/alice")).json()["groups"]
        if groups == ["authenticated"]:
            break
        assert loop.time() < deadline, groups
        await asyncio.sleep(0.2)

    # left the org: must sign in again, and is then refused; the running
    # server is stopped
    resp = await hub.api("POST", "/users/bob/server")
    assert resp.status_code in (201, 202), resp.text
    await hub.wait_for_server("bob")
    github.remove_from_org("bob", ORG)
    await _wait_signed_out(bob)
    await hub.wait_for_server("bob", ready=False)
    assert "stopping server '' of bob: the account is no longer allowed" in hub.log_text()
    again = await oauth_sign_in(bob, "bob")
    assert again.status_code == 403
    assert "is not a member" in again.text

    # a spawn the hub cannot answer with a new sign-in (admin API) is refused too
    github.remove_from_org("dave", ORG)
    resp = await hub.api("POST", "/users/dave/server")
    assert resp.status_code == 403, resp.text
    # 6.1 reaches pre_spawn_start; 5.5 already stops at the failed refresh
    assert "is not a member" in resp.text or "login again" in resp.text
    assert (await hub.api("GET", "/users/dave")).json()["servers"] == {}

    # GitHub down: sessions are kept, but no server starts on an unchecked membership
    await github.set_reachable(False)
    assert (await alice.get("/hub/home")).status_code == 200
    resp = await hub.api("POST", "/users/alice/server")
    assert resp.status_code == 503, resp.text
    assert "GitHub cannot be reached" in resp.text


async def test_renamed_login_keeps_the_account(world: tuple[Hub, FakeGitHub]) -> None:
    """Renamed at GitHub (same id) after sign-in: the session, its token and the account
    stay, judged under the account's name (not an admin by the new login); never a 500."""
    hub, github = world
    github.add_user("frank", orgs=[ORG])
    frank = hub.client()
    assert (await oauth_sign_in(frank, "frank")).status_code == 200
    made = await hub.api("POST", "/users/frank/tokens", json={"expires_in": 600})
    token = made.json()["token"]

    github.rename("frank", "hubroot")  # a login that admin_users names
    loop = asyncio.get_running_loop()
    deadline = loop.time() + 30
    while "frank is now 'hubroot' at the provider" not in hub.log_text():
        assert (await frank.get("/hub/home", follow_redirects=False)).status_code == 200
        assert loop.time() < deadline, "no refresh saw the rename"
        await asyncio.sleep(0.2)

    assert (await frank.get("/hub/home", follow_redirects=False)).status_code == 200
    mine = await hub.api("GET", "/user", token=token)
    assert mine.status_code == 200, mine.text
    assert mine.json()["name"] == "frank"
    model = (await hub.api("GET", "/users/frank")).json()
    assert model["admin"] is False
    assert model["groups"] == ["authenticated"]
    assert " 500 " not in hub.log_text()
