"""A username_prefix without a separator is refused at start.

``username_prefix = "gh"`` (the ``-`` forgotten) would make the GitHub method
own every hub name that starts with ``gh``: the directory's ``gharris`` could
no longer sign in, and ``admin_users = {"gharris"}``, written for that
directory account, would go to the GitHub login ``arris`` (oauthenticator lets
an ``admin_users`` entry in whatever the allowed organizations say).
"""

from __future__ import annotations

from typing import Any

import pytest

from hubplugins.auth.multi import MultiAuthenticator

GITHUB = "hubplugins.GitHubAuthenticator"
DUMMY = "jupyterhub.auth.DummyAuthenticator"

PREFIXES = {
    # prefix: refused
    "gh": True,
    "gh1": True,
    "g": True,
    "gh-": False,
    "gh_": False,
    "gh.": False,
    "x-y-": False,
}


@pytest.mark.parametrize("prefix", PREFIXES)
def test_a_prefix_must_end_in_a_separator(prefix: str) -> None:
    entries: list[dict[str, Any]] = [
        {"class": GITHUB, "url_prefix": "github", "username_prefix": prefix},
        {"class": DUMMY, "url_prefix": "directory"},
    ]
    if not PREFIXES[prefix]:
        assert MultiAuthenticator(authenticators=entries).children[0].username_prefix == prefix
        return
    with pytest.raises(ValueError) as refused:
        MultiAuthenticator(authenticators=entries)
    assert str(refused.value) == (
        f"MultiAuthenticator.authenticators[0].username_prefix {prefix!r}: use lowercase "
        "letters, digits, '-', '_' or '.', ending in '-', '_' or '.', e.g. 'gh-'"
    )
