"""Authlib's authorization server with in-memory storage, for :mod:`services.fake_oidc`.

Authlib does the protocol: the authorization code grant with PKCE
(:class:`CodeChallenge`, required) and the OpenID Connect nonce and ID token
(:class:`IDTokens`, on Authlib's ``OpenIDCode``), refresh tokens with
rotation, client authentication (``client_secret_basic`` and
``client_secret_post``). This module gives it the models and storage
(:class:`ProviderState`), and a tornado request as Authlib's request.
The ``provider`` these classes are given is a :class:`services.fake_oidc.FakeOIDC`.
"""

from __future__ import annotations

import os
import secrets
import time
from collections import defaultdict
from dataclasses import dataclass, field
from typing import Any

from authlib.oauth2 import AuthorizationServer, OAuth2Request
from authlib.oauth2.rfc6749 import AuthorizationCodeMixin, ClientMixin, TokenMixin
from authlib.oauth2.rfc6749.grants import AuthorizationCodeGrant, RefreshTokenGrant
from authlib.oauth2.rfc6749.requests import BasicOAuth2Payload
from authlib.oauth2.rfc6750 import BearerTokenGenerator
from authlib.oauth2.rfc7636 import CodeChallenge
from authlib.oidc.core.grants import OpenIDCode
from joserfc.jwk import RSAKey
from tornado import web

# the provider speaks plain HTTP on loopback; Authlib asks for HTTPS otherwise
os.environ.setdefault("AUTHLIB_INSECURE_TRANSPORT", "1")

CLIENT_ID = "hub-oidc-client"
CLIENT_SECRET = "hub-oidc-secret"
SCOPES = ["openid", "profile", "email", "groups", "eduperson_entitlement", "offline_access"]
SPOILS = ("forged", "expired", "audience", "nonce", "issuer", "unknown-key")


@dataclass
class Person:
    """A person at the provider: ``login`` picks them on the consent page."""

    login: str
    claims: dict[str, Any]

    @property
    def sub(self) -> str:
        return str(self.claims["sub"])


class Client(ClientMixin):
    def __init__(self, client_id: str, client_secret: str) -> None:
        self.client_id = client_id
        self.client_secret = client_secret

    def get_client_id(self) -> str:
        return self.client_id

    def get_default_redirect_uri(self) -> None:
        return None

    def get_allowed_scope(self, scope: str) -> str:
        return " ".join(s for s in (scope or "").split() if s in SCOPES)

    def check_redirect_uri(self, redirect_uri: str) -> bool:
        return redirect_uri.startswith("http://127.0.0.1:")

    def check_client_secret(self, client_secret: str) -> bool:
        return secrets.compare_digest(str(client_secret), self.client_secret)

    def check_endpoint_auth_method(self, method: str, endpoint: str) -> bool:
        return method in ("client_secret_basic", "client_secret_post")

    def check_response_type(self, response_type: str) -> bool:
        return response_type == "code"

    def check_grant_type(self, grant_type: str) -> bool:
        return grant_type in ("authorization_code", "refresh_token")


@dataclass
class Code(AuthorizationCodeMixin):
    code: str
    client_id: str
    redirect_uri: str
    scope: str
    sub: str
    nonce: str | None
    code_challenge: str | None
    code_challenge_method: str | None
    auth_time: int

    def get_redirect_uri(self) -> str:
        return self.redirect_uri

    def get_scope(self) -> str:
        return self.scope

    def get_nonce(self) -> str | None:
        return self.nonce

    def get_auth_time(self) -> int:
        return self.auth_time

    def get_acr(self) -> None:
        return None

    def get_amr(self) -> None:
        return None


@dataclass
class Token(TokenMixin):
    client_id: str
    sub: str
    access_token: str
    refresh_token: str | None
    scope: str
    expires_in: int
    issued_at: float = field(default_factory=time.time)
    expired: bool = False
    revoked: bool = False

    def check_client(self, client: Client) -> bool:
        return client.client_id == self.client_id

    def get_scope(self) -> str:
        return self.scope

    def get_expires_in(self) -> int:
        return self.expires_in

    def is_expired(self) -> bool:
        return self.expired or time.time() > self.issued_at + self.expires_in

    def is_revoked(self) -> bool:
        return self.revoked


@dataclass
class ProviderState:
    """Everything the provider knows; tests change it through :class:`FakeOIDC`."""

    people: dict[str, Person] = field(default_factory=dict)  # login -> person
    codes: dict[str, Code] = field(default_factory=dict)
    tokens: dict[str, Token] = field(default_factory=dict)  # access token -> token
    refresh: dict[str, Token] = field(default_factory=dict)  # refresh token -> token
    spoil: str | None = None  # what to spoil in the next ID token
    userinfo_sub: str | None = None  # the next userinfo answer names this sub instead
    requests: defaultdict[str, int] = field(default_factory=lambda: defaultdict(int))

    def by_sub(self, sub: str) -> Person | None:
        return next((p for p in self.people.values() if p.sub == sub), None)


class Request(OAuth2Request):
    """A tornado request as Authlib's framework-neutral request."""

    def __init__(self, handler: web.RequestHandler) -> None:
        req = handler.request
        super().__init__(req.method or "GET", req.full_url(), headers=req.headers)
        data = {k: handler.get_argument(k) for k in req.arguments}
        self.payload = BasicOAuth2Payload(data)
        self._data = data

    @property
    def args(self) -> dict[str, str]:
        return self._data

    @property
    def form(self) -> dict[str, str]:
        return self._data


class Server(AuthorizationServer):
    def __init__(self, provider: Any) -> None:
        super().__init__(scopes_supported=SCOPES)
        self.provider = provider
        self.client = Client(CLIENT_ID, CLIENT_SECRET)
        self.register_token_generator(
            "default",
            BearerTokenGenerator(
                lambda *a, **k: secrets.token_urlsafe(24),
                lambda *a, **k: secrets.token_urlsafe(32),
            ),
        )

    def query_client(self, client_id: str) -> Client | None:
        return self.client if client_id == self.client.client_id else None

    def save_token(self, token: dict[str, Any], request: OAuth2Request) -> None:
        saved = Token(
            client_id=request.client.client_id,
            sub=request.user.sub,
            access_token=token["access_token"],
            refresh_token=token.get("refresh_token"),
            scope=token.get("scope", ""),
            expires_in=int(token.get("expires_in", 3600)),
        )
        state = self.provider.state
        state.tokens[saved.access_token] = saved
        if saved.refresh_token:
            state.refresh[saved.refresh_token] = saved

    def create_oauth2_request(self, request: Any) -> OAuth2Request:
        return request if isinstance(request, OAuth2Request) else Request(request)

    def handle_response(self, status: int, body: Any, headers: Any) -> tuple[int, Any, Any]:
        return status, body, headers

    def send_signal(self, name: str, *args: Any, **kwargs: Any) -> None:
        pass


class CodeGrant(AuthorizationCodeGrant):
    TOKEN_ENDPOINT_AUTH_METHODS = ["client_secret_basic", "client_secret_post"]

    @property
    def state(self) -> ProviderState:
        return self.server.provider.state

    def save_authorization_code(self, code: str, request: OAuth2Request) -> None:
        data = request.payload.data
        self.state.codes[code] = Code(
            code=code,
            client_id=request.payload.client_id,
            redirect_uri=request.payload.redirect_uri,
            scope=request.payload.scope or "",
            sub=request.user.sub,
            nonce=data.get("nonce"),
            code_challenge=data.get("code_challenge"),
            code_challenge_method=data.get("code_challenge_method"),
            auth_time=int(time.time()),
        )

    def query_authorization_code(self, code: str, client: Client) -> Code | None:
        found = self.state.codes.get(code)
        return found if found is not None and found.client_id == client.client_id else None

    def delete_authorization_code(self, authorization_code: Code) -> None:
        self.state.codes.pop(authorization_code.code, None)

    def authenticate_user(self, authorization_code: Code) -> Person | None:
        return self.state.by_sub(authorization_code.sub)


class RefreshGrant(RefreshTokenGrant):
    TOKEN_ENDPOINT_AUTH_METHODS = ["client_secret_basic", "client_secret_post"]
    INCLUDE_NEW_REFRESH_TOKEN = True

    @property
    def state(self) -> ProviderState:
        return self.server.provider.state

    def authenticate_refresh_token(self, refresh_token: str) -> Token | None:
        token = self.state.refresh.get(refresh_token)
        return token if token is not None and not token.revoked else None

    def authenticate_user(self, credential: Token) -> Person | None:
        return self.state.by_sub(credential.sub)

    def revoke_old_credential(self, credential: Token) -> None:
        credential.revoked = True
        credential.expired = True


class IDTokens(OpenIDCode):
    """Authlib's ID token for the code flow, signed by the provider's current key."""

    def __init__(self, provider: Any) -> None:
        super().__init__(require_nonce=True)
        self.provider = provider

    def exists_nonce(self, nonce: str, request: OAuth2Request) -> bool:
        return any(c.nonce == nonce for c in self.provider.state.codes.values())

    def get_client_claims(self, client: Client) -> dict[str, Any]:
        return {"iss": self.provider.issuer, "aud": [client.get_client_id()]}

    def get_client_algorithm(self, client: Client) -> str:
        return "RS256"

    def resolve_client_private_key(self, client: Client) -> RSAKey:
        return self.provider.signing_key

    def generate_user_info(self, user: Person, scope: str) -> dict[str, Any]:
        return {"sub": user.sub, "preferred_username": user.claims.get("preferred_username")}

    def encode_id_token(self, token: dict[str, Any], request: OAuth2Request) -> str:
        claims = self.get_compatible_claims(request)
        claims.update(self.get_authorization_code_claims(request.authorization_code))
        claims.update(self.generate_user_info(request.user, token["scope"]))
        return self.provider.sign_id_token(claims)


def make_server(provider: Any) -> Server:
    """The authorization server of ``provider``: code flow with PKCE and ID tokens, refresh."""
    server = Server(provider)
    server.register_grant(CodeGrant, [CodeChallenge(required=True), IDTokens(provider)])
    server.register_grant(RefreshGrant)
    return server
