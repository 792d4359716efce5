"""OpenID Connect reading the user from the ID token, without ``issuer``, still starts.

oauthenticator's ``userdata_from_id_token`` takes the user's claims from the
ID token the token endpoint answers, with no userinfo request; oauthenticator
then refuses ``userdata_url`` beside it ("Cannot specify both"). Without
``issuer`` such a method needs only ``authorize_url`` and ``token_url``; the
start check asks for ``userdata_url`` too, so a working configuration no
longer starts, and the fix it names (set ``userdata_url``) is itself refused.
"""

from __future__ import annotations

import pytest

from hubplugins.auth.oidc import OIDCAuthenticator

SETTINGS = {
    "client_id": "hub",
    "client_secret": "s",
    "allowed_users": {"r"},
    "authorize_url": "https://login.example.org/authorize",
    "token_url": "https://login.example.org/token",
    "userdata_from_id_token": True,
}


def test_the_id_token_s_claims_need_no_userinfo_url() -> None:
    authenticator = OIDCAuthenticator(**SETTINGS)
    authenticator.check_allow_config()  # refused: "... or userdata_url"


def test_the_fix_the_refusal_names_is_refused_itself() -> None:
    with pytest.raises(ValueError, match="Cannot specify both"):
        OIDCAuthenticator(**SETTINGS, userdata_url="https://login.example.org/userinfo")
