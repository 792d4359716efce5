"""The sign-in refusals: each case's rule, status and whole message."""

from __future__ import annotations

import pytest

from hubplugins.policy.rules.sign_in import (
    ACCOUNT_MESSAGES,
    REPLACED_MESSAGE,
    account_recheck_refused,
    account_revoked,
    github_membership,
    github_sign_in_again,
    name_not_owned,
    name_reused,
    no_sign_in_method,
)

GITHUB = "https://github.example.org"

REFUSED = {
    "disabled": (account_revoked("disabled"), "directory.account", ACCOUNT_MESSAGES["disabled"]),
    "expired": (account_revoked("expired"), "directory.account", ACCOUNT_MESSAGES["expired"]),
    "locked": (account_revoked("locked"), "directory.account", ACCOUNT_MESSAGES["locked"]),
    "name-reused": (name_reused(), "identity.replaced", REPLACED_MESSAGE),
    "name-of-another-method": (
        name_not_owned("gh-ann", "gh-"),
        "multi.name",
        "This account would sign in as 'gh-ann', a name that belongs to another sign-in "
        "method on this page (names starting with 'gh-'), so it is refused here. Use the "
        "sign-in method your account belongs to, or ask the hub administrators.",
    ),
    "name-of-no-method": (
        name_not_owned("ann", ""),
        "multi.name",
        "This account would sign in as 'ann', a name that no sign-in method on this page "
        "owns, so it is refused here. Use the sign-in method your account belongs to, or ask "
        "the hub administrators.",
    ),
    "start-with-no-method": (
        no_sign_in_method("ann"),
        "multi.owner",
        "No sign-in method on this hub owns the name 'ann'.",
    ),
    "no-token-kept": (
        github_sign_in_again(expired=False),
        "github.sign_in",
        "Sign in again with GitHub to start a server.",
    ),
    "token-expired": (
        github_sign_in_again(expired=True),
        "github.sign_in",
        "Your GitHub sign-in has expired or was revoked: sign in again.",
    ),
    "not-a-member": (
        github_membership("ann", ["lab", "lab:gpu"], ["other"], [], GITHUB, ""),
        "github.membership",
        "@ann is not a member of any GitHub organization or team allowed on this hub (lab, "
        "lab:gpu). Ask an owner of one of them to add you, then sign in again.",
    ),
    "membership-hidden": (
        github_membership("ann", ["lab", "lab:gpu"], [], ["lab:gpu", "elsewhere"], GITHUB, ""),
        "github.membership_hidden",
        "GitHub did not let this hub see whether @ann is a member of lab:gpu. Membership is "
        "private unless the hub is granted the read:org scope (ask the hub administrators to "
        "request it, or an organization owner to approve this OAuth app under third-party "
        "access). You can also make your membership public at "
        "https://github.example.org/orgs/lab/people, then sign in again.",
    ),
    "no-organization-allowed": (
        github_membership("ann", [], [], [], GITHUB, "This hub is closed."),
        "github.not_allowed",
        "This hub is closed.",
    ),
}


@pytest.mark.parametrize(("decision", "rule", "message"), REFUSED.values(), ids=REFUSED)
def test_each_sign_in_refusal(decision, rule, message):
    assert (decision.allowed, decision.rule, decision.status, decision.message) == (
        False,
        rule,
        403,
        message,
    )


ALLOWED = {
    "member-of-an-org": (["lab"], ["lab"], []),
    "member-of-a-team": (["lab:gpu"], ["lab", "lab:gpu"], []),
    "member-and-some-hidden": (["lab", "x"], ["lab"], ["x"]),
}


@pytest.mark.parametrize(("allowed", "member", "hidden"), ALLOWED.values(), ids=ALLOWED)
def test_a_member_of_an_allowed_org_or_team_signs_in(allowed, member, hidden):
    assert github_membership("ann", allowed, member, hidden, GITHUB, "").allowed


# (outcome of asking the directory again) -> (status, the whole message of a start)
RECHECK = {
    "unavailable": (
        503,
        "The directory cannot be reached to confirm your account. Try again in a few minutes.",
    ),
    "disabled": (403, "Cannot start a server: the account 'ann' is disabled in the directory."),
    "not_allowed": (
        403,
        "Cannot start a server: the account 'ann' is no longer in a group allowed to use this hub.",
    ),
    "replaced": (
        403,
        "Cannot start a server: the account 'ann' now names a different directory entry "
        "(the name was given to someone else).",
    ),
    "something-new": (
        403,
        "Cannot start a server: the account 'ann' cannot be confirmed (something-new).",
    ),
}


@pytest.mark.parametrize(("outcome", "status", "message"), [(o, *v) for o, v in RECHECK.items()],
                         ids=RECHECK)  # fmt: skip
def test_a_start_the_directory_no_longer_confirms(outcome, status, message):
    decision = account_recheck_refused("ann", outcome)
    assert (decision.allowed, decision.rule, decision.status, decision.message) == (
        False,
        "directory.account",
        status,
        message,
    )
    assert decision.usage == outcome
