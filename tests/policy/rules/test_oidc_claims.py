"""The ID token claim rules (pure): each case one claim set, the check that fails or None."""

from __future__ import annotations

from typing import Any

import pytest

from hubplugins.policy.rules.oidc_claims import (
    RULE,
    check_id_token_claims,
    check_same_subject,
    claim_missing,
)

ISSUER = "https://login.example.org/oidc/"
CLIENT = "hub"
NOW = 1_800_000_000.0
GOOD = {"iss": ISSUER, "aud": CLIENT, "sub": "abc", "exp": NOW + 300, "iat": NOW, "nonce": "n-1"}

# name, changes to GOOD (None deletes), nonce the hub sent -> the failed check, named in
# the refusal (None: accepted)
CASES: list[tuple[str, dict[str, Any], str | None, str | None]] = [
    ("good", {}, "n-1", None),
    ("refresh-without-nonce", {"nonce": None}, None, None),
    ("audience-list", {"aud": [CLIENT]}, "n-1", None),
    ("several-audiences-azp", {"aud": [CLIENT, "api"], "azp": CLIENT}, "n-1", None),
    ("within-leeway", {"exp": NOW - 30}, "n-1", None),
    (
        "other-issuer",
        {"iss": "https://evil.example/"},
        "n-1",
        "issuer must be https://login.example.org/oidc/",
    ),
    (
        "issuer-without-slash",
        {"iss": ISSUER.rstrip("/")},
        "n-1",
        "issuer must be https://login.example.org/oidc/",
    ),
    ("other-audience", {"aud": "other"}, "n-1", "audience must include this hub's client id"),
    ("no-audience", {"aud": None}, "n-1", "audience must include this hub's client id"),
    (
        "several-audiences-no-azp",
        {"aud": [CLIENT, "api"]},
        "n-1",
        "authorized party must be this hub",
    ),
    (
        "several-audiences-other-azp",
        {"aud": [CLIENT, "api"], "azp": "api"},
        "n-1",
        "authorized party must be this hub",
    ),
    ("expired", {"exp": NOW - 61}, "n-1", "expired"),
    ("no-expiry", {"exp": None}, "n-1", "expiry missing"),
    ("expiry-text", {"exp": "tomorrow"}, "n-1", "expiry missing"),
    ("expiry-bool", {"exp": True}, "n-1", "expiry missing"),
    ("issued-in-future", {"iat": NOW + 600}, "n-1", "issued in the future"),
    ("no-subject", {"sub": None}, "n-1", "subject missing"),
    ("empty-subject", {"sub": ""}, "n-1", "subject missing"),
    ("numeric-subject", {"sub": 7}, "n-1", "subject missing"),
    ("other-nonce", {"nonce": "n-2"}, "n-1", "nonce does not match this sign-in"),
    ("no-nonce", {"nonce": None}, "n-1", "nonce does not match this sign-in"),
    ("hub-lost-its-nonce", {"nonce": ""}, "", "nonce does not match this sign-in"),
]


@pytest.mark.parametrize(
    ("changes", "nonce", "fails"), [c[1:] for c in CASES], ids=[c[0] for c in CASES]
)
def test_id_token_claims(changes: dict[str, Any], nonce: str | None, fails: str | None) -> None:
    claims = {k: v for k, v in {**GOOD, **changes}.items() if v is not None}
    decision = check_id_token_claims(claims, issuer=ISSUER, client_id=CLIENT, now=NOW, nonce=nonce)
    assert decision.rule == RULE
    if fails is None:
        assert decision.allowed, decision.message
        return
    assert not decision.allowed
    assert (decision.status, decision.limit) == (403, fails)
    assert decision.message == (
        f"The sign-in provider's ID token was not accepted ({fails}). "
        "Sign in again; if this keeps happening, tell the hub administrators."
    )


@pytest.mark.parametrize(
    ("userinfo", "allowed"),
    [({"sub": "abc"}, True), ({"sub": "xyz"}, False), ({}, False), ("not a dict", False)],
    ids=["same", "other", "missing", "not-an-object"],
)
def test_userinfo_is_about_the_token_subject(userinfo: Any, allowed: bool) -> None:
    assert check_same_subject(GOOD, userinfo).allowed is allowed


def test_claims_not_an_object_and_missing_username() -> None:
    assert not check_id_token_claims(
        ["x"],  # type: ignore[arg-type]
        issuer=ISSUER,
        client_id=CLIENT,
        now=NOW,
    ).allowed
    decision = claim_missing("preferred_username")
    assert (decision.rule, decision.status) == (RULE, 403)
    assert decision.message == (
        'The sign-in provider did not send the "preferred_username" claim this hub needs to '
        "name your account. Sign in again; if this keeps happening, tell the hub administrators."
    )
