"""Without auth_state revocation is off, and the start says so, for GitHub and OpenID Connect.

``enable_auth_state = False`` (e.g. to get past JupyterHub's refusal to start
without ``JUPYTERHUB_CRYPT_KEY``) leaves oauthenticator's refresh nothing to
refresh with: it answers True for everyone, ``refresh_pre_spawn`` turns off,
and ``OIDCAuthenticator`` has no ``pre_spawn_start`` of its own. Someone whose
entitlement was removed keeps their session, tokens and starts. The GitHub
method warned at start about the same setting; the OpenID Connect one did not.
"""

from __future__ import annotations

import logging
from typing import Any

import pytest
from harness.logs import Kept

from hubplugins.auth.github import GitHubAuthenticator
from hubplugins.auth.oidc import OIDCAuthenticator


class _User:
    name = "rita"

    async def get_auth_state(self) -> None:
        return None


@pytest.mark.parametrize(
    "cls",
    [
        pytest.param(GitHubAuthenticator, id="github"),
        pytest.param(OIDCAuthenticator, id="oidc"),
    ],
)
async def test_no_auth_state_is_named_at_start(cls: Any) -> None:
    logger = logging.getLogger(f"test.no-auth-state.{cls.__name__}")
    lines = Kept(logging.WARNING)
    logger.addHandler(lines)
    urls = {  # an OpenID provider configured without discovery
        "authorize_url": "https://login.example.org/authorize",
        "token_url": "https://login.example.org/token",
        "userdata_url": "https://login.example.org/userinfo",
    }
    settings = urls if cls is OIDCAuthenticator else {}
    authenticator = cls(log=logger, enable_auth_state=False, allowed_users={"rita"}, **settings)
    lines.clear()  # what the constructor said (OIDC: no issuer) is not the point
    authenticator.check_allow_config()
    # what it means: nobody's access is ever re-checked
    assert await authenticator.refresh_user(_User()) is True
    assert authenticator.refresh_pre_spawn is False
    assert any("enable_auth_state" in line for line in lines.lines), lines.lines
