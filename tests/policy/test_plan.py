"""``hubplugins plan``: what a new policy would do to the hub's users, from their models."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from hubplugins.policy.plan import plan_effects
from hubplugins.policy.table import PolicyTable

NOW = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)

CURRENT = PolicyTable.from_dict(
    {
        "defaults": {
            "servers": {"max_named": 3, "max_running": 3},
            "idle": {"stop_after": "2h", "delete_after": None},
            "resources": {"cpu": {"limit": 1, "max": 4}, "memory": {"max": "8G"}},
            "quota": {"cpu": 8, "memory": "16G"},
            "profiles": ["small"],
        },
        "groups": {
            "gpu": {"resources": {"gpu": {"max": 2}}, "quota": {"gpu": 2}, "profiles": ["big"]}
        },
    }
)
NEW = PolicyTable.from_dict(
    {
        "defaults": {
            "servers": {"max_named": 1, "max_running": 1},
            "idle": {"stop_after": "2h", "delete_after": "7d"},
            "resources": {"cpu": {"limit": 1, "max": 2}, "memory": {"max": "4G"}},
            "quota": {"cpu": 2, "memory": "4G"},
            "profiles": ["small"],
        },
        "groups": {"gpu": {"resources": {"gpu": {"max": 1}}, "quota": {"gpu": 1}}},
    }
)


def _time(ago: timedelta) -> str:
    return (NOW - ago).isoformat().replace("+00:00", "Z")


def _server(
    *,
    running: bool = True,
    idle: timedelta = timedelta(minutes=5),
    cpu: float = 1,
    memory: int = 10**9,
    gpu: int = 0,
    profile: str | None = None,
    state: bool = True,
) -> dict[str, Any]:
    model: dict[str, Any] = {
        "stopped": not running,
        "pending": None,
        "ready": running,
        "last_activity": _time(idle),
        "started": _time(idle) if running else None,
        "user_options": {"profile": profile} if profile else {},
    }
    if state:
        grant = {"cpu_limit": cpu, "mem_limit": memory, "gpu": gpu} if running else None
        model["state"] = {"hubplugins": {"grant": grant}} if grant else {}
    return model


def _user(name: str, groups: list[str], **servers: dict[str, Any]) -> dict[str, Any]:
    return {
        "name": name,
        "groups": groups,
        "servers": {k.strip("_"): v for k, v in servers.items()},
    }


# case -> (user model, [(server, kind, rule, fragment)] under NEW, the same compared with CURRENT)
CASES: dict[str, tuple[dict[str, Any], list[tuple[Any, ...]], list[tuple[Any, ...]] | None]] = {
    "untouched": (_user("u", [], _=_server(profile="small")), [], None),
    "retention-deletes": (
        _user("u", [], nb=_server(running=False, idle=timedelta(days=9))),
        [("nb", "delete", "idle.delete_after", 'server "nb" would be deleted: idle 9d')],
        None,
    ),
    "retention-never-deletes-the-default": (
        _user("u", [], _=_server(running=False, idle=timedelta(days=9))),
        [],
        None,
    ),
    "stop-already-today": (
        _user("u", [], _=_server(idle=timedelta(hours=3), profile="small")),
        [("", "stop", "idle.stop_after", "the default server would be stopped: idle 3h")],
        [],
    ),
    "above-new-cap": (
        _user("u", [], _=_server(cpu=3, memory=6 * 10**9, profile="small")),
        [
            ("", "cap", "resources.cpu.max", "runs with 3 CPU, above the new resources.cpu.max 2"),
            ("", "cap", "resources.memory.max", "6G memory, above the new resources.memory.max"),
            (None, "quota", "quota.cpu", "running servers hold 3 CPU, above the new quota.cpu 2"),
            (None, "quota", "quota.memory", "hold 6G memory"),
        ],
        None,
    ),
    "gpus-above-new-cap": (
        _user("g", ["gpu"], _=_server(gpu=2, profile="small")),
        [
            ("", "cap", "resources.gpu.max", "2 GPUs, above the new resources.gpu.max 1 GPU"),
            (None, "quota", "quota.gpu", "for tier gpu"),
        ],
        [
            ("", "cap", "resources.gpu.max", "2 GPUs, above the new resources.gpu.max 1 GPU"),
            (None, "quota", "quota.gpu", "for tier gpu"),
            (None, "profile", "profiles", 'loses profile "big" (may pick: small)'),
        ],
    ),
    "too-many-running-and-named": (
        _user("u", [], a=_server(profile="small"), b=_server(profile="small")),
        [
            (None, "max_running", "servers.max_running", "runs 2 servers"),
            (None, "max_named", "servers.max_named", "holds 2 named servers"),
        ],
        None,
    ),
    "profile-gone": (
        _user("g", ["gpu"], _=_server(profile="big")),
        [("", "profile", "profiles", 'uses profile "big", which tier gpu may no longer pick')],
        [
            ("", "profile", "profiles", 'uses profile "big"'),
            (None, "profile", "profiles", 'loses profile "big"'),
        ],
    ),
    "profile-never-allowed": (
        _user("u", [], _=_server(profile="big")),
        [("", "profile", "profiles", 'uses profile "big"')],
        [],
    ),
    "resources-not-shown": (
        _user("u", [], _=_server(cpu=8, state=False, profile="small")),
        [],
        None,
    ),
}


@pytest.mark.parametrize(("user", "new", "changes"), CASES.values(), ids=CASES.keys())
def test_plan(
    user: dict[str, Any], new: list[tuple[Any, ...]], changes: list[tuple[Any, ...]] | None
) -> None:
    for current, expected in ((None, new), (CURRENT, new if changes is None else changes)):
        effects = plan_effects(NEW, [user], NOW, current=current)
        got = [(e.server, e.kind, e.rule) for e in effects]
        assert got == [tuple(x[:3]) for x in expected], [e.message for e in effects]
        for effect, (*_, fragment) in zip(effects, expected, strict=True):
            assert fragment in effect.message
            assert effect.user == user["name"]
