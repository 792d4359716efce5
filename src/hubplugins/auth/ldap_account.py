"""Pure rules for what the directory says about an account: who bound, and may it sign in.

No I/O and no clock here (the time is passed in). The rules, as documented for admins:

* The account is the one that bound: the LDAP "Who am I?" answer (``dn:<DN>`` or,
  on AD, ``u:DOMAIN\\name``), or the bound DN itself for a DN bind template.
  The typed name never picks an entry on its own.
* Active Directory: an account is *disabled* when ``userAccountControl`` has the
  ACCOUNTDISABLE bit (0x2), *expired* when ``accountExpires`` lies in the past
  (0 and 0x7FFFFFFFFFFFFFFF mean never), and *locked* when ``lockoutTime`` > 0
  (checked at refresh; at sign-in a bind that succeeds shows the lockout is over,
  and AD itself clears ``lockoutTime`` then).
* Other directories: an account is *locked* when it holds any of the configured
  lock attributes (``pwdAccountLockedTime`` of the OpenLDAP password policy by
  default); accounts the ``user_search_filter`` excludes are not found at all.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from datetime import datetime
from typing import Any

from hubplugins.auth.ldap_names import dn_key

UAC_ACCOUNTDISABLE = 0x2
FILETIME_NEVER = (0, 0x7FFFFFFFFFFFFFFF)
_FILETIME_UNIX_EPOCH = 116444736000000000  # 100-ns intervals from 1601-01-01 to 1970-01-01

# account states; "ok" is the only one that may sign in
OK, DISABLED, EXPIRED, LOCKED = "ok", "disabled", "expired", "locked"
REVOKED_STATES = frozenset({DISABLED, EXPIRED, LOCKED})

# AD's sub-codes in an invalidCredentials bind answer ("... data 533, v4563")
_AD_BIND_CODES = {"data 533": DISABLED, "data 701": EXPIRED, "data 775": LOCKED}


def first(value: Any) -> Any:
    """An attribute's first value (ldap3 gives lists for multi-valued attributes)."""
    if isinstance(value, (list, tuple)):
        return value[0] if value else None
    return value


def _as_int(value: Any) -> int | None:
    value = first(value)
    if value is None or value == "":
        return None
    try:
        return int(value)
    except (TypeError, ValueError):
        return None


def filetime_passed(value: Any, now: float) -> bool:
    """Whether an AD FILETIME (or a parsed datetime) lies before ``now`` (Unix seconds)."""
    value = first(value)
    if isinstance(value, datetime):
        try:
            return value.timestamp() < now and value.year < 9999
        except (OverflowError, OSError, ValueError):
            return False
    ticks = _as_int(value)
    if ticks is None or ticks in FILETIME_NEVER or ticks < 0:
        return False
    return (ticks - _FILETIME_UNIX_EPOCH) / 10_000_000 < now


def account_state(
    attrs: Mapping[str, Any],
    *,
    active_directory: bool,
    lock_attributes: Iterable[str] = (),
    now: float,
    bound: bool = False,
) -> str:
    """``ok``, ``disabled``, ``expired`` or ``locked`` for an entry's attributes.

    ``bound``: the account has just bound with its password (then AD's
    ``lockoutTime`` is not consulted: the bind already proved the lockout over).
    """
    lowered = {k.lower(): v for k, v in attrs.items()}
    if active_directory:
        uac = _as_int(lowered.get("useraccountcontrol"))
        if uac is not None and uac & UAC_ACCOUNTDISABLE:
            return DISABLED
        if filetime_passed(lowered.get("accountexpires"), now):
            return EXPIRED
        lockout = _as_int(lowered.get("lockouttime"))
        if not bound and lockout is not None and lockout > 0:
            return LOCKED
        return OK
    for name in lock_attributes:
        value = lowered.get(name.lower())
        if first(value) not in (None, "", b""):
            return LOCKED
    return OK


def bind_refusal(message: str) -> str:
    """What an invalidCredentials answer means: ``bad_credentials`` or an account state."""
    for code, state in _AD_BIND_CODES.items():
        if code in message:
            return state
    return "bad_credentials"


def who_am_i(authzid: str | None) -> tuple[str | None, str | None]:
    """Split a "Who am I?" answer into (bound DN, bound account name); (None, None) if unknown.

    ``dn:uid=alice,ou=people,dc=example,dc=org`` -> (that DN, None);
    ``u:ADEX\\alice`` or ``u:alice`` -> (None, ``alice``).
    """
    text = (authzid or "").strip()
    if text[:3].lower() == "dn:" and text[3:].strip():
        return text[3:].strip(), None
    if text[:2].lower() == "u:" and text[2:].strip():
        name = text[2:].strip().rpartition("\\")[2]
        return None, name or None
    return None, None


def ad_bind_name(bind_name: str) -> tuple[str | None, str | None]:
    """(UPN, sAMAccountName) an AD bind name can stand for, for servers without "Who am I?".

    ``DOMAIN\\x`` -> (None, ``x``); ``a@b`` -> (``a@b``, ``a``): AD binds the account
    whose ``userPrincipalName`` is ``a@b`` and only when none has it the account
    ``a`` (its implicit UPN). Anything else -> (None, None).
    """
    if "\\" in bind_name:
        return None, bind_name.rpartition("\\")[2] or None
    if "@" in bind_name:
        return bind_name, bind_name.rpartition("@")[0] or None
    return None, None


def ad_bound_dn(
    entries: Iterable[tuple[str, Any, Any]], upn: str | None, sam: str | None
) -> str | None:
    """The DN of the account that bound, among (dn, userPrincipalName, sAMAccountName)
    entries, by AD's own order: the explicit UPN first, then the account name."""
    rows = [
        (dn, str(first(u) or "").casefold(), str(first(s) or "").casefold()) for dn, u, s in entries
    ]
    if upn:
        explicit = [dn for dn, u, _ in rows if u == upn.casefold()]
        if explicit:
            return explicit[0] if len(explicit) == 1 else None
    if sam:
        implicit = [dn for dn, _, s in rows if s == sam.casefold()]
        if upn:  # the implicit UPN is name@<the account's own DNS domain>, nothing else
            suffix = upn.rpartition("@")[2].casefold()
            implicit = [dn for dn in implicit if dns_domain(dn) == suffix]
        return implicit[0] if len(implicit) == 1 else None
    return None


def domain_root(dn: str) -> str:
    """The trailing ``DC=`` part of a DN: ``OU=x,DC=ad,DC=example,DC=org`` -> ``DC=ad,...``."""
    parts = [p for p in re.split(r"(?<!\\),", dn) if p.strip()]
    tail: list[str] = []
    for part in reversed(parts):
        if part.strip().lower().startswith("dc="):
            tail.insert(0, part.strip())
        else:
            break
    return ",".join(tail)


def dns_domain(dn: str) -> str:
    """The DNS name of a DN's domain: ``CN=x,DC=ad,DC=example,DC=org`` -> ``ad.example.org``."""
    key = dn_key(domain_root(dn)) or ()
    return ".".join(value for _, value in key)
