"""plan_notices, read_notice and notice_allowed: which servers are told, and when not."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from hubplugins.policy.rules.as_planned import ServerNow
from hubplugins.policy.rules.notices import notice_allowed, plan_notices, read_notice
from hubplugins.policy.table import PolicyTable

NOW = datetime(2026, 3, 10, 12, 0, tzinfo=UTC)
TABLE = PolicyTable.from_dict(
    {
        "defaults": {"idle": {"stop_after": "2h", "delete_after": "7d", "delete_notice": "1d"}},
        "groups": {"keepers": {"idle": {"delete_after": None}}},
    }
)


def _at(days_idle: float) -> str:
    return (NOW - timedelta(days=days_idle)).isoformat().replace("+00:00", "Z")


def _user(groups=(), **servers) -> dict:
    return {"name": "ann", "groups": list(groups), "servers": servers}


# (case, user model) -> the servers told, with when retention deletes them
CASES = {
    "in-the-notice-window": (
        _user(nb={"last_activity": _at(6.5), "stopped": True}),
        [("nb", NOW + timedelta(days=0.5))],
    ),
    "before-the-window": (_user(nb={"last_activity": _at(5.9), "stopped": True}), []),
    "deleted-in-this-sweep": (_user(nb={"last_activity": _at(7.1), "stopped": True}), []),
    "the-default-server": (_user(**{"": {"last_activity": _at(6.5), "stopped": True}}), []),
    "pending": (_user(nb={"last_activity": _at(6.5), "pending": "stop"}), []),
    "no-activity-since-start": (
        _user(nb={"last_activity": None, "started": _at(6.2)}),
        [("nb", NOW + timedelta(days=0.8))],
    ),
    "never-seen": (_user(nb={"last_activity": None}), []),
    "a-tier-without-retention": (
        _user(["keepers"], nb={"last_activity": _at(6.5), "stopped": True}),
        [],
    ),
}


@pytest.mark.parametrize(("user", "told"), CASES.values(), ids=CASES)
def test_plan_notices(user, told):
    notices = plan_notices(TABLE, user, NOW)
    assert [(n.server, n.delete_at) for n in notices] == told
    for notice in notices:
        assert (notice.rule, notice.group, notice.notice_seconds) == (
            "idle.delete_after",
            "defaults",
            86400.0,
        )


EXAMPLE = '{"last_activity": "2025-01-31T12:00:00.000000Z", "delete_at": "2025-02-07T12:00Z"}'
BODIES = {
    "not-an-object": (["x"], f"The body must be a JSON object like {EXAMPLE}."),
    "a-key-missing": ({"delete_at": "2026-03-11T00:00Z"}, f"The body must be a JSON object "
                      f"like {EXAMPLE}."),
    "not-a-time": (
        {"last_activity": None, "delete_at": "soon"},
        f"last_activity and delete_at must be ISO 8601 times: {EXAMPLE}.",
    ),
}  # fmt: skip


@pytest.mark.parametrize(("body", "message"), BODIES.values(), ids=BODIES)
def test_read_notice_refuses(body, message):
    decision = read_notice(body)
    assert (decision.allowed, decision.rule, decision.status, decision.message) == (
        False,
        "lifecycle.request",
        400,
        message,
    )


def test_read_notice_reads_the_times():
    seen, delete_at = read_notice({"last_activity": None, "delete_at": "2026-03-11T00:00:00Z"})
    assert (seen, delete_at) == (None, "2026-03-11T00:00:00Z")


SEEN = NOW - timedelta(days=6.5)
ALLOWED = {
    "as-listed": (ServerNow(None, False, SEEN), False, None),
    "kept": (
        ServerNow(None, False, SEEN),
        True,
        ("lifecycle.kept", "No notice: nb is kept by its owner."),
    ),
    "pending": (
        ServerNow("spawn", False, SEEN),
        False,
        ("lifecycle.busy", "No notice: nb is pending spawn."),
    ),
    "used-since": (
        ServerNow(None, True, NOW),
        False,
        ("lifecycle.activity", "No notice: nb has had activity since it was listed."),
    ),
}


@pytest.mark.parametrize(("now", "kept", "refused"), ALLOWED.values(), ids=ALLOWED)
def test_notice_allowed(now, kept, refused):
    decision = notice_allowed(SEEN, "nb", now, kept)
    if refused is None:
        assert decision.allowed
    else:
        assert (decision.allowed, decision.rule, decision.message) == (False, *refused)
