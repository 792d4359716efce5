"""check_server_name: each kind of bad name, its status and its message."""

from __future__ import annotations

import pytest
from harness.rule_tables import POLICY

from hubplugins.policy import (
    check_server_name,
)

# -- server names ------------------------------------------------------------------

NAMES = {
    "simple": ("nb1", True, ""),
    "hyphen": ("my-nb", True, ""),
    "max-length": ("a" * 20, True, ""),
    "empty": ("", False, "Server name is empty"),
    "too-long": ("a" * 21, False, "is too long: 21 of at most 20 characters"),
    "uppercase": (
        "MyNb",
        False,
        "contains uppercase letters: use lowercase letters, digits and single hyphens, "
        'starting with a letter. Try "mynb".',
    ),
    "slash": ("a/b", False, "contains a '/'"),
    "whitespace": ("my nb", False, "contains whitespace"),
    "tab": ("my\tnb", False, "contains whitespace"),
    "non-ascii-lookalike": (
        "nb\uff11",
        False,
        "non-ASCII character '\uff11' (U+FF11 FULLWIDTH DIGIT ONE)",
    ),
    "cyrillic-a": ("\u0430bc", False, "U+0430 CYRILLIC SMALL LETTER A"),
    "underscore": ("my_nb", False, "contains '_'"),
    "starts-with-digit": ("1nb", False, "must start with a letter"),
    "starts-with-hyphen": ("-nb", False, "must start with a letter"),
    "double-hyphen": ("my--nb", False, "two hyphens in a row"),
    "ends-with-hyphen": ("nb-", False, "must end with a letter or a digit"),
    "dot": ("nb.1", False, "contains '.'"),
}


@pytest.mark.parametrize(("name", "ok", "fragment"), NAMES.values(), ids=NAMES.keys())
def test_check_server_name(name: str, ok: bool, fragment: str) -> None:
    decision = check_server_name(POLICY, name)
    assert decision.allowed is ok
    if not ok:
        assert decision.status == 400
        assert decision.rule == "servers.name"
        assert fragment in decision.message


def test_server_name_never_echoes_huge_input() -> None:
    decision = check_server_name(POLICY, "x" * 1_000_000)
    assert not decision.allowed
    assert "1000000 of at most 20" in decision.message
    assert len(decision.message) < 300


def test_server_name_not_text() -> None:
    assert check_server_name(POLICY, 5).status == 400
