"""Every hubplugins authenticator ends token access when a refresh says no.

On JupyterHub 6.1+ that takes ``Authenticator.auth_refresh_strict``; the
authenticators make it the default, and an admin's False still wins.
"""

from __future__ import annotations

import pytest
from jupyterhub.auth import Authenticator
from traitlets.config import Config

from hubplugins.auth.directory import DirectoryAuthenticator
from hubplugins.auth.github import GitHubAuthenticator
from hubplugins.auth.multi import MultiAuthenticator
from hubplugins.auth.oidc import OIDCAuthenticator

# the suite runs on JupyterHub 6.x, where the trait exists
assert "auth_refresh_strict" in Authenticator.class_trait_names()


def _directory(config: Config) -> DirectoryAuthenticator:
    section = config.DirectoryAuthenticator
    section.server_urls = ["ldaps://127.0.0.1:1"]
    section.user_search_base = "dc=example,dc=org"
    section.group_search_base = "dc=example,dc=org"
    section.bind_templates = ["uid={username},dc=example,dc=org"]
    return DirectoryAuthenticator(config=config)


def _multi(config: Config) -> MultiAuthenticator:
    config.MultiAuthenticator.authenticators = [{"class": "dummy", "url_prefix": "/dummy"}]
    return MultiAuthenticator(config=config)


@pytest.mark.parametrize(
    "make",
    [
        pytest.param(lambda config: GitHubAuthenticator(config=config), id="github"),
        pytest.param(lambda config: OIDCAuthenticator(config=config), id="oidc"),
        pytest.param(_directory, id="directory"),
        pytest.param(_multi, id="multi"),
    ],
)
@pytest.mark.parametrize("admin_says", [None, False])
def test_refresh_is_strict_unless_the_admin_says_otherwise(make, admin_says):
    config = Config()
    if admin_says is not None:
        config.Authenticator.auth_refresh_strict = admin_says
    authenticator = make(config)
    assert authenticator.auth_refresh_strict is (admin_says is None)
