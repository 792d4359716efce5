"""Who an account is, and what belongs to it (pure).

An account of the hub is bound to one stable identity of its sign-in
provider (GitHub's numeric user id, a directory's ``objectGUID`` or
``entryUUID``, an OpenID Connect ``sub``): the name can change (an admin
rename, a freed GitHub login), the identity cannot.

Every volume, SSH key Secret and pod the package creates carries the
account's *owner* in the label :data:`OWNER_LABEL`: a hash of the identity
(:func:`owner_for`), so a deleted account that comes back with the same
identity finds its kept volumes again, or a random id for an account the
provider gave no identity (never reused, see :mod:`hubplugins.hub.identity`).

- :func:`check_binding`: the sign-in rule; another identity under a bound
  name is refused (403) and the person is told to ask an admin.
- :func:`claim_verdict`: whether an existing object may be used by an account.
"""

from __future__ import annotations

import hashlib
from typing import Literal

from hubplugins.policy.decision import Decision
from hubplugins.policy.text import echo

OWNER_LABEL = "hubplugins.io/owner"
"""Label naming the account an object belongs to (an owner id, never a user name)."""

RULE = "identity.binding"

Verdict = Literal["ours", "free", "adopt", "foreign"]


def owner_for(provider: str, subject: str) -> str:
    """The owner id of an identity: ``i`` + 32 hex digits of a SHA-256 (a valid label value)."""
    digest = hashlib.sha256(f"{provider}\0{subject}".encode()).hexdigest()
    return "i" + digest[:32]


def check_binding(
    username: str,
    bound: tuple[str, str] | None,
    presented: tuple[str, str],
) -> Decision:
    """May the person with identity ``presented`` sign in as ``username``?

    ``bound`` is the account's recorded (provider, subject), None when it has
    none yet (the first sign-in records it).
    """
    if bound is None or tuple(bound) == tuple(presented):
        return Decision.allow(RULE)
    provider, subject = presented
    return Decision.refuse(
        RULE,
        f"The hub account {echo(username)} belongs to another {provider} account than "
        f"the one you signed in with ({provider} id {echo(subject)}). This happens when a "
        "name was freed and taken by someone else. Ask the hub administrators: they can "
        "link the account to you if it is yours, or rename the old one.",
        status=403,
        limit=f"{bound[0]}:{bound[1]}",
        usage=f"{provider}:{subject}",
    )


def claim_verdict(
    owner: str,
    label: str | None,
    *,
    exists: bool,
    saved: bool,
    adopted_by_other: bool,
) -> Verdict:
    """What an account (``owner``) may do with an object of a name it wants.

    - ``free``: nothing has the name, create it (with the owner label);
    - ``ours``: the owner label names this account;
    - ``adopt``: unlabelled (made before owner labels), the account's saved
      state names it and no other account adopted it: use it and record that;
    - ``foreign``: another account's, never to be mounted or deleted.
    """
    if not exists:
        return "free"
    if label:
        return "ours" if label == owner else "foreign"
    if saved and not adopted_by_other:
        return "adopt"
    return "foreign"


def candidates(name: str, limit: int = 20) -> list[str]:
    """``name``, then ``name-2``, ``name-3``...: names tried when ``name`` is another's."""
    return [name] + [f"{name}-{n}" for n in range(2, limit + 1)]
