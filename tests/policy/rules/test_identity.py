"""The identity rules of the core, and what each authenticator reads as the identity."""

from __future__ import annotations

from typing import Any

import pytest

from hubplugins.auth.directory import DirectoryAuthenticator
from hubplugins.auth.github import GitHubAuthenticator
from hubplugins.auth.oidc import OIDCAuthenticator
from hubplugins.policy.rules.identity import candidates, check_binding, claim_verdict, owner_for

GITHUB = ("github", "583")


def binding_refusal(provider: str, presented_id: str) -> str:
    return (
        f'The hub account "rita" belongs to another {provider} account than the one you signed '
        f'in with ({provider} id "{presented_id}"). This happens when a name was freed and taken '
        "by someone else. Ask the hub administrators: they can link the account to you if it is "
        "yours, or rename the old one."
    )


# (case, bound identity, presented identity, None if allowed or the refusal's message)
BINDING_CASES = [
    ("first-sign-in", None, GITHUB, None),
    ("same-identity", GITHUB, GITHUB, None),
    ("freed-login-taken", GITHUB, ("github", "999"), binding_refusal("github", "999")),
    ("same-id-other-provider", GITHUB, ("oidc", "583"), binding_refusal("oidc", "583")),
]


@pytest.mark.parametrize(
    ("case", "bound", "presented", "refusal"), BINDING_CASES, ids=[c[0] for c in BINDING_CASES]
)
def test_check_binding(case, bound, presented, refusal) -> None:
    decision = check_binding("rita", bound, presented)
    assert decision.allowed is (refusal is None)
    if refusal is not None:
        assert (decision.rule, decision.status) == ("identity.binding", 403)
        assert decision.message == refusal
        assert (decision.limit, decision.usage) == (":".join(bound), ":".join(presented))


# (case, label, exists, saved, adopted by another, verdict)
VERDICT_CASES = [
    ("absent", None, False, False, False, "free"),
    ("labelled-ours", "me", True, False, False, "ours"),
    ("labelled-other", "them", True, True, False, "foreign"),
    ("legacy-saved", None, True, True, False, "adopt"),
    ("legacy-not-saved", None, True, False, False, "foreign"),
    ("legacy-adopted-by-other", None, True, True, True, "foreign"),
]


@pytest.mark.parametrize(
    ("case", "label", "exists", "saved", "other", "verdict"),
    VERDICT_CASES,
    ids=[c[0] for c in VERDICT_CASES],
)
def test_claim_verdict(case, label, exists, saved, other, verdict) -> None:
    got = claim_verdict("me", label, exists=exists, saved=saved, adopted_by_other=other)
    assert got == verdict


def test_owner_ids_are_label_values_and_distinct() -> None:
    owners = {owner_for("github", "1"), owner_for("github", "2"), owner_for("oidc", "1")}
    assert len(owners) == 3
    assert all(len(o) <= 63 and o.isalnum() for o in owners)
    assert candidates("claim-rita", 3) == ["claim-rita", "claim-rita-2", "claim-rita-3"]


# (case, authenticator class, auth model, identity)
IDENTITY_CASES = [
    (
        "github-numeric-id",
        GitHubAuthenticator,
        {"auth_state": {"github_user": {"login": "rita", "id": 583}}},
        "583",
    ),
    ("github-no-user", GitHubAuthenticator, {"auth_state": {}}, None),
    (
        "oidc-issuer-and-sub",
        OIDCAuthenticator,
        {"auth_state": {"oauth_user": {"sub": "abc", "iss": "https://id.example.org"}}},
        "https://id.example.org abc",
    ),
    ("oidc-no-sub", OIDCAuthenticator, {"auth_state": {"oauth_user": {}}}, None),
    (
        "directory-entry-uuid",
        DirectoryAuthenticator,
        {"auth_state": {"directory_id": "5f3b-..."}},
        "5f3b-...",
    ),
]


@pytest.mark.parametrize(
    ("case", "cls", "model", "expected"), IDENTITY_CASES, ids=[c[0] for c in IDENTITY_CASES]
)
def test_stable_identity(case, cls: Any, model, expected) -> None:
    assert cls.stable_identity(cls.__new__(cls), model) == expected
