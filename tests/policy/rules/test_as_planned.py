"""The hub's conditions for acting on a server, as a table: the server seen, the server now."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from hubplugins.policy.decision import Decision
from hubplugins.policy.rules.as_planned import (
    LifecycleRequest,
    ServerNow,
    read_request,
    still_as_planned,
)
from hubplugins.policy.rules.idle import plan_user
from hubplugins.policy.table import PolicyTable

SEEN = datetime(2025, 1, 31, 12, 0, 0, 123456, tzinfo=UTC)
LATER = datetime(2025, 1, 31, 12, 0, 5, tzinfo=UTC)
SEEN_TEXT = "2025-01-31T12:00:00.123456Z"

CASES = {
    # case: (action, seen running, now: (pending, running, activity), rule or None = allowed)
    "stopped-unchanged-deleted": ("delete", False, (None, False, SEEN), None),
    "running-unchanged-deleted": ("delete", True, (None, True, SEEN), None),
    "running-unchanged-stopped": ("stop", True, (None, True, SEEN), None),
    "starting": ("delete", False, ("spawn", False, LATER), "lifecycle.started"),
    "started": ("delete", False, (None, True, LATER), "lifecycle.started"),
    "stopping": ("delete", True, ("stop", True, SEEN), "lifecycle.busy"),
    "renaming": ("delete", False, ("rename", False, SEEN), "lifecycle.busy"),
    "stopped-meanwhile": ("stop", True, (None, False, LATER), "lifecycle.stopped"),
    "used-meanwhile": ("delete", False, (None, False, LATER), "lifecycle.activity"),
    "activity-lost": ("delete", False, (None, False, None), "lifecycle.activity"),
}


@pytest.mark.parametrize("case", list(CASES))
def test_still_as_planned(case: str) -> None:
    action, running, (pending, running_now, activity), rule = CASES[case]
    request = LifecycleRequest(action, SEEN, running)
    decision = still_as_planned(request, "nb", ServerNow(pending, running_now, activity))
    assert decision.allowed is (rule is None), decision
    if rule is not None:
        assert decision.rule == rule and 400 <= decision.status < 500 and decision.message


BODIES = {
    # case: (body, server, accepted)
    "as-listed": ({"action": "delete", "last_activity": SEEN_TEXT, "running": False}, "nb", True),
    "no-activity": ({"action": "stop", "last_activity": None, "running": True}, "", True),
    "not-an-object": ("delete", "nb", False),
    "missing-running": ({"action": "delete", "last_activity": SEEN_TEXT}, "nb", False),
    "extra-field": (
        {"action": "delete", "last_activity": None, "running": False, "x": 1}, "nb", False
    ),
    "bad-time": ({"action": "delete", "last_activity": "soon", "running": False}, "nb", False),
    "time-not-text": ({"action": "delete", "last_activity": 5, "running": False}, "nb", False),
    "delete-default": ({"action": "delete", "last_activity": None, "running": False}, "", False),
    "stop-a-stopped-one": ({"action": "stop", "last_activity": None, "running": False}, "", False),
}  # fmt: skip


@pytest.mark.parametrize("case", list(BODIES))
def test_read_request(case: str) -> None:
    body, server, accepted = BODIES[case]
    request = read_request(body, server)
    if accepted:
        assert isinstance(request, LifecycleRequest)
        if body["last_activity"]:
            assert request.last_activity == SEEN
    else:
        assert isinstance(request, Decision) and request.status == 400 and request.message


def test_plan_carries_the_listed_activity() -> None:
    table = PolicyTable.from_dict({"defaults": {"idle": {"stop_after": "1s"}}})
    user = {"name": "ada", "servers": {"": {"last_activity": SEEN_TEXT, "stopped": False}}}
    (action,) = plan_user(table, user, LATER).actions
    assert action.last_activity == SEEN_TEXT and action.running
