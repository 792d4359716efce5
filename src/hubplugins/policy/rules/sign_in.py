"""The sign-in refusals of the authenticators: who may not sign in or start, and why.

Each returns a refused :class:`~hubplugins.policy.decision.Decision`; the
authenticator (``hubplugins.auth``) raises it through
:func:`hubplugins.hub.refusals.refuse`, as every adapter does. Pure: the
facts (the directory's answer, the GitHub memberships) are passed in.
"""

from __future__ import annotations

from collections.abc import Collection

from hubplugins.policy.decision import Decision

__all__ = [
    "ACCOUNT_MESSAGES",
    "REPLACED_MESSAGE",
    "account_recheck_refused",
    "account_revoked",
    "github_membership",
    "github_sign_in_again",
    "name_not_owned",
    "name_reused",
    "no_sign_in_method",
    "reason_text",
]

ACCOUNT_MESSAGES = {
    "disabled": "This account is disabled in the directory. Ask your administrator.",
    "expired": "This account has expired in the directory. Ask your administrator.",
    "locked": "This account is locked in the directory. Try again later or ask your administrator.",
}

REPLACED_MESSAGE = (
    "This username belonged to another directory account before. Ask your administrator "
    "to remove the old JupyterHub user of that name, so that you do not inherit its "
    "servers and files."
)


# why a directory account checked again may no longer use the hub, by outcome
REASONS = {
    "not_found": "is no longer in the directory (or no longer matches its user filter)",
    "disabled": "is disabled in the directory",
    "expired": "has expired in the directory",
    "locked": "is locked in the directory",
    "not_allowed": "is no longer in a group allowed to use this hub",
    "blocked": "is blocked on this hub",
    "name_mismatch": "no longer has this username in the directory",
    "replaced": "now names a different directory entry (the name was given to someone else)",
}


def reason_text(outcome: str) -> str:
    """Why the account checked again no longer signs in, for a message or a log line."""
    return REASONS.get(outcome, f"cannot be confirmed ({outcome})")


def account_recheck_refused(name: str, outcome: str) -> Decision:
    """A start by an account the directory, asked again, did not confirm (``outcome``).

    403 naming why; 503 while the directory cannot be reached (``unavailable``).
    """
    if outcome == "unavailable":
        return Decision.refuse(
            "directory.account",
            "The directory cannot be reached to confirm your account. Try again in a few minutes.",
            status=503,
            usage=outcome,
        )
    return Decision.refuse(
        "directory.account",
        f"Cannot start a server: the account {name!r} {reason_text(outcome)}.",
        status=403,
        usage=outcome,
    )


def account_revoked(outcome: str) -> Decision:
    """The password was right, but the directory account is disabled, expired or locked."""
    return Decision.refuse(
        "directory.account", ACCOUNT_MESSAGES[outcome], status=403, usage=outcome
    )


def name_reused() -> Decision:
    """The hub user of this name was another directory account's."""
    return Decision.refuse("identity.replaced", REPLACED_MESSAGE, status=403)


def name_not_owned(name: str, prefix: str) -> Decision:
    """A sign-in method produced a hub name that another method (``prefix``) owns."""
    whose = (
        f"belongs to another sign-in method on this page (names starting with {prefix!r})"
        if prefix
        else "no sign-in method on this page owns"
    )
    return Decision.refuse(
        "multi.name",
        f"This account would sign in as {name!r}, a name that {whose}, so it is "
        "refused here. Use the sign-in method your account belongs to, or ask the "
        "hub administrators.",
        status=403,
        usage=name,
    )


def no_sign_in_method(name: str) -> Decision:
    """A start for a hub user that no sign-in method of the hub owns."""
    return Decision.refuse(
        "multi.owner",
        f"No sign-in method on this hub owns the name {name!r}.",
        status=403,
        usage=name,
    )


def github_sign_in_again(expired: bool) -> Decision:
    """A start whose GitHub sign-in is missing (no token kept) or no longer valid."""
    message = (
        "Your GitHub sign-in has expired or was revoked: sign in again."
        if expired
        else "Sign in again with GitHub to start a server."
    )
    return Decision.refuse("github.sign_in", message, status=403)


def github_membership(
    login: str,
    allowed: Collection[str],
    member: Collection[str],
    hidden: Collection[str],
    github_url: str,
    not_allowed_message: str,
) -> Decision:
    """Do the GitHub memberships (``org`` or ``org:team``) let ``@login`` in?

    ``hidden`` are the allowed entries GitHub would not say either way of
    (private membership without the ``read:org`` scope).
    """
    allowed = set(allowed)
    if set(member) & allowed:
        return Decision.allow("github.membership")
    hidden = sorted(set(hidden) & allowed)
    if hidden:
        orgs = sorted({h.split(":")[0] for h in hidden})
        where = " or ".join(f"{github_url}/orgs/{o}/people" for o in orgs)
        return Decision.refuse(
            "github.membership_hidden",
            f"GitHub did not let this hub see whether @{login} is a member of "
            f"{', '.join(hidden)}. Membership is private unless the hub is granted the "
            "read:org scope (ask the hub administrators to request it, or an "
            "organization owner to approve this OAuth app under third-party access). "
            f"You can also make your membership public at {where}, then sign in again.",
            status=403,
            limit=sorted(allowed),
            usage=hidden,
        )
    if not allowed:
        return Decision.refuse("github.not_allowed", not_allowed_message, status=403)
    wanted = ", ".join(sorted(allowed))
    return Decision.refuse(
        "github.membership",
        f"@{login} is not a member of any GitHub organization or team allowed on "
        f"this hub ({wanted}). Ask an owner of one of them to add you, then sign "
        "in again.",
        status=403,
        limit=sorted(allowed),
        usage=sorted(member),
    )
