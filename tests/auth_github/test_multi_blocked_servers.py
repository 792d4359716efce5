"""A blocked account's running servers stop at its next refresh, on a combined page too.

docs/security.md counts the admin blocking an account as a revocation, whose
running servers are stopped at the next refresh (``stop_servers_when_revoked``,
on by default). ``GitHubAuthenticator`` alone does so; behind
``MultiAuthenticator``, whose refresh answers False for a blocked hub name
before the child is asked, the servers kept running.
"""

from __future__ import annotations

import asyncio
from typing import Any

import pytest
from traitlets.config import Config

from hubplugins.auth.github import GitHubAuthenticator
from hubplugins.auth.multi import MultiAuthenticator


class _Server:
    ready = True


class _User:
    """A hub user with one running server; records the stops asked for."""

    def __init__(self, name: str) -> None:
        self.name = name
        self.spawners = {"": _Server()}
        self.stopped: list[str] = []

    async def get_auth_state(self) -> dict[str, Any]:
        return {"github_user": {"id": 7, "login": "mallory"}}

    async def stop(self, name: str) -> None:
        self.stopped.append(name)


def _refreshed(authenticator: Any, user: Any, auth_state: Any) -> dict[str, Any]:
    # GitHub's answer at refresh, without the network: mallory is still mallory
    return {"name": user.name, "admin": None, "auth_state": auth_state, "groups": []}


def _alone() -> tuple[Any, str]:
    config = Config({"Authenticator": {"blocked_users": {"mallory"}}})
    config.GitHubAuthenticator.refresh_user_hook = _refreshed
    return GitHubAuthenticator(config=config), "mallory"


def _combined() -> tuple[Any, str]:
    config = Config({"Authenticator": {"blocked_users": {"gh-mallory"}}})
    config.GitHubAuthenticator.refresh_user_hook = _refreshed
    entries = [
        {"class": "hubplugins.GitHubAuthenticator", "url_prefix": "github",
         "username_prefix": "gh-"},
        {"class": "jupyterhub.auth.DummyAuthenticator", "url_prefix": "local"},
    ]  # fmt: skip
    return MultiAuthenticator(config=config, authenticators=entries), "gh-mallory"


@pytest.mark.parametrize(
    "make",
    [
        pytest.param(_alone, id="github-alone"),
        pytest.param(_combined, id="combined"),
    ],
)
async def test_a_blocked_accounts_servers_stop_at_its_refresh(make: Any) -> None:
    authenticator, name = make()
    user = _User(name)
    assert await authenticator.refresh_user(user, None) is False
    for _ in range(5):  # the stop runs in the background
        await asyncio.sleep(0)
    assert user.stopped == [""], f"{name} was refused, its running server was left running"
