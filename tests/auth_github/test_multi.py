"""MultiAuthenticator: GitHub and a password sign-in on one page, one set of groups.

Most cases use JupyterHub's DummyAuthenticator as the password side; the last
one uses the real DirectoryAuthenticator against OpenLDAP.
"""

from __future__ import annotations

import re
from collections.abc import Awaitable, Callable
from typing import Any

import pytest
from auth_directory.directory_data import PASSWORDS, DirectoryUnderTest
from auth_github.helpers import ORG, crypt_env, github_config, oauth_sign_in, with_directory
from harness.hub import Hub
from services.fake_github import FakeGitHub

from hubplugins.auth.multi import MultiAuthenticator

GITHUB = "hubplugins.GitHubAuthenticator"
DUMMY = "jupyterhub.auth.DummyAuthenticator"


@pytest.mark.parametrize(
    ("entries", "message"),
    [
        pytest.param([], "is empty", id="none"),
        pytest.param(
            [{"class": GITHUB, "url_prefix": "a"}, {"class": DUMMY, "url_prefix": "b"}],
            "more than one child has no username_prefix",
            id="two-without-prefix",
        ),
        pytest.param(
            [
                {"class": GITHUB, "url_prefix": "a", "username_prefix": "x-"},
                {"class": DUMMY, "url_prefix": "b", "username_prefix": "x-"},
            ],
            "is taken",
            id="same-prefix",
        ),
        pytest.param(
            [{"class": GITHUB, "url_prefix": "a"}, {"class": DUMMY, "url_prefix": "a/"}],
            "url_prefix 'a' is empty, taken or reserved",
            id="same-url",
        ),
        pytest.param(
            [{"class": GITHUB, "url_prefix": "a", "username_prefix": "GH:"}],
            "use lowercase letters",
            id="bad-prefix",
        ),
        pytest.param([{"url_prefix": "a"}], "needs 'class'", id="no-class"),
    ],
)
def test_configuration_errors(entries: list[dict[str, Any]], message: str) -> None:
    with pytest.raises(ValueError, match=re.escape(message)):
        MultiAuthenticator(authenticators=entries)


@pytest.mark.parametrize(
    ("username", "owner"),
    [
        pytest.param("gh-alice", "GitHubAuthenticator", id="prefixed"),
        pytest.param("carol", "DummyAuthenticator", id="unprefixed"),
        pytest.param("ghost", "DummyAuthenticator", id="prefix-lookalike"),
    ],
)
def test_users_are_routed_by_prefix(username: str, owner: str) -> None:
    multi = MultiAuthenticator(
        authenticators=[
            {"class": GITHUB, "url_prefix": "github", "username_prefix": "gh-"},
            {"class": DUMMY, "url_prefix": "directory"},
        ]
    )
    child = multi.child_for(username)
    assert child is not None and type(child).__name__ == owner
    assert multi.manage_groups and multi.enable_auth_state and multi.refresh_pre_spawn


# the real DirectoryAuthenticator against OpenLDAP (fixture of tests/auth_directory)


async def test_github_and_directory_on_one_hub(
    make_hub: Callable[..., Awaitable[Hub]],
    github: FakeGitHub,
    openldap: DirectoryUnderTest,
    jupyterhub_version: str,
) -> None:
    config = with_directory(openldap.config)
    hub = await make_hub(
        github_config(github, config), jupyterhub=jupyterhub_version, env=crypt_env()
    )
    page = await hub.client().get("/hub/login")
    assert "Sign in with GitHub" in page.text
    assert 'href="/hub/github/oauth_login' in page.text
    assert 'action="/hub/directory/login' in page.text

    # GitHub side: prefixed name, mapped groups; an outsider is refused
    resp = await oauth_sign_in(hub.client(), "alice", start="/hub/github/oauth_login")
    assert resp.status_code == 200, resp.text[:300]
    refused = await oauth_sign_in(hub.client(), "carol", start="/hub/github/oauth_login")
    assert refused.status_code == 403 and "is not a member" in refused.text

    # directory side: the form on the shared page posts to the child's own URL
    client = hub.client()
    page = await client.get("/hub/login")
    xsrf = re.search(r'name="_xsrf" value="([^"]+)"', page.text)
    assert xsrf is not None
    resp = await client.post(
        "/hub/directory/login",
        data={"username": "bob", "password": PASSWORDS["bob"], "_xsrf": xsrf.group(1)},
        follow_redirects=False,
    )
    assert resp.status_code == 302, resp.text[:300]

    # both feed the same JupyterHub groups, hence the same policy tiers
    github_groups = (await hub.api("GET", "/users/gh-alice")).json()["groups"]
    assert sorted(github_groups) == ["authenticated", "gpu-beta"]
    assert "gpu-beta" in (await hub.api("GET", "/users/bob")).json()["groups"]
    group = (await hub.api("GET", "/groups/gpu-beta")).json()
    assert sorted(group["users"]) == ["bob", "gh-alice"]

    # steps after sign-in reach the owning child: GitHub's spawn check refuses
    github.remove_from_org("alice", ORG)
    resp = await hub.api("POST", "/users/gh-alice/server")
    assert resp.status_code == 403, resp.text
