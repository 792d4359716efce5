"""What makes an OpenID Connect ID token acceptable (pure).

The signature is checked by the adapter (:mod:`hubplugins.auth.oidc_keys`,
with a JOSE library); this module checks the claims of a token whose
signature holds, with the time passed in:

- ``iss`` is exactly the configured issuer;
- ``aud`` is, or contains, the hub's client id; with several audiences
  ``azp`` must name the hub (OpenID Connect Core 1.0, 3.1.3.7);
- ``exp`` is in the future and ``iat`` not in the future (both with
  ``leeway`` seconds for clock skew);
- ``sub`` is a non-empty string;
- ``nonce`` is the one the hub sent with the sign-in (when it sent one).

Every answer is a :class:`~hubplugins.policy.decision.Decision` of rule
:data:`RULE`: a refusal is a 403 telling the person to sign in again, with
the failed check in ``limit`` and what the token said in ``usage``.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, TypeGuard

from hubplugins.policy.decision import Decision
from hubplugins.policy.text import echo

RULE = "oidc.id_token"

_AGAIN = "Sign in again; if this keeps happening, tell the hub administrators."


def token_refused(check: str, found: Any = None) -> Decision:
    """The refusal of an ID token that failed ``check`` (e.g. ``"signature"``)."""
    return Decision.refuse(
        RULE,
        f"The sign-in provider's ID token was not accepted ({check}). {_AGAIN}",
        status=403,
        limit=check,
        usage=None if found is None else echo(str(found), 80),
    )


def check_id_token_claims(
    claims: Mapping[str, Any],
    *,
    issuer: str,
    client_id: str,
    now: float,
    nonce: str | None = None,
    leeway: float = 60,
) -> Decision:
    """Whether the (signature-checked) ``claims`` of an ID token are acceptable at ``now``.

    ``nonce`` None means the hub sent none (a refresh): the token's own is not
    compared.
    """
    if not isinstance(claims, Mapping):
        return token_refused("claims are not an object")
    if claims.get("iss") != issuer:
        return token_refused(f"issuer must be {issuer}", claims.get("iss"))
    aud = claims.get("aud")
    audiences = [aud] if isinstance(aud, str) else aud if isinstance(aud, list) else []
    if client_id not in audiences:
        return token_refused("audience must include this hub's client id", aud)
    if len(audiences) > 1 and claims.get("azp") != client_id:
        return token_refused("authorized party must be this hub", claims.get("azp"))
    exp = claims.get("exp")
    if not _number(exp):
        return token_refused("expiry missing", exp)
    if exp + leeway <= now:
        return token_refused("expired", exp)
    iat = claims.get("iat")
    if iat is not None and (not _number(iat) or iat - leeway > now):
        return token_refused("issued in the future", iat)
    sub = claims.get("sub")
    if not isinstance(sub, str) or not sub:
        return token_refused("subject missing", sub)
    if nonce is not None and (not nonce or claims.get("nonce") != nonce):
        return token_refused("nonce does not match this sign-in", claims.get("nonce"))
    return Decision.allow(RULE, limit=issuer, usage=sub)


def claim_missing(claim: str) -> Decision:
    """The refusal of a sign-in whose provider sent no usable ``claim`` (e.g. the username)."""
    return Decision.refuse(
        RULE,
        f"The sign-in provider did not send the {echo(claim)} claim this hub needs to name "
        f"your account. {_AGAIN}",
        status=403,
        limit=claim,
    )


def check_same_subject(id_claims: Mapping[str, Any], userinfo: Any) -> Decision:
    """The userinfo answer must be about the ID token's ``sub`` (Core 1.0, 5.3.2)."""
    sub = userinfo.get("sub") if isinstance(userinfo, Mapping) else None
    if sub != id_claims.get("sub"):
        return token_refused("userinfo is about another subject", sub)
    return Decision.allow(RULE)


def _number(value: Any) -> TypeGuard[int | float]:
    return isinstance(value, (int, float)) and not isinstance(value, bool)
