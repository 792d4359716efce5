"""The provider's discovery and keys as the hub reads them, against the local provider."""

from __future__ import annotations

import asyncio
import base64
import json
import time
from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest
from joserfc import jwt
from joserfc.jwk import OctKey
from services.fake_oidc import FakeOIDC

from hubplugins.auth.oidc_keys import ProviderKeys, ProviderUnavailable
from hubplugins.policy.errors import PolicyRefusal


@pytest.fixture(scope="module")
async def provider() -> AsyncIterator[FakeOIDC]:
    server = await FakeOIDC().start()
    yield server
    await server.stop()


def _fetcher(client: httpx.AsyncClient):  # type: ignore[no-untyped-def]
    async def fetch(url: str, label: str) -> Any:
        resp = await client.get(url)
        resp.raise_for_status()
        return resp.json()

    return fetch


def _token(provider: FakeOIDC, **changes: Any) -> str:
    now = int(time.time())
    claims = {"iss": provider.issuer, "aud": [provider.client_id], "sub": "s-1"}
    claims.update(iat=now, exp=now + 300, nonce="n", **changes)
    return provider.sign_id_token(claims)


async def test_rotation_reads_the_keys_once_for_concurrent_sign_ins(provider: FakeOIDC) -> None:
    async with httpx.AsyncClient() as client:
        keys = ProviderKeys(provider.issuer, _fetcher(client))
        verify = dict(client_id=provider.client_id, nonce="n")
        assert (await keys.verify(_token(provider), **verify))["sub"] == "s-1"
        before = provider.state.requests["/oidc/jwks"]
        provider.rotate_keys()
        tokens = [_token(provider) for _ in range(5)]
        results = await asyncio.gather(*(keys.verify(t, **verify) for t in tokens))
        assert [r["sub"] for r in results] == ["s-1"] * 5
        assert provider.state.requests["/oidc/jwks"] == before + 1

        # an unpublished key: one read more, then a refusal naming the check
        provider.spoil_next_id_token("unknown-key")
        with pytest.raises(PolicyRefusal) as refused:
            await keys.verify(_token(provider), **verify)
        assert refused.value.decision.limit == "signed with an unknown key"
        assert provider.state.requests["/oidc/jwks"] == before + 2


@pytest.mark.parametrize(
    ("issuer", "words"),
    [
        pytest.param("{issuer}/", "names issuer", id="issuer-differs-by-a-slash"),
        pytest.param("http://127.0.0.1:1/oidc", "cannot be reached", id="unreachable"),
    ],
)
async def test_discovery_problems_are_503(provider: FakeOIDC, issuer: str, words: str) -> None:
    async with httpx.AsyncClient() as client:
        keys = ProviderKeys(issuer.format(issuer=provider.issuer), _fetcher(client))
        with pytest.raises(ProviderUnavailable) as raised:
            await keys.metadata()
        assert raised.value.status_code == 503
        assert words in str(raised.value.jupyterhub_message) or words in str(raised.value)


@pytest.mark.parametrize(
    "token",
    ["", "not-a-jwt", "a.b.c", None, 7],
    ids=["empty", "no-dots", "garbage-parts", "none", "number"],
)
async def test_malformed_tokens_are_refused(provider: FakeOIDC, token: Any) -> None:
    async with httpx.AsyncClient() as client:
        keys = ProviderKeys(provider.issuer, _fetcher(client))
        with pytest.raises(PolicyRefusal) as refused:
            await keys.verify(token, client_id=provider.client_id, nonce="n")
        assert 400 <= refused.value.decision.status < 500


def _unsigned(claims: dict[str, Any]) -> str:
    part = lambda d: base64.urlsafe_b64encode(json.dumps(d).encode()).decode().rstrip("=")  # noqa: E731
    return f"{part({'alg': 'none'})}.{part(claims)}."


async def test_unsigned_and_shared_secret_tokens_are_refused(provider: FakeOIDC) -> None:
    """``alg: none``, and HS256 keyed with the provider's public key (algorithm confusion)."""
    now = int(time.time())
    claims = {"iss": provider.issuer, "aud": provider.client_id, "sub": "s-1", "exp": now + 60}
    public = json.dumps(provider.signing_key.as_dict(private=False)).encode()
    confused = jwt.encode(
        {"alg": "HS256", "kid": provider.signing_key.kid}, claims, OctKey.import_key(public)
    )
    async with httpx.AsyncClient() as client:
        keys = ProviderKeys(provider.issuer, _fetcher(client))
        for token in (_unsigned(claims), confused):
            with pytest.raises(PolicyRefusal) as refused:
                await keys.verify(token, client_id=provider.client_id, nonce=None)
            assert refused.value.decision.limit == "signature"
