"""A small local OpenID Connect provider for sign-in tests, built on Authlib.

Authlib's authorization server does the protocol (authorization code with
PKCE, nonce, refresh tokens, client authentication, RS256 ID tokens); this
module gives it storage in memory and tornado handlers on a free loopback
port:

- ``/.well-known/openid-configuration`` (discovery), ``/jwks`` (public keys),
  ``/authorize`` (a consent page listing the test people; ``?login=name``
  skips it), ``/token``, ``/userinfo``.

A test changes the world between requests through the Python API (the
control API): a person's claims (:meth:`FakeOIDC.set_claims`), the signing
keys (:meth:`FakeOIDC.rotate_keys`), access tokens that stop working
(:meth:`FakeOIDC.expire_access_tokens`), the next ID token spoiled on
purpose (:meth:`FakeOIDC.spoil_next_id_token`: forged, expired, another
audience, another nonce, another issuer, an unpublished key) and the next
userinfo answer about someone else (:meth:`FakeOIDC.spoil_next_userinfo`).

    oidc = await FakeOIDC().start()
    oidc.add_person("alice", entitlements=[GPU_URN])
    ...  # c.OIDCAuthenticator.issuer = oidc.issuer
    oidc.set_claims("alice", eduperson_entitlement=[])
    await oidc.stop()
"""

from __future__ import annotations

import html
import json
import secrets
import socket
import time
from typing import Any

from authlib.oauth2.rfc6749 import OAuth2Error
from joserfc import jwt
from joserfc.jwk import RSAKey
from tornado import web
from tornado.httpserver import HTTPServer
from tornado.netutil import bind_sockets

from services.oidc_protocol import (
    CLIENT_ID,
    CLIENT_SECRET,
    SCOPES,
    SPOILS,
    Person,
    ProviderState,
    Request,
    make_server,
)


class _Base(web.RequestHandler):
    @property
    def provider(self) -> FakeOIDC:
        return self.settings["provider"]

    def prepare(self) -> None:
        self.provider.state.requests[self.request.path] += 1

    def check_xsrf_cookie(self) -> None:
        pass

    def answer(self, response: tuple[int, Any, Any]) -> None:
        status, body, headers = response
        self.set_status(status)
        for name, value in headers or []:
            self.set_header(name, value)
        if isinstance(body, dict):
            body = json.dumps(body)
        self.finish(body or "")


class DiscoveryHandler(_Base):
    def get(self) -> None:
        self.finish(self.provider.discovery())


class JWKSHandler(_Base):
    def get(self) -> None:
        self.finish({"keys": [k.as_dict(private=False) for k in self.provider.published]})


class AuthorizeHandler(_Base):
    """The consent page: pick a person, or ``?login=name`` to skip the page."""

    def get(self) -> None:
        login = self.get_argument("login", "")
        if login:
            self._grant(login)
            return
        params = {k: self.get_argument(k) for k in self.request.arguments}
        hidden = "".join(
            f'<input type="hidden" name="{html.escape(k)}" value="{html.escape(v)}">'
            for k, v in params.items()
        )
        rows = "".join(
            f'<li><form method="post">{hidden}'
            f'<input type="hidden" name="login" value="{html.escape(name)}">'
            f'<button type="submit">Sign in as {html.escape(name)}</button></form></li>'
            for name in sorted(self.provider.state.people)
        )
        self.finish(
            "<!doctype html><html><head><title>Unified login</title></head><body>"
            f"<h1>Unified login</h1><ul>{rows}</ul></body></html>"
        )

    def post(self) -> None:
        self._grant(self.get_argument("login"))

    def _grant(self, login: str) -> None:
        server = self.provider.server
        request = Request(self)
        person = self.provider.state.people.get(login)
        try:
            grant = server.get_consent_grant(request, end_user=person)
        except OAuth2Error as error:
            self.answer(server.handle_error_response(request, error))
            return
        self.answer(server.create_authorization_response(request, grant_user=person, grant=grant))


class TokenHandler(_Base):
    def post(self) -> None:
        self.answer(self.provider.server.create_token_response(self))


class UserInfoHandler(_Base):
    def get(self) -> None:
        auth = self.request.headers.get("Authorization", "")
        scheme, _, value = auth.partition(" ")
        token = self.provider.state.tokens.get(value) if scheme.lower() == "bearer" else None
        person = self.provider.state.by_sub(token.sub) if token is not None else None
        if token is None or token.is_expired() or token.revoked or person is None:
            self.set_status(401)
            self.set_header("WWW-Authenticate", 'Bearer error="invalid_token"')
            self.finish({"error": "invalid_token"})
            return
        claims = dict(person.claims)
        if self.provider.state.userinfo_sub is not None:
            claims["sub"], self.provider.state.userinfo_sub = self.provider.state.userinfo_sub, None
        self.finish(claims)

    post = get


class FakeOIDC:
    """The provider: ``issuer`` is what ``OIDCAuthenticator.issuer`` points at."""

    client_id = CLIENT_ID
    client_secret = CLIENT_SECRET

    def __init__(self) -> None:
        self.state = ProviderState()
        self.port = 0
        self._sockets: list[socket.socket] = []
        self._server: HTTPServer | None = None
        self._key_ids = iter(range(1, 1_000_000))
        self.signing_key = self._new_key()
        self.published = [self.signing_key]
        self.server = make_server(self)

    @property
    def issuer(self) -> str:
        return f"http://127.0.0.1:{self.port}/oidc"

    def discovery(self) -> dict[str, Any]:
        base = self.issuer
        return {
            "issuer": base,
            "authorization_endpoint": f"{base}/authorize",
            "token_endpoint": f"{base}/token",
            "userinfo_endpoint": f"{base}/userinfo",
            "jwks_uri": f"{base}/jwks",
            "response_types_supported": ["code"],
            "subject_types_supported": ["public"],
            "id_token_signing_alg_values_supported": ["RS256"],
            "scopes_supported": SCOPES,
            "code_challenge_methods_supported": ["S256"],
            "token_endpoint_auth_methods_supported": ["client_secret_basic", "client_secret_post"],
        }

    def _app(self) -> web.Application:
        return web.Application(
            [
                (r"/oidc/\.well-known/openid-configuration", DiscoveryHandler),
                (r"/oidc/jwks", JWKSHandler),
                (r"/oidc/authorize", AuthorizeHandler),
                (r"/oidc/token", TokenHandler),
                (r"/oidc/userinfo", UserInfoHandler),
            ],
            provider=self,
        )

    async def start(self) -> FakeOIDC:
        """Listen (again, on the same port after :meth:`stop`)."""
        self._sockets = bind_sockets(self.port, "127.0.0.1")
        self.port = self._sockets[0].getsockname()[1]
        self._server = HTTPServer(self._app())
        self._server.add_sockets(self._sockets)
        return self

    async def stop(self) -> None:
        if self._server is not None:
            self._server.stop()
            await self._server.close_all_connections()
            self._server = None

    # -- the world (the control API) -------------------------------------------

    def add_person(
        self,
        login: str,
        *,
        sub: str | None = None,
        username: str | None = None,
        groups: list[str] | None = None,
        entitlements: list[str] | None = None,
    ) -> Person:
        """A person whose ``preferred_username`` is ``username`` (default ``login``)."""
        person = Person(
            login,
            {
                "sub": sub or secrets.token_hex(8),
                "preferred_username": username or login,
                "name": login.title(),
                "email": f"{login}@example.org",
                "groups": list(groups or []),
                "eduperson_entitlement": list(entitlements or []),
            },
        )
        self.state.people[login] = person
        return person

    def set_claims(self, login: str, **claims: Any) -> None:
        """Change what userinfo answers for ``login`` from now on."""
        self.state.people[login].claims.update(claims)

    def remove_person(self, login: str) -> None:
        self.state.people.pop(login, None)

    def expire_access_tokens(self, login: str | None = None) -> None:
        """Access tokens (of ``login``, or everyone's) stop working; refresh tokens still do."""
        sub = self.state.people[login].sub if login else None
        for token in self.state.tokens.values():
            if sub is None or token.sub == sub:
                token.expired = True

    def revoke_tokens(self, login: str) -> None:
        """Access and refresh tokens of ``login`` stop working."""
        sub = self.state.people[login].sub
        for token in list(self.state.tokens.values()):
            if token.sub == sub:
                token.expired = token.revoked = True

    def rotate_keys(self, *, keep_old: bool = False) -> RSAKey:
        """Sign with a new key from now on; the JWKS lists it (and the old ones if kept)."""
        self.signing_key = self._new_key()
        self.published = [*self.published, self.signing_key] if keep_old else [self.signing_key]
        return self.signing_key

    def spoil_next_id_token(self, kind: str) -> None:
        """The next ID token issued is bad in one way (one of :data:`SPOILS`)."""
        if kind not in SPOILS:
            raise ValueError(f"unknown spoil {kind!r}; one of {SPOILS}")
        self.state.spoil = kind

    def spoil_next_userinfo(self, sub: str = "someone-else") -> None:
        """The next userinfo answer is about ``sub``, not the token's person."""
        self.state.userinfo_sub = sub

    def sign_id_token(self, claims: dict[str, Any]) -> str:
        """Sign ``claims`` with the current key, spoiled as :meth:`spoil_next_id_token` asked."""
        spoil, self.state.spoil = self.state.spoil, None
        key = self.signing_key
        now = int(time.time())
        if spoil == "expired":
            claims.update(iat=now - 7200, exp=now - 3600)
        elif spoil == "audience":
            claims["aud"] = ["another-client"]
        elif spoil == "nonce":
            claims["nonce"] = "not-the-hubs-nonce"
        elif spoil == "issuer":
            claims["iss"] = "http://127.0.0.1:1/another-issuer"
        header = {"alg": "RS256", "kid": key.kid}
        if spoil == "forged":  # another key, under the name of the real one
            key = RSAKey.generate_key(2048)
        elif spoil == "unknown-key":
            key = RSAKey.generate_key(2048, parameters={"kid": "not-published"})
            header["kid"] = "not-published"
        return jwt.encode(header, claims, key)

    def _new_key(self) -> RSAKey:
        return RSAKey.generate_key(2048, parameters={"kid": f"key-{next(self._key_ids)}"})
