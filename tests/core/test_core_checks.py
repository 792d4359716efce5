"""Every check_* rule, its status and its message."""

from __future__ import annotations

from typing import Any

import pytest

from hubplugins.decisions import Decision, ServerUsage, Usage
from hubplugins.errors import PolicyRefusal
from hubplugins.policy import (
    PolicyTable,
    Request,
    allowed_profiles,
    check_new_named_server,
    check_profile,
    check_rename,
    check_server_name,
    check_start,
    idle_action,
    refuse_manifest,
)

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
    "invalid-name-first": (usage(), "Bad", False, 400, "uppercase"),
}


@pytest.mark.parametrize(
    ("held", "name", "ok", "status", "message"), NEW_NAMED.values(), ids=NEW_NAMED.keys()
)
def test_check_new_named_server(
    held: Usage, name: str, ok: bool, status: int, message: str
) -> None:
    decision = check_new_named_server(POLICY, held, name)
    assert (decision.allowed, decision.status) == (ok, status)
    assert message in decision.message


def test_no_named_servers_at_all() -> None:
    table = PolicyTable.from_dict({"defaults": {"servers": {"max_named": 0}}})
    decision = check_new_named_server(table.resolve([]), usage(), "nb")
    assert decision.status == 403
    assert "Named servers are not available for your groups (defaults)" in decision.message


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


# -- start ----------------------------------------------------------------------------

GB = 10**9

START: dict[str, tuple[Any, ...]] = {
    "defaults": (
        usage(),
        Request(),
        None,
        {"cpu_guarantee": 0.5, "cpu_limit": 1.0, "mem_guarantee": GB, "mem_limit": 2 * GB},
    ),
    "cpu-limit-keeps-default-guarantee": (
        usage(),
        Request(cpu_limit=2.0),
        None,
        {"cpu_guarantee": 0.5, "cpu_limit": 2.0},
    ),
    "small-limit-lowers-guarantee": (
        usage(),
        Request(cpu_limit=0.25, memory_limit=GB // 2),
        None,
        {"cpu_guarantee": 0.25, "mem_guarantee": GB // 2},
    ),
    "guarantee-alone-raises-limit": (
        usage(),
        Request(cpu_guarantee=1.5),
        None,
        {"cpu_guarantee": 1.5, "cpu_limit": 1.5},
    ),
    "base-from-profile": (
        usage(),
        Request(),
        Request(cpu_limit=2.0, memory_limit=3 * GB),
        {"cpu_limit": 2.0, "mem_limit": 3 * GB},
    ),
    "request-beats-base": (
        usage(),
        Request(cpu_limit=1.5),
        Request(cpu_limit=2.0),
        {"cpu_limit": 1.5},
    ),
    "stopped-servers-use-nothing": (
        usage(("a", False, 2.0, 4 * GB, 0), ("b", False, 2.0, 4 * GB, 0)),
        Request(cpu_limit=2.0, memory_limit=4 * GB),
        None,
        {"cpu_limit": 2.0},
    ),
    "quota-exactly-reached-is-ok": (
        usage(("a", True, 1.0, 4 * GB, 0)),
        Request(cpu_limit=2.0, memory_limit=4 * GB),
        None,
        {"cpu_limit": 2.0},
    ),
    "float-sums-do-not-overshoot": (
        usage(("a", True, 0.8, GB, 0), ("b", True, 1.6, GB, 0)),  # 0.8 + 1.6 + 0.6 > 3.0
        Request(cpu_limit=0.6),
        None,
        {"cpu_limit": 0.6},
    ),
}


@pytest.mark.parametrize(("held", "request_", "base", "granted"), START.values(), ids=START.keys())
def test_check_start_grants(
    held: Usage, request_: Request, base: Request | None, granted: dict[str, Any]
) -> None:
    decision = check_start(POLICY, held, request_, base, server_name="nb")
    assert decision.allowed, decision.message
    for key, value in granted.items():
        assert decision.details[key] == value, key
    assert decision.details["gpu_resource"] == "nvidia.com/gpu"


REFUSE_START: dict[str, tuple[Any, ...]] = {
    "cpu-above-cap": (
        POLICY,
        usage(),
        Request(cpu_limit=4.0),
        "resources.cpu.max",
        403,
        'CPU request too large: "nb" asks for 4 cores; the most allowed per server for '
        "your groups (authenticated) is 2 cores. Ask for 2 cores or less.",
    ),
    "memory-above-cap-G-not-Gi": (
        POLICY,
        usage(),
        Request(memory_limit=4 * 2**30),
        "resources.memory.max",
        403,
        "asks for 4Gi; the most allowed per server for your groups (authenticated) is 4G",
    ),
    "gpu-above-cap": (POLICY, usage(), Request(gpu=1), "resources.gpu.max", 403, "0 GPUs"),
    "profile-above-cap": (
        POLICY,
        usage(),
        Request(),
        "resources.cpu.max",
        403,
        "asks for 8 cores",
    ),
    "running-limit": (
        POLICY,
        usage(("", True, 0.1, 1, 0), ("a", True, 0.1, 1, 0), ("b", True, 0.1, 1, 0)),
        Request(),
        "servers.max_running",
        403,
        "Running server limit reached: you have 3 of 3 running servers allowed for your "
        'groups (authenticated). Stop one to start "nb".',
    ),
    "cpu-quota": (
        POLICY,
        usage(("a", True, 2.0, GB, 0)),
        Request(cpu_limit=1.5),
        "quota.cpu",
        403,
        "CPU quota reached: your running servers use 2 cores of 3 cores allowed for your "
        'groups (authenticated), and "nb" needs 1.5 cores. Stop a server or ask for less CPU.',
    ),
    "memory-quota": (
        POLICY,
        usage(("a", True, 0.5, 4 * GB, 0), ("b", True, 0.5, 3 * GB, 0)),
        Request(),
        "quota.memory",
        403,
        "use 7G of 8G",
    ),
    "gpu-quota": (
        GPU,
        usage(("a", True, 0.5, GB, 2)),
        Request(gpu=1),
        "quota.gpu",
        403,
        "use 2 GPUs of 2 GPUs",
    ),
    "guarantee-above-limit": (
        POLICY,
        usage(),
        Request(cpu_guarantee=2.0, cpu_limit=1.0),
        "request.cpu",
        400,
        "CPU guarantee 2 is above the CPU limit 1",
    ),
    "zero-limit": (POLICY, usage(), Request(memory_limit=0), "request.memory", 400, "more than 0"),
}


@pytest.mark.parametrize(
    ("policy", "held", "request_", "rule", "status", "message"),
    REFUSE_START.values(),
    ids=REFUSE_START.keys(),
)
def test_check_start_refuses(
    policy: Any, held: Usage, request_: Request, rule: str, status: int, message: str
) -> None:
    base = (
        Request(cpu_limit=8.0) if rule == "resources.cpu.max" and not request_.cpu_limit else None
    )
    decision = check_start(policy, held, request_, base, server_name="nb")
    assert not decision.allowed
    assert (decision.rule, decision.status) == (rule, status)
    assert message in decision.message
    with pytest.raises(PolicyRefusal) as info:
        decision.enforce()
    assert info.value.status == status and info.value.decision is decision


def test_server_being_started_is_not_counted() -> None:
    held = usage(("nb", True, 2.0, 4 * GB, 0), ("a", True, 1.0, GB, 0))
    assert check_start(POLICY, held, Request(cpu_limit=2.0), server_name="nb").allowed
    assert not check_start(POLICY, held, Request(cpu_limit=2.0)).allowed


def test_default_server_message() -> None:
    decision = check_start(POLICY, usage(), Request(cpu_limit=9.0), server_name="")
    assert "your default server asks for 9 cores" in decision.message


def test_decision_log_line() -> None:
    decision = check_start(POLICY, usage(), Request(cpu_limit=9.0), server_name="nb")
    line = decision.log_line()
    assert line.startswith('policy decision="refused" rule="resources.cpu.max" status=403')
    assert "limit=2.0 usage=9.0" in line
    assert Decision.allow("x").enforce().allowed


# -- manifest ---------------------------------------------------------------------------

GRANT = {"cpu_limit": 1.0, "mem_limit": 2 * GB, "gpu": 0, "gpu_resource": "nvidia.com/gpu"}
MANIFEST = {
    "matching": ({"cpu": "1", "memory": "2G"}, {"cpu": "500m", "memory": "1G"}, None),
    "cpu-lifted": ({"cpu": "2", "memory": "2G"}, {}, 'cpu limit: container "notebook" has 2 cores'),
    "memory-Gi": ({"cpu": "1", "memory": "2Gi"}, {}, "has 2Gi, above the granted limit of 2G"),
    "no-limit": ({"memory": "2G"}, {}, "no cpu limit"),
    "gpu-sneaked-in": (
        {"cpu": "1", "memory": "2G", "nvidia.com/gpu": "1"},
        {},
        'nvidia.com/gpu limit: container "notebook" has 1, above the granted limit of 0',
    ),
    "junk": ({"cpu": "lots", "memory": "2G"}, {}, "is not a quantity"),
}


@pytest.mark.parametrize(("limits", "requests", "problem"), MANIFEST.values(), ids=MANIFEST.keys())
def test_refuse_manifest(
    limits: dict[str, str], requests: dict[str, str], problem: str | None
) -> None:
    if problem is None:
        refuse_manifest(POLICY, GRANT, limits=limits, requests=requests)
        return
    with pytest.raises(PolicyRefusal) as info:
        refuse_manifest(POLICY, GRANT, limits=limits, requests=requests)
    assert problem in info.value.message
    assert info.value.status == 403


# -- profiles ------------------------------------------------------------------------------

PROFILE_LIST = [
    {"slug": "small", "display_name": "Small"},
    {"display_name": "Medium"},
    {"slug": "gpu", "display_name": "GPU"},
]


def test_allowed_profiles_filters_by_slug() -> None:
    assert [p["display_name"] for p in allowed_profiles(POLICY, PROFILE_LIST)] == [
        "Small",
        "Medium",
    ]
    assert len(allowed_profiles(GPU, PROFILE_LIST)) == 3


PROFILES = {
    "allowed": (POLICY, "small", True),
    "not-allowed": (POLICY, "gpu", False),
    "star": (GPU, "anything", True),
}


@pytest.mark.parametrize(("policy", "slug", "ok"), PROFILES.values(), ids=PROFILES.keys())
def test_check_profile(policy: Any, slug: str, ok: bool) -> None:
    decision = check_profile(policy, slug)
    assert decision.allowed is ok
    if not ok:
        assert decision.status == 403
        assert 'Profile "gpu" is not available for your groups (authenticated)' in decision.message
        assert "medium, small" in decision.message


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
