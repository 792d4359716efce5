"""OIDCAuthenticator as a child of MultiAuthenticator beside GitHub, on both series.

GitHub names ``gh-``, OpenID Connect names ``oidc-``; a person renamed at
either provider keeps their account through the combined authenticator's
refresh.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable
from typing import Any

import httpx
import pytest
from auth_github.helpers import ORG, crypt_env, github_config, oauth_sign_in
from auth_github.helpers import populate as populate_github
from auth_oidc.helpers import oidc_config, oidc_sign_in
from auth_oidc.helpers import populate as populate_oidc
from harness.hub import Hub, start_hub
from services.fake_github import FakeGitHub
from services.fake_oidc import FakeOIDC

JUPYTERHUB_SERIES = ("6", "5.5")

MULTI = """
c.JupyterHub.authenticator_class = "hubplugins.auth.multi.MultiAuthenticator"
c.MultiAuthenticator.authenticators = [
    {"class": "hubplugins.GitHubAuthenticator", "url_prefix": "github",
     "username_prefix": "gh-"},
    {"class": "hubplugins.auth.oidc.OIDCAuthenticator", "url_prefix": "oidc",
     "username_prefix": "oidc-"},
]
c.Authenticator.admin_users = {"gh-dave"}
c.Authenticator.blocked_users = {"oidc-alice"}
c.Authenticator.auth_refresh_age = 1
"""

World = tuple[Hub, FakeGitHub, FakeOIDC]


@pytest.fixture(scope="module")
async def hubs(tmp_path_factory: pytest.TempPathFactory) -> AsyncIterator[dict[str, World]]:
    """A local GitHub, a local provider and one combined hub per series, started at once."""
    worlds: dict[str, tuple[FakeGitHub, FakeOIDC]] = {}
    for version in JUPYTERHUB_SERIES:
        github, provider = await FakeGitHub().start(), await FakeOIDC().start()
        populate_github(github)
        populate_oidc(provider)
        worlds[version] = (github, provider)

    async def start(version: str) -> Hub:
        github, provider = worlds[version]
        return await start_hub(
            tmp_path_factory.mktemp(f"multioidc{version}"),
            github_config(github) + oidc_config(provider, MULTI),
            jupyterhub=version,
            env=crypt_env(),
        )

    started = await asyncio.gather(*map(start, JUPYTERHUB_SERIES), return_exceptions=True)
    try:
        for result in started:
            if isinstance(result, BaseException):
                raise result
        yield {
            v: (hub, *worlds[v])  # type: ignore[misc]
            for v, hub in zip(JUPYTERHUB_SERIES, started, strict=True)
        }
    finally:
        for result in started:
            if isinstance(result, Hub):
                await result.stop()
        for github, provider in worlds.values():
            await github.stop()
            await provider.stop()


@pytest.fixture(params=JUPYTERHUB_SERIES, ids=["jh6", "jh55"])
def world(request: pytest.FixtureRequest, hubs: dict[str, World]) -> World:
    return hubs[request.param]


async def who(client: httpx.AsyncClient) -> dict[str, Any] | None:
    xsrf = client.cookies.get("_xsrf") or ""
    resp = await client.get("/hub/api/user", headers={"X-XSRFToken": xsrf})
    if resp.status_code == 403:
        return None
    assert resp.status_code == 200, resp.text
    return dict(resp.json())


async def _poll(check: Callable[[], Any], what: str, timeout: float = 30) -> None:
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    while not await check():
        assert loop.time() < deadline, what
        await asyncio.sleep(0.2)


async def test_oidc_beside_github(world: World) -> None:
    """Sign in through each child under its prefix, lists in hub names; a person renamed
    at either provider keeps the account through the combined refresh; never a 500."""
    hub, github, provider = world
    gh_bob, oidc_bob = hub.client(), hub.client()
    assert (await oauth_sign_in(gh_bob, "bob", "/hub/github/oauth_login")).status_code == 200
    assert (await oidc_sign_in(oidc_bob, "bob", "/hub/oidc/oauth_login")).status_code == 200
    assert (await who(gh_bob) or {}).get("name") == "gh-bob"
    me = await who(oidc_bob) or {}
    assert (me.get("name"), me.get("admin"), me.get("groups")) == ("oidc-bob", False, ["jupyter"])

    # the lists in hub names reach the child that owns the name, and only it
    dave = hub.client()
    assert (await oauth_sign_in(dave, "dave", "/hub/github/oauth_login")).status_code == 200
    assert (await who(dave) or {}).get("admin") is True
    refused = await oidc_sign_in(hub.client(), "alice", "/hub/oidc/oauth_login")
    assert refused.status_code == 403, refused.text[:500]
    assert (await hub.api("GET", "/users/oidc-alice")).status_code == 404
    carol = await oidc_sign_in(hub.client(), "carol", "/hub/oidc/oauth_login")
    assert carol.status_code == 403, carol.text[:500]
    assert (await hub.api("GET", "/users/oidc-carol")).status_code == 404

    # renamed at each provider (same GitHub id, same sub): the accounts stay
    github.rename("bob", "bobby")
    provider.set_claims("bob", preferred_username="robert")

    async def renamed_seen() -> bool:
        for client in (gh_bob, oidc_bob):
            assert (await client.get("/hub/home", follow_redirects=False)).status_code == 200
        log = hub.log_text()
        return "bob is now 'bobby' at the provider" in log and (
            "bob is now 'robert' at the provider" in log
        )

    await _poll(renamed_seen, "no refresh saw both renames")
    assert (await who(gh_bob) or {}).get("name") == "gh-bob"
    assert (await who(oidc_bob) or {}).get("name") == "oidc-bob"
    for name in ("gh-bobby", "oidc-robert"):
        assert (await hub.api("GET", f"/users/{name}")).status_code == 404

    # leaving the org still ends the renamed person's access
    github.remove_from_org("bobby", ORG)

    async def signed_out() -> bool:
        resp = await gh_bob.get("/hub/home", follow_redirects=False)
        return resp.status_code == 302 and "/hub/login" in resp.headers["location"]

    await _poll(signed_out, "the hub never asked gh-bob for a new sign-in")
    assert (await who(oidc_bob) or {}).get("name") == "oidc-bob"
    assert " 500 " not in hub.log_text()
