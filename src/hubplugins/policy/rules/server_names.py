"""The server-name rule: what a new named server may be called.

A name is 1 to ``servers.name_max_length`` characters of lowercase ASCII
letters, digits and single hyphens, starting with a letter and ending with a
letter or digit. This is the rule JupyterHub 6 hard-codes (at most 30
characters); applying it on JupyterHub 5.5 as well keeps names usable in
Kubernetes object names and portable across hub versions.
"""

from __future__ import annotations

import re
import unicodedata

from hubplugins.policy.decision import Decision
from hubplugins.policy.model import Policy
from hubplugins.policy.text import echo

__all__ = ["RULE", "check_server_name", "suggest_name"]

RULE = "servers.name"
_VALID = re.compile(r"[a-z](?:-?[a-z0-9])*")
_ALLOWED = Decision.allow(RULE)
_RULE_TEXT = "lowercase letters, digits and single hyphens, starting with a letter"


def suggest_name(name: str, max_length: int) -> str | None:
    """A valid name close to ``name`` (``"My_NB 1"`` -> ``"my-nb-1"``), if there is one."""
    ascii_text = unicodedata.normalize("NFKD", name[:200]).encode("ascii", "ignore").decode()
    text = re.sub(r"[^a-z0-9]+", "-", ascii_text.lower()).strip("-")
    text = re.sub(r"^[^a-z]+", "", text)[:max_length].rstrip("-")
    return text if text and _VALID.fullmatch(text) else None


def _problem(name: str) -> str | None:
    """What is wrong with ``name`` (already known to be within the length limit)."""
    for char in name:
        if char == "/":
            return "contains a '/'"
        if char.isspace():
            return "contains whitespace"
        if ord(char) > 127:
            label = unicodedata.name(char, "unnamed character")
            return f"contains the non-ASCII character {char!r} (U+{ord(char):04X} {label})"
        if char.isupper():
            return "contains uppercase letters"
        if not (char.isalnum() or char == "-"):
            return f"contains {char!r}"
    if not name[0].isalpha():
        return "must start with a letter"
    if "--" in name:
        return "contains two hyphens in a row"
    if name.endswith("-"):
        return "must end with a letter or a digit"
    return None


def check_server_name(policy: Policy, name: object) -> Decision:
    """Is ``name`` acceptable for a new named server? 400 with the exact problem if not."""
    max_length = policy.servers.name_max_length
    if isinstance(name, str) and len(name) <= max_length and _VALID.fullmatch(name):
        return _ALLOWED
    if not isinstance(name, str):
        return Decision.refuse(RULE, "Server name must be text.", status=400)
    if not name:
        return Decision.refuse(
            RULE, f"Server name is empty: use 1 to {max_length} {_RULE_TEXT}.", status=400
        )
    if len(name) > max_length:
        suggestion = suggest_name(name, max_length)
        hint = f' Try "{suggestion}".' if suggestion else ""
        return Decision.refuse(
            RULE,
            f"Server name {echo(name)} is too long: {len(name)} of at most {max_length} "
            f"characters allowed for your groups ({policy.tier}).{hint}",
            status=400,
            limit=max_length,
            usage=len(name),
        )
    problem = _problem(name)
    if problem is None and not _VALID.fullmatch(name):  # pragma: no cover - defensive
        problem = "is not valid"
    if problem is None:
        return Decision.allow(RULE)
    suggestion = suggest_name(name, max_length)
    hint = f' Try "{suggestion}".' if suggestion and suggestion != name else ""
    return Decision.refuse(
        RULE,
        f"Server name {echo(name)} {problem}: use {_RULE_TEXT}.{hint}",
        status=400,
    )
