"""Two sign-in methods whose people could have the same id are refused at start.

The identity store keys an account by ``(identity_provider, subject)``. A
combined page with GitHub and a GitHub Enterprise Server, or with two OpenID
providers without ``issuer``, would record two people with the same numeric id
or ``sub`` under one owner id: the SSH key Secret is found by that owner label,
so the second person's server would mount the first person's private key, and
deleting either account would delete it. Methods whose ids cannot meet start.
"""

from __future__ import annotations

from typing import Any

import pytest

from hubplugins.auth.multi import MultiAuthenticator

GITHUB = "hubplugins.GitHubAuthenticator"
OIDC = "hubplugins.auth.oidc.OIDCAuthenticator"
DIRECTORY = "directory"
DIRECTORY_CONFIG = {
    "server_urls": ["ldaps://127.0.0.1:1"],
    "user_search_base": "dc=example,dc=org",
    "group_search_base": "dc=example,dc=org",
    "bind_templates": ["uid={username},dc=example,dc=org"],
}


def _github(prefix: str, url: str | None = None) -> dict[str, Any]:
    config = {"github_url": url} if url else {}
    return {"class": GITHUB, "url_prefix": prefix, "username_prefix": f"{prefix}-",
            "config": config}  # fmt: skip


def _oidc(prefix: str, host: str, issuer: bool) -> dict[str, Any]:
    config: dict[str, Any] = {"userdata_url": f"https://{host}/userinfo"}
    if issuer:
        config["issuer"] = f"https://{host}/"
    return {"class": OIDC, "url_prefix": prefix, "username_prefix": f"{prefix}-",
            "config": config}  # fmt: skip


CASES = {
    # case: (entries, the refusal at start, or None: it starts)
    "github-and-github-enterprise": (
        [_github("gh"), _github("ghe", "https://ghe.example.org")],
        "MultiAuthenticator.authenticators[0] and [1] are both github sign-ins, at "
        "https://github.com and at https://ghe.example.org: their ids are numbered apart, so "
        "two people could get one account identity, with its data and SSH key. Keep one "
        "GitHub sign-in per hub.",
    ),
    "two-openid-providers-without-issuer": (
        [_oidc("a", "a.example.org", False), _oidc("b", "b.example.org", False)],
        "MultiAuthenticator.authenticators[0] and [1] are both oidc sign-ins, at "
        "https://a.example.org/userinfo and at https://b.example.org/userinfo: their ids are "
        "numbered apart, so two people could get one account identity, with its data and SSH "
        "key. Keep one of them, or set `issuer` on each.",
    ),
    # the same GitHub twice (say, two organisations' pages): the same people, the same ids
    "one-github-twice": ([_github("gh"), _github("gh2")], None),
    # subjects that carry their issuer cannot meet
    "two-openid-providers-with-issuer": (
        [_oidc("a", "a.example.org", True), _oidc("b", "b.example.org", True)],
        None,
    ),
    "one-openid-provider-with-issuer": (
        [_oidc("a", "a.example.org", True), _oidc("b", "b.example.org", False)],
        None,
    ),
    "two-directories": (
        [
            {"class": DIRECTORY, "url_prefix": "staff", "config": DIRECTORY_CONFIG},
            {
                "class": DIRECTORY,
                "url_prefix": "stu",
                "username_prefix": "stu-",
                "config": DIRECTORY_CONFIG,
            },
        ],
        None,
    ),
    "github-and-openid": ([_github("gh"), _oidc("a", "a.example.org", False)], None),
}


@pytest.mark.parametrize("case", CASES)
def test_methods_whose_ids_could_meet_are_refused(case: str) -> None:
    entries, refusal = CASES[case]
    if refusal is None:
        assert len(MultiAuthenticator(authenticators=entries).children) == 2
        return
    with pytest.raises(ValueError) as refused:
        MultiAuthenticator(authenticators=entries)
    assert str(refused.value) == refusal
