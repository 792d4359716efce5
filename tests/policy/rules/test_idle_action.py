"""idle_action: stop or delete, by the idle rules."""

from __future__ import annotations

import pytest

from hubplugins.policy import (
    PolicyTable,
    idle_action,
)
from hubplugins.policy.decision import ServerUsage, Usage

TABLE = PolicyTable.from_dict(
    {
        "defaults": {
            "servers": {"max_named": 5, "max_running": 3, "name_max_length": 20},
            "idle": {"stop_after": "2h", "delete_after": "7d"},
            "resources": {
                "cpu": {"guarantee": 0.5, "limit": 1, "max": 2},
                "memory": {"guarantee": "1G", "limit": "2G", "max": "4G"},
                "gpu": {"default": 0, "max": 0},
            },
            "quota": {"cpu": 3, "memory": "8G", "gpu": 0},
            "profiles": ["small", "medium"],
        },
        "groups": {
            "authenticated": {},
            "gpu-beta": {"resources": {"gpu": {"max": 2}}, "quota": {"gpu": 2}, "profiles": ["*"]},
            "none-named": {},
        },
    }
)
POLICY = TABLE.resolve(["authenticated"])
GPU = TABLE.resolve(["gpu-beta"])


def usage(*servers: tuple[str, bool, float, int, int] | str) -> Usage:
    items = []
    for s in servers:
        if isinstance(s, str):
            items.append(ServerUsage(s))
        else:
            items.append(ServerUsage(*s))
    return Usage.of(items)


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
