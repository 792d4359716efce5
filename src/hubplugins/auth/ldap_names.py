"""Pure rules for names: what a user types -> one login name; group DNs -> JupyterHub groups.

No I/O here. The rules, as documented for admins:

* ``alice``, ``ALICE``, ``alice@ad.example.org`` and ``ADEX\\alice`` all name the
  account ``alice``: surrounding spaces are dropped, a ``DOMAIN\\`` prefix or an
  ``@domain`` suffix is removed when the domain matches one of the configured
  domains (case-insensitive), and the rest is lowercased. A domain that is not
  configured is refused.
* The JupyterHub username is the directory's own value of the username attribute
  (``sAMAccountName`` on AD, ``uid`` elsewhere), lowercased; it must equal the
  lowercased typed name, so a look-alike the directory happens to match (full-width
  letters, say) is refused.
* A group's short name is the value of the first RDN of its DN (the CN). A group
  is named by its CN only when it lies under the group search base; anywhere
  else only its full DN names it (see :class:`GroupRule`).
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass

from ldap3.utils.dn import parse_dn


class LoginRefused(Exception):
    """The typed username is refused before the directory is asked."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


def bounded(text: str, limit: int = 48) -> str:
    """A printable, length-bounded form of untrusted text for log lines."""
    shown = text if len(text) <= limit else f"{text[:limit]}...({len(text)} chars)"
    return repr(shown)


def normalize_login(raw: str, domains: Sequence[str], max_length: int) -> str:
    """Return the lowercased account name for what a user typed, or raise LoginRefused."""
    if max_length and len(raw) > max_length:
        raise LoginRefused(f"username longer than {max_length} characters")
    text = raw.strip()
    if not text:
        raise LoginRefused("empty username")
    domain: str | None = None
    if "\\" in text:
        domain, _, local = text.partition("\\")
    elif "@" in text:
        local, _, domain = text.rpartition("@")
    else:
        local = text
    if domain is not None:
        wanted = {d.strip().casefold() for d in domains}
        if domain.strip().casefold() not in wanted:
            raise LoginRefused("domain not accepted")
    local = local.strip()
    if not local:
        raise LoginRefused("empty username")
    if any(ch in local for ch in "\\@\x00"):
        raise LoginRefused("username holds a reserved character")
    return local.lower()


def short_name(dn: str) -> str:
    """The value of a DN's first RDN: ``CN=Data Science,OU=Groups,...`` -> ``Data Science``."""
    try:
        parts = parse_dn(dn, escape=False)
    except Exception:
        return dn
    if not parts:
        return dn
    return _unescape(parts[0][1])


def _unescape(value: str) -> str:
    out: list[str] = []
    i = 0
    while i < len(value):
        ch = value[i]
        if ch == "\\" and i + 1 < len(value):
            pair = value[i + 1 : i + 3]
            if len(pair) == 2 and all(c in "0123456789abcdefABCDEF" for c in pair):
                out.append(chr(int(pair, 16)))
                i += 3
                continue
            out.append(value[i + 1])
            i += 2
            continue
        out.append(ch)
        i += 1
    return "".join(out)


DnKey = tuple[tuple[str, str], ...]


def _parse(dn: str) -> list[tuple[str, str, str]]:
    """ldap3's DN parser, tolerating the spaces people put after commas."""
    try:
        return parse_dn(dn, escape=False)
    except Exception:
        return parse_dn(re.sub(r"(?<!\\)([,+])\s+", r"\1", dn.strip()), escape=False)


def dn_key(dn: str) -> DnKey | None:
    """A DN in comparable form (attribute names and values casefolded, escapes undone);
    None when ``dn`` is not a DN."""
    try:
        parts = _parse(dn)
    except Exception:
        return None
    if not parts:
        return None
    return tuple(
        (attr.strip().casefold(), _unescape(value).strip().casefold()) for attr, value, _ in parts
    )


def is_dn(name: str) -> bool:
    """Whether a configured group name is a full DN (``CN=staff,OU=Groups,...``)."""
    return "=" in name and dn_key(name) is not None


def dn_under(dn: str | DnKey | None, base: str | DnKey | None) -> bool:
    """Whether ``dn`` is ``base`` or below it."""
    k = dn_key(dn) if isinstance(dn, str) else dn
    b = dn_key(base) if isinstance(base, str) else base
    return bool(k and b and len(k) >= len(b) and k[len(k) - len(b) :] == b)


def common_base(dns: Iterable[str]) -> str:
    """The deepest DN that every one of ``dns`` is under ("" when they share none)."""
    dns = list(dns)
    parsed = [_parse(dn) for dn in dns]
    if not parsed:
        return ""
    keys = [dn_key(dn) or () for dn in dns]
    n = min(len(k) for k in keys)
    while n and len({k[len(k) - n :] for k in keys}) > 1:
        n -= 1
    if not n:
        return ""
    return ",".join(f"{attr}={value}" for attr, value, _ in parsed[0][len(parsed[0]) - n :])


def _split(names: Iterable[str]) -> tuple[frozenset[str], frozenset[DnKey]]:
    cns, dns = set(), set()
    for name in names:
        key = dn_key(name) if is_dn(name) else None
        if key is not None:
            dns.add(key)
        else:
            cns.add(name.casefold())
    return frozenset(cns), frozenset(dns)


@dataclass(frozen=True)
class GroupRule:
    """Which directory groups count, and how they become JupyterHub groups.

    ``base``: the group search base; a group is named by its CN only when it lies
    under it, so a group of the same CN elsewhere grants nothing. A group given
    as a full DN (in ``allow``, ``rename`` or in ``matches``) counts wherever it is.
    ``allow``: CNs or DNs that are synced; empty = every group under ``base``.
    ``rename``: CN or DN -> JupyterHub group name.
    """

    base: DnKey | None = None
    allow: frozenset[str] = frozenset()
    allow_dns: frozenset[DnKey] = frozenset()
    rename: Mapping[str, str] | None = None
    rename_dns: Mapping[DnKey, str] | None = None

    @classmethod
    def build(cls, base: str, allow: Iterable[str], rename: Mapping[str, str]) -> GroupRule:
        cns, dns = _split(allow)
        by_cn: dict[str, str] = {}
        by_dn: dict[DnKey, str] = {}
        for name, target in rename.items():
            key = dn_key(name) if is_dn(name) else None
            if key is not None:
                by_dn[key] = target
            else:
                by_cn[name.casefold()] = target
        return cls(dn_key(base), cns, dns, by_cn, by_dn)

    def in_base(self, dn: str) -> bool:
        return dn_under(dn, self.base)

    def named(self, group_dns: Iterable[str]) -> list[str]:
        """Short names (CNs) of the groups under the base: the ones a CN can name."""
        return [short_name(dn) for dn in group_dns if self.in_base(dn)]

    def map(self, group_dns: Iterable[str]) -> list[str]:
        """JupyterHub group names for a user's directory group DNs, sorted, no duplicates."""
        names: set[str] = set()
        for dn in group_dns:
            key, short = dn_key(dn), short_name(dn)
            in_base = self.in_base(dn)
            listed = key in self.allow_dns or key in (self.rename_dns or {})
            if not in_base and not listed:
                continue
            if (self.allow or self.allow_dns) and not (
                key in self.allow_dns or (in_base and short.casefold() in self.allow)
            ):
                continue
            renamed = (self.rename_dns or {}).get(key) if key else None
            if renamed is None and in_base:
                renamed = (self.rename or {}).get(short.casefold())
            names.add(renamed or short)
        return sorted(names)

    def matches(self, wanted: Iterable[str], group_dns: Iterable[str]) -> bool:
        """True when a configured group (a DN, a CN under the base, or a mapped JupyterHub
        name) is one of the user's groups (case-insensitive)."""
        dns = list(group_dns)
        keys = {dn_key(dn) for dn in dns}
        names = {n.casefold() for n in self.named(dns)} | {n.casefold() for n in self.map(dns)}
        cns, wanted_dns = _split(wanted)
        return bool(wanted_dns & keys) or bool(cns & names)
