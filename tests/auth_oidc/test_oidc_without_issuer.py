"""OpenID Connect with neither ``issuer`` nor the endpoint URLs does not start.

Without ``issuer`` nothing is discovered: ``authorize_url``, ``token_url`` and
``userdata_url`` must then be configured. With none of them the hub started
(its one line said only that ID tokens are not verified); the sign-in page
redirected to an empty URL, and the callback answered 503 "the sign-in
provider cannot be reached ... Nothing is wrong with your account", which sent
the admin looking for an outage instead of the missing setting.
"""

from __future__ import annotations

from typing import Any

import pytest

from hubplugins.auth.oidc import OIDCAuthenticator

URLS = {
    "authorize_url": "https://login.example.org/authorize",
    "token_url": "https://login.example.org/token",
    "userdata_url": "https://login.example.org/userinfo",
}
CASES = {
    # case: (settings, the refusal at start, or None: it starts)
    "nothing": ({}, "OIDCAuthenticator: set issuer (its discovery gives the provider's URLs), "
                    "or authorize_url, token_url, userdata_url"),
    "userinfo-missing": (
        {k: v for k, v in URLS.items() if k != "userdata_url"},
        "OIDCAuthenticator: set issuer (its discovery gives the provider's URLs), "
        "or userdata_url",
    ),
    "every-url": (URLS, None),
    # oauthenticator's reading of the user from the ID token: no userinfo URL then
    "user-from-the-id-token": (
        {"authorize_url": URLS["authorize_url"], "token_url": URLS["token_url"],
         "userdata_from_id_token": True},
        None,
    ),
    "id-token-without-token-url": (
        {"authorize_url": URLS["authorize_url"], "userdata_from_id_token": True},
        "OIDCAuthenticator: set issuer (its discovery gives the provider's URLs), or token_url",
    ),
    "issuer": ({"issuer": "https://login.example.org/"}, None),
}  # fmt: skip


@pytest.mark.parametrize("case", CASES)
def test_the_provider_must_be_reachable_by_configuration(case: str) -> None:
    settings, refusal = CASES[case]
    kwargs: dict[str, Any] = {"client_id": "hub", "client_secret": "s", "allowed_users": {"r"}}
    authenticator = OIDCAuthenticator(**kwargs, **settings)
    if refusal is None:
        authenticator.check_allow_config()
        return
    with pytest.raises(ValueError) as refused:
        authenticator.check_allow_config()
    assert str(refused.value) == refusal
