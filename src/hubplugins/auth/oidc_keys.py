"""The OpenID provider as the hub sees it: discovery, signing keys, ID token checks.

:class:`ProviderKeys` reads ``{issuer}/.well-known/openid-configuration``
once (again after a failure), keeps the provider's JWKS in memory and reads it
again when a token names a key id it does not hold (the provider rotated its
keys; sign-ins that meet the new key at once share one read). ID tokens reach
the hub only from the provider's token endpoint, so only real sign-ins cause
such reads.

:meth:`ProviderKeys.verify` checks an ID token's signature with joserfc
(RS256 and the other asymmetric algorithms the provider announces; never
``none`` or a shared-secret algorithm), then its claims with the pure rules
of :mod:`hubplugins.policy.rules.oidc_claims`. A bad token raises
:class:`~hubplugins.policy.errors.PolicyRefusal`; a provider that cannot be reached
raises :class:`ProviderUnavailable` (503).
"""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import Awaitable, Callable
from typing import Any

from joserfc import jwt
from joserfc.errors import InvalidKeyIdError, JoseError
from joserfc.jwk import KeySet
from tornado import web

from hubplugins.policy.errors import PolicyRefusal
from hubplugins.policy.rules.oidc_claims import check_id_token_claims, token_refused

SIGNING_ALGORITHMS = ("RS256", "RS384", "RS512", "PS256", "PS384", "PS512", "ES256", "ES384")
"""Algorithms an ID token may be signed with (asymmetric only)."""

Fetch = Callable[[str, str], Awaitable[Any]]
"""``await fetch(url, label)``: the parsed JSON answer of a GET."""


class ProviderUnavailable(web.HTTPError):
    """The OpenID provider could not be reached or gave an unusable answer (503)."""

    # a start refused for this is not a failure of the hub (see failure_count)
    hubplugins_not_a_failure = True

    def __init__(self, detail: str) -> None:
        super().__init__(
            503,
            "The sign-in provider cannot be reached right now (%s), so this hub cannot "
            "check who you are. Nothing is wrong with your account: try again in a few "
            "minutes.",
            detail,
            reason="Sign-in provider unreachable",
        )
        # JupyterHub 5.5 shows the reason instead of the message unless this is set
        self.jupyterhub_message = self.log_message % self.args


class ProviderKeys:
    """Discovery and JWKS of one issuer, cached in memory."""

    def __init__(self, issuer: str, fetch: Fetch) -> None:
        self.issuer = issuer
        self._fetch = fetch
        self._metadata: dict[str, Any] | None = None
        self._keys: KeySet | None = None
        self._generation = 0
        self._lock = asyncio.Lock()

    @property
    def discovery_url(self) -> str:
        return self.issuer.rstrip("/") + "/.well-known/openid-configuration"

    async def metadata(self) -> dict[str, Any]:
        """The provider's discovery document (read once, checked for the issuer)."""
        if self._metadata is None:
            async with self._lock:
                if self._metadata is None:
                    self._metadata = await self._read_metadata()
        return self._metadata

    async def _read_metadata(self) -> dict[str, Any]:
        doc = await self._get(self.discovery_url, "reading the provider's discovery document")
        if not isinstance(doc, dict):
            raise ProviderUnavailable("its discovery document is not a JSON object")
        if doc.get("issuer") != self.issuer:
            raise ProviderUnavailable(
                f"its discovery document names issuer {doc.get('issuer')!r}, "
                f"not the configured {self.issuer!r}"
            )
        for key in ("authorization_endpoint", "token_endpoint", "jwks_uri"):
            if not isinstance(doc.get(key), str):
                raise ProviderUnavailable(f"its discovery document has no {key}")
        return doc

    async def keys(self, *, unless_read_since: int | None = None) -> KeySet:
        """The provider's public keys.

        ``unless_read_since``: read them again unless they were read after the
        generation given (several sign-ins that meet a new key id at once
        cause one read).
        """
        if self._keys is None or unless_read_since is not None:
            async with self._lock:
                if self._keys is None or self._generation == unless_read_since:
                    self._keys = await self._read_keys()
                    self._generation += 1
        assert self._keys is not None
        return self._keys

    async def _read_keys(self) -> KeySet:
        url = (self._metadata or await self._read_metadata())["jwks_uri"]
        doc = await self._get(url, "reading the provider's signing keys")
        try:
            public = [k for k in doc["keys"] if isinstance(k, dict) and "d" not in k]
            return KeySet.import_key_set({"keys": public})
        except (JoseError, KeyError, TypeError, ValueError) as e:
            raise ProviderUnavailable(f"its signing keys cannot be read: {e}") from e

    async def verify(
        self, id_token: Any, *, client_id: str, nonce: str | None, leeway: float = 60
    ) -> dict[str, Any]:
        """The claims of ``id_token`` once signature and claims hold; else a refusal."""
        if not isinstance(id_token, str) or not id_token:
            raise PolicyRefusal(token_refused("no ID token in the provider's answer"))
        keys = await self.keys()
        seen = self._generation
        try:
            token = _decode(id_token, keys)
        except InvalidKeyIdError:
            keys = await self.keys(unless_read_since=seen)
            try:
                token = _decode(id_token, keys)
            except InvalidKeyIdError as e:
                raise PolicyRefusal(token_refused("signed with an unknown key", e)) from e
        claims = token.claims
        decision = check_id_token_claims(
            claims,
            issuer=self.issuer,
            client_id=client_id,
            now=time.time(),
            nonce=nonce,
            leeway=leeway,
        )
        decision.enforce()
        return dict(claims)

    async def _get(self, url: str, label: str) -> Any:
        try:
            return await self._fetch(url, label)
        except web.HTTPError:
            raise
        except Exception as e:  # network, 4xx/5xx, a body that is not JSON
            raise ProviderUnavailable(f"{label}: {e}") from e


def _decode(id_token: str, keys: KeySet) -> Any:
    try:
        return jwt.decode(id_token, keys, algorithms=list(SIGNING_ALGORITHMS))
    except InvalidKeyIdError:
        raise
    except (JoseError, ValueError, TypeError, KeyError, json.JSONDecodeError) as e:
        # a bad signature, an algorithm not allowed, a token that is not a JWS
        raise PolicyRefusal(token_refused("signature", type(e).__name__)) from e
