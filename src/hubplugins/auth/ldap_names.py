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
* A group's short name is the value of the first RDN of its DN (the CN).
"""

from __future__ import annotations

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


@dataclass(frozen=True)
class GroupRule:
    """How directory groups become JupyterHub groups.

    ``allow``: short names (case-insensitive) that are synced; empty = all.
    ``rename``: short name (case-insensitive) -> JupyterHub group name.
    """

    allow: frozenset[str] = frozenset()
    rename: Mapping[str, str] | None = None

    @classmethod
    def build(cls, allow: Iterable[str], rename: Mapping[str, str]) -> GroupRule:
        return cls(
            allow=frozenset(a.casefold() for a in allow),
            rename={k.casefold(): v for k, v in rename.items()},
        )

    def map(self, group_dns: Iterable[str]) -> list[str]:
        """JupyterHub group names for a user's directory group DNs, sorted, no duplicates."""
        return self.map_names(short_name(dn) for dn in group_dns)

    def map_names(self, short_names: Iterable[str]) -> list[str]:
        """JupyterHub group names for directory group short names (CNs)."""
        names: set[str] = set()
        rename = self.rename or {}
        for short in short_names:
            key = short.casefold()
            if self.allow and key not in self.allow:
                continue
            names.add(rename.get(key, short))
        return sorted(names)


def matches_any(wanted: Iterable[str], short_names: Iterable[str], mapped: Iterable[str]) -> bool:
    """True when a configured group name equals a short or a mapped name (case-insensitive)."""
    have = {n.casefold() for n in short_names} | {n.casefold() for n in mapped}
    return any(w.casefold() in have for w in wanted)
