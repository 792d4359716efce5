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
    "empty": (
        "",
        False,
        "Server name is empty: use 1 to 20 lowercase letters, digits and single hyphens, "
        "starting with a letter.",
    ),
    "too-long": (
        "a" * 21,
        False,
        'Server name "aaaaaaaaaaaaaaaaaaaaa" is too long: 21 of at most 20 characters allowed '
        'for your groups (authenticated). Try "aaaaaaaaaaaaaaaaaaaa".',
    ),
    "uppercase": (
        "MyNb",
        False,
        'Server name "MyNb" contains uppercase letters: use lowercase letters, digits and single '
        'hyphens, starting with a letter. Try "mynb".',
    ),
    "slash": (
        "a/b",
        False,
        "Server name \"a/b\" contains a '/': use lowercase letters, digits and single hyphens, "
        'starting with a letter. Try "a-b".',
    ),
    "whitespace": (
        "my nb",
        False,
        'Server name "my nb" contains whitespace: use lowercase letters, digits and single '
        'hyphens, starting with a letter. Try "my-nb".',
    ),
    "tab": (
        "my\tnb",
        False,
        'Server name "my\\tnb" contains whitespace: use lowercase letters, digits and single '
        'hyphens, starting with a letter. Try "my-nb".',
    ),
    "non-ascii-lookalike": (
        "nb\uff11",
        False,
        "Server name \"nb\uff11\" contains the non-ASCII character '\uff11' (U+FF11 FULLWIDTH "
        "DIGIT ONE): use lowercase letters, digits and single hyphens, starting with a "
        'letter. Try "nb1".',
    ),
    "cyrillic-a": (
        "\u0430bc",
        False,
        "Server name \"\u0430bc\" contains the non-ASCII character '\u0430' (U+0430 CYRILLIC "
        "SMALL LETTER A): use lowercase letters, digits and single hyphens, starting with a "
        'letter. Try "bc".',
    ),
    "underscore": (
        "my_nb",
        False,
        "Server name \"my_nb\" contains '_': use lowercase letters, digits and single hyphens, "
        'starting with a letter. Try "my-nb".',
    ),
    "starts-with-digit": (
        "1nb",
        False,
        'Server name "1nb" must start with a letter: use lowercase letters, digits and single '
        'hyphens, starting with a letter. Try "nb".',
    ),
    "starts-with-hyphen": (
        "-nb",
        False,
        'Server name "-nb" must start with a letter: use lowercase letters, digits and single '
        'hyphens, starting with a letter. Try "nb".',
    ),
    "double-hyphen": (
        "my--nb",
        False,
        'Server name "my--nb" contains two hyphens in a row: use lowercase letters, digits and '
        'single hyphens, starting with a letter. Try "my-nb".',
    ),
    "ends-with-hyphen": (
        "nb-",
        False,
        'Server name "nb-" must end with a letter or a digit: use lowercase letters, digits and '
        'single hyphens, starting with a letter. Try "nb".',
    ),
    "dot": (
        "nb.1",
        False,
        "Server name \"nb.1\" contains '.': use lowercase letters, digits and single hyphens, "
        'starting with a letter. Try "nb-1".',
    ),
}


@pytest.mark.parametrize(("name", "ok", "message"), NAMES.values(), ids=NAMES.keys())
def test_check_server_name(name: str, ok: bool, message: str) -> None:
    decision = check_server_name(POLICY, name)
    assert decision.allowed is ok
    if not ok:
        assert decision.status == 400
        assert decision.rule == "servers.name"
        assert decision.message == message


def test_server_name_never_echoes_huge_input() -> None:
    decision = check_server_name(POLICY, "x" * 1_000_000)
    assert (decision.allowed, decision.rule, decision.status) == (False, "servers.name", 400)
    assert decision.message == (
        f'Server name "{"x" * 40}..." is too long: 1000000 of at most 20 characters allowed '
        f'for your groups (authenticated). Try "{"x" * 20}".'
    )
    assert len(decision.message) < 300


def test_server_name_not_text() -> None:
    assert check_server_name(POLICY, 5).status == 400
