"""Shared pieces of the OpenID Connect sign-in tests: the provider's people and the walk."""

from __future__ import annotations

import textwrap
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

import httpx
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


def _with_query(url: str, **params: str) -> str:
    parts = urlsplit(url)
    query = dict(parse_qsl(parts.query))
    query.update(params)
    return urlunsplit(parts._replace(query=urlencode(query)))


async def oidc_sign_in(
    client: httpx.AsyncClient, login: str, start: str = "/hub/oauth_login"
) -> httpx.Response:
    """Walk the redirects as a browser would, picking ``login`` at the provider.

    Returns the hub's answer to the callback, redirects followed.
    """
    resp = await client.get(start, follow_redirects=False)
    assert resp.status_code == 302, resp.text
    resp = await client.get(_with_query(resp.headers["location"], login=login))
    assert resp.status_code == 302, resp.text
    return await client.get(resp.headers["location"], follow_redirects=True)
