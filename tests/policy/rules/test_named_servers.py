"""check_new_named_server and check_rename: the count and the rename, status and message."""

from __future__ import annotations

import pytest
from harness.rule_tables import POLICY, usage

from hubplugins.policy import (
    PolicyTable,
    check_new_named_server,
    check_rename,
)
from hubplugins.policy.decision import Usage

# -- named server count ----------------------------------------------------------


NEW_NAMED = {
    "room-left": (usage("", "a", "b"), "c", True, 200, ""),
    "stopped-servers-count": (
        usage("", "a", "b", "c", "d", "e"),
        "nb6",
        False,
        403,
        "Server limit reached: you have 5 of 5 named servers allowed for your groups "
        '(authenticated). Delete one to create "nb6".',
    ),
    "default-server-does-not-count": (usage("", "a", "b", "c", "d"), "e", True, 200, ""),
    "existing-name-always-ok": (usage("a", "b", "c", "d", "e"), "a", True, 200, ""),
    "invalid-name-first": (
        usage(),
        "Bad",
        False,
        400,
        'Server name "Bad" contains uppercase letters: use lowercase letters, digits and single '
        'hyphens, starting with a letter. Try "bad".',
    ),
}


@pytest.mark.parametrize(
    ("held", "name", "ok", "status", "message"), NEW_NAMED.values(), ids=NEW_NAMED.keys()
)
def test_check_new_named_server(
    held: Usage, name: str, ok: bool, status: int, message: str
) -> None:
    decision = check_new_named_server(POLICY, held, name)
    assert (decision.allowed, decision.status) == (ok, status)
    assert decision.rule == ("servers.name" if status == 400 else "servers.max_named")
    assert decision.message == message


def test_no_named_servers_at_all() -> None:
    table = PolicyTable.from_dict({"defaults": {"servers": {"max_named": 0}}})
    decision = check_new_named_server(table.resolve([]), usage(), "nb")
    assert (decision.rule, decision.status) == ("servers.max_named", 403)
    assert decision.message == (
        "Named servers are not available for your groups (defaults): the limit is 0. "
        'Use your default server instead of creating "nb".'
    )


def test_unlimited_named_servers() -> None:
    table = PolicyTable.from_dict({"defaults": {"servers": {"max_named": None}}})
    held = usage(*(f"n{i}" for i in range(100)))
    assert check_new_named_server(table.resolve([]), held, "more").allowed


# -- rename -------------------------------------------------------------------------

RENAME = {
    "same-name": ("a", "a", True, 200),
    "to-free-name": ("a", "z", True, 200),
    "to-taken-name": ("a", "b", False, 409),
    "missing-server": ("nope", "z", False, 404),
    "to-invalid-name": ("a", "Z!", False, 400),
    "default-to-named-counts": ("", "z", False, 403),
}


@pytest.mark.parametrize(("old", "new", "ok", "status"), RENAME.values(), ids=RENAME.keys())
def test_check_rename(old: str, new: str, ok: bool, status: int) -> None:
    held = usage("", "a", "b", "c", "d", "e")
    decision = check_rename(POLICY, held, old, new)
    assert (decision.allowed, decision.status) == (ok, status)
