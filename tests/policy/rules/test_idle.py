"""The pure planning of one user: which server is stopped, deleted or left alone."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from hubplugins.policy import PolicyTable
from hubplugins.policy.rules.idle import needs_stopped_servers, plan_user

NOW = datetime(2026, 1, 1, 12, 0, tzinfo=UTC)

TABLE = PolicyTable.from_dict(
    {
        "defaults": {"idle": {"stop_after": "60s", "delete_after": "300s"}},
        "groups": {"slow": {"idle": {"stop_after": "1h", "delete_after": None}}},
    }
)


def server(idle: float | None, *, stopped: bool = False, pending: str | None = None) -> dict:
    when = None if idle is None else (NOW - timedelta(seconds=idle)).isoformat()
    return {
        "last_activity": when,
        "started": None if stopped else when,
        "pending": pending,
        "ready": not stopped and not pending,
        "stopped": stopped,
    }


CASES = {
    # case: (groups, server name, server model, expected (action, rule) or skip reason or None)
    "fresh-running-left": ([], "nb", server(10), None),
    "idle-running-stopped": ([], "nb", server(61), ("stop", "idle.stop_after")),
    "idle-default-stopped": ([], "", server(61), ("stop", "idle.stop_after")),
    "long-idle-named-deleted": ([], "nb", server(301), ("delete", "idle.delete_after")),
    "long-idle-default-only-stopped": ([], "", server(3000), ("stop", "idle.stop_after")),
    "stopped-named-past-retention-deleted": (
        [],
        "nb",
        server(301, stopped=True),
        ("delete", "idle.delete_after"),
    ),
    "stopped-named-within-retention-left": ([], "nb", server(200, stopped=True), None),
    "stopped-default-never-deleted": ([], "", server(10**6, stopped=True), None),
    "slow-group-not-yet": (["slow"], "nb", server(600), None),
    "slow-group-stopped-after-hour": (["slow"], "nb", server(3601), ("stop", "idle.stop_after")),
    "slow-group-never-deleted": (["slow"], "nb", server(10**6, stopped=True), None),
    "unknown-group-gets-defaults": (["other"], "nb", server(61), ("stop", "idle.stop_after")),
    "pending-left-alone": ([], "nb", server(10**6, pending="spawn"), "pending"),
    "stopping-left-alone": ([], "nb", server(10**6, pending="stop"), "pending"),
    "no-timestamps-left-alone": ([], "nb", server(None), "no_activity"),
}


@pytest.mark.parametrize("case", list(CASES))
def test_plan_user(case: str) -> None:
    groups, name, model, expected = CASES[case]
    plan = plan_user(TABLE, {"name": "u", "groups": groups, "servers": {name: model}}, NOW)
    if expected is None:
        assert plan.actions == () and plan.skipped == ()
    elif isinstance(expected, str):
        assert plan.actions == ()
        assert [(s.server, s.reason) for s in plan.skipped] == [(name, expected)]
    else:
        assert [(a.server, a.action, a.rule) for a in plan.actions] == [(name, *expected)]
        action = plan.actions[0]
        assert action.limit == (
            300 if expected[0] == "delete" else (3600 if groups == ["slow"] else 60)
        )
        assert action.idle_seconds > action.limit


def test_started_stands_in_for_missing_activity() -> None:
    model = server(None)
    model["started"] = (NOW - timedelta(seconds=90)).isoformat()
    plan = plan_user(TABLE, {"name": "u", "groups": [], "servers": {"nb": model}}, NOW)
    assert [a.action for a in plan.actions] == ["stop"]


RETENTION = {
    "defaults-delete": ({"defaults": {"idle": {"delete_after": "7d"}}}, True),
    "builtin-never-deletes": ({}, False),
    "group-cannot-shorten-null": ({"groups": {"g": {"idle": {"delete_after": "1d"}}}}, False),
}


@pytest.mark.parametrize("case", list(RETENTION))
def test_needs_stopped_servers(case: str) -> None:
    raw, expected = RETENTION[case]
    assert needs_stopped_servers(PolicyTable.from_dict(raw)) is expected
