"""``allow_all`` beside an OAuth method's ``allowed_users`` is refused at start, as beside its orgs.

The package refuses to start when ``allow_all`` would bypass a membership rule
(``allowed_organizations``, ``allowed_groups``) and names the fix. The same
holds for ``allowed_users``, which ``allow_all`` bypasses just as silently. On
a combined page the mistake is an easy one: ``c.Authenticator.allow_all =
True`` written for the directory (everyone with a directory account) reaches
the GitHub method too, and ``allowed_users = {"gh-alice"}``, meant to let only
alice in through GitHub, then lets every GitHub account in.
"""

from __future__ import annotations

from typing import Any

import pytest
from services.fake_github import FakeGitHub
from traitlets.config import Config

from hubplugins.auth.multi import MultiAuthenticator

GITHUB = "hubplugins.GitHubAuthenticator"
DUMMY = "jupyterhub.auth.DummyAuthenticator"


async def test_allow_all_beside_allowed_users_of_an_oauth_method(github: FakeGitHub) -> None:
    config = Config(
        {"Authenticator": {"allow_all": True, "allowed_users": {"gh-alice"}}},
    )
    entries: list[dict[str, Any]] = [
        {
            "class": GITHUB,
            "url_prefix": "github",
            "username_prefix": "gh-",
            "config": {
                "github_url": github.url,
                "client_id": github.client_id,
                "client_secret": github.client_secret,
            },
        },
        {"class": DUMMY, "url_prefix": "directory"},
    ]
    multi = MultiAuthenticator(config=config, authenticators=entries)
    with pytest.raises(ValueError) as refused:
        multi.check_allow_config()
    assert str(refused.value) == (
        "GitHubAuthenticator.allow_all = True would let every account of the provider in and "
        "bypass GitHubAuthenticator.allowed_users. Remove allow_all (set it to False) to sign "
        "in only members, or remove the membership rules to let everyone in."
    )
