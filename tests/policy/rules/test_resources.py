"""check_start: what a start is granted, and each refusal with its message."""

from __future__ import annotations

from typing import Any

import pytest
from harness.rule_tables import GPU, POLICY, usage

from hubplugins.policy import (
    Request,
    check_start,
)
from hubplugins.policy.decision import Usage
from hubplugins.policy.errors import PolicyRefusal
from hubplugins.policy.grant import Grant

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
    grant = decision.details["grant"]
    assert isinstance(grant, Grant)
    for key, value in granted.items():
        assert getattr(grant, key) == value, key
    assert grant.gpu_resource == "nvidia.com/gpu"


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
        'memory request too large: "nb" asks for 4Gi; the most allowed per server for your '
        "groups (authenticated) is 4G. Ask for 4G or less.",
    ),
    "gpu-above-cap": (
        POLICY,
        usage(),
        Request(gpu=1),
        "resources.gpu.max",
        403,
        'GPU request too large: "nb" asks for 1 GPU; the most allowed per server for your groups '
        "(authenticated) is 0 GPUs. Ask for 0 GPUs or less.",
    ),
    "profile-above-cap": (
        POLICY,
        usage(),
        Request(),
        "resources.cpu.max",
        403,
        'CPU request too large: "nb" asks for 8 cores; the most allowed per server for your '
        "groups (authenticated) is 2 cores. Ask for 2 cores or less.",
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
        "memory quota reached: your running servers use 7G of 8G allowed for your groups "
        '(authenticated), and "nb" needs 2G. Stop a server or ask for less memory.',
    ),
    "gpu-quota": (
        GPU,
        usage(("a", True, 0.5, GB, 2)),
        Request(gpu=1),
        "quota.gpu",
        403,
        "GPU quota reached: your running servers use 2 GPUs of 2 GPUs allowed for your groups "
        '(gpu-beta), and "nb" needs 1 GPU. Stop a server or ask for fewer GPUs.',
    ),
    "guarantee-above-limit": (
        POLICY,
        usage(),
        Request(cpu_guarantee=2.0, cpu_limit=1.0),
        "request.cpu",
        400,
        "Invalid request: CPU guarantee 2 is above the CPU limit 1; ask for a guarantee no "
        "larger than the limit.",
    ),
    "zero-limit": (
        POLICY,
        usage(),
        Request(memory_limit=0),
        "request.memory",
        400,
        "Invalid request: the memory limit must be more than 0.",
    ),
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
    assert decision.message == message
    with pytest.raises(PolicyRefusal) as info:
        decision.enforce()
    assert info.value.status == status and info.value.decision is decision


def test_server_being_started_is_not_counted() -> None:
    held = usage(("nb", True, 2.0, 4 * GB, 0), ("a", True, 1.0, GB, 0))
    assert check_start(POLICY, held, Request(cpu_limit=2.0), server_name="nb").allowed
    assert not check_start(POLICY, held, Request(cpu_limit=2.0)).allowed


def test_default_server_message() -> None:
    decision = check_start(POLICY, usage(), Request(cpu_limit=9.0), server_name="")
    assert (decision.rule, decision.status) == ("resources.cpu.max", 403)
    assert decision.message == (
        "CPU request too large: your default server asks for 9 cores; the most allowed per "
        "server for your groups (authenticated) is 2 cores. Ask for 2 cores or less."
    )
