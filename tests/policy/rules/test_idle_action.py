"""idle_action: stop or delete, by the idle rules."""

from __future__ import annotations

import pytest
from harness.rule_tables import POLICY

from hubplugins.policy import (
    PolicyTable,
    idle_action,
)

# -- idle ------------------------------------------------------------------------------------

HOUR, DAY = 3600.0, 86400.0
IDLE = {
    "fresh": (True, 60.0, True, None),
    "stop-running": (True, 2 * HOUR, True, "stop"),
    "stopped-not-stopped-again": (True, 3 * HOUR, False, None),
    "delete-named": (True, 7 * DAY, False, "delete"),
    "delete-running-named": (True, 8 * DAY, True, "delete"),
    "default-never-deleted": (False, 30 * DAY, True, "stop"),
    "default-stopped-left": (False, 30 * DAY, False, None),
}


@pytest.mark.parametrize(("named", "idle", "running", "action"), IDLE.values(), ids=IDLE.keys())
def test_idle_action(named: bool, idle: float, running: bool, action: str | None) -> None:
    assert idle_action(POLICY, named, idle, running) == action


def test_idle_never() -> None:
    policy = PolicyTable.from_dict({"defaults": {"idle": {"stop_after": None}}}).resolve([])
    assert idle_action(policy, True, 365 * DAY, True) is None
