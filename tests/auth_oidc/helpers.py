"""Shared pieces of the OpenID Connect sign-in tests: the provider's people and the walk."""

from __future__ import annotations

import textwrap

from harness.oauth import sign_in
from services.fake_oidc import FakeOIDC

# e-INFRA-style entitlements (as helm-values/cerit.yaml maps them)
JUPYTER = "urn:geant:cerit.cz:group:jupyter#perun.cerit.cz"
GPU = "urn:geant:cerit.cz:group:jupyter-gpu#perun.cerit.cz"
ADMINS = "urn:geant:cerit.cz:group:jupyter-admins#perun.cerit.cz"

# the configuration of docs/oidc.md, pointed at the local provider
OIDC_CONFIG = """\
c.JupyterHub.authenticator_class = "hubplugins.auth.oidc.OIDCAuthenticator"
c.JupyterHub.redirect_to_server = False
c.Authenticator.allow_all = False
c.Authenticator.auth_refresh_age = 1
c.OIDCAuthenticator.issuer = {issuer!r}
c.OIDCAuthenticator.client_id = {client_id!r}
c.OIDCAuthenticator.client_secret = {client_secret!r}
c.OIDCAuthenticator.allowed_groups = {{"jupyter"}}
c.OIDCAuthenticator.admin_groups = {{"admins"}}
c.OIDCAuthenticator.group_map = {{
    {jupyter!r}: ["jupyter"],
    {gpu!r}: ["gpu"],
    {admins!r}: ["admins"],
}}
"""


def oidc_config(provider: FakeOIDC, extra: str = "") -> str:
    text = OIDC_CONFIG.format(
        issuer=provider.issuer,
        client_id=provider.client_id,
        client_secret=provider.client_secret,
        jupyter=JUPYTER,
        gpu=GPU,
        admins=ADMINS,
    )
    return text + textwrap.dedent(extra)


def populate(provider: FakeOIDC) -> None:
    """The people: a GPU user, a plain user, an admin, someone without the entitlement."""
    people = {
        "alice": [JUPYTER, GPU],
        "bob": [JUPYTER],
        "dave": [JUPYTER, ADMINS],
        "carol": ["urn:geant:cerit.cz:group:other#perun.cerit.cz"],
    }
    for login, entitlements in people.items():
        # the same sub in every test: the hub's accounts are bound to it
        provider.add_person(login, sub=f"{login}-0001", entitlements=entitlements)


# the sign-in walk is the harness's, for every provider
oidc_sign_in = sign_in
