"""Resources for starting a server: the grant, per-server caps, running count, quotas.

Where each value comes from, first found wins:

1. the user's :class:`~hubplugins.policy.rules.resources_text.Request` (``user_options``);
2. ``base``: what a profile or the spawner's own config already set (also a
   Request, so it is capped like anything a user asks for);
3. the policy's defaults (``resources.cpu.limit`` etc.).

A limit given without a guarantee keeps the default guarantee, lowered to the
limit if needed; a guarantee given without a limit above the default limit
raises the limit to it (Kubernetes needs guarantee <= limit). Both given with
the guarantee above the limit is invalid (400).

Quotas count *limits*: each running server counts with its CPU and memory
limits and GPUs, and the new server with the limits it would be granted. A
limit is what a server may actually hold, so the quota bounds what a user can
consume. Anything above a cap or quota is refused (403), never lowered.

What is granted is a :class:`~hubplugins.policy.grant.Grant` in
``decision.details["grant"]``: ``cpu_guarantee``, ``cpu_limit`` (cores),
``mem_guarantee``, ``mem_limit`` (bytes), ``gpu`` (count) and ``gpu_resource``,
KubeSpawner's trait names.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from hubplugins.policy.decision import Decision, Usage
from hubplugins.policy.grant import Grant
from hubplugins.policy.model import Policy
from hubplugins.policy.quantities import format_cpu, format_memory
from hubplugins.policy.rules.resources_text import Request
from hubplugins.policy.text import echo

__all__ = ["check_start", "grant"]

_LABEL = {"cpu": "CPU", "memory": "memory", "gpu": "GPU"}
_FEWER = {"cpu": "less CPU", "memory": "less memory", "gpu": "fewer GPUs"}
_KINDS = ("cpu", "memory", "gpu")


def _amount(kind: str, value: Any) -> str:
    if kind == "cpu":
        cores = format_cpu(value)
        return f"{cores} core" if cores == "1" else f"{cores} cores"
    if kind == "memory":
        return format_memory(int(value))
    return f"{value} GPU" if value == 1 else f"{value} GPUs"


def _server(name: str | None) -> str:
    if name is None:
        return "this server"
    return echo(name) if name else "your default server"


def _pair(
    kind: str,
    asked: tuple[Any, Any],
    base: tuple[Any, Any],
    default: tuple[Any, Any],
) -> tuple[Any, Any] | Decision:
    """(guarantee, limit) of one resource, or a 400 decision."""
    asked_guarantee, asked_limit = asked
    if asked_limit is not None:
        limit = asked_limit
    elif base[1] is not None:
        limit = base[1]
    else:
        limit = default[1]
    if asked_limit is None and asked_guarantee is not None and asked_guarantee > limit:
        limit = asked_guarantee
    guarantee = asked_guarantee if asked_guarantee is not None else base[0]
    if guarantee is None:
        guarantee = min(default[0], limit)
    elif guarantee > limit:
        if asked_guarantee is None:
            guarantee = limit  # a profile's guarantee above the user's own limit
        else:
            fmt: Callable[[Any], str] = format_cpu if kind == "cpu" else format_memory
            return Decision.refuse(
                f"request.{kind}",
                f"Invalid request: {_LABEL[kind]} guarantee {fmt(guarantee)} is above the "
                f"{_LABEL[kind]} limit {fmt(limit)}; ask for a guarantee no larger than the limit.",
                status=400,
            )
    if not limit > 0:
        return Decision.refuse(
            f"request.{kind}",
            f"Invalid request: the {_LABEL[kind]} limit must be more than 0.",
            status=400,
        )
    return guarantee, limit


_NO_REQUEST = Request()


def grant(policy: Policy, request: Request, base: Request | None = None) -> Decision:
    """The resources a start gets before caps and quotas (a 400 decision if inconsistent)."""
    base = base or _NO_REQUEST
    res = policy.resources
    cpu = _pair(
        "cpu",
        (request.cpu_guarantee, request.cpu_limit),
        (base.cpu_guarantee, base.cpu_limit),
        (res.cpu.guarantee, res.cpu.limit),
    )
    if isinstance(cpu, Decision):
        return cpu
    memory = _pair(
        "memory",
        (request.memory_guarantee, request.memory_limit),
        (base.memory_guarantee, base.memory_limit),
        (res.memory.guarantee, res.memory.limit),
    )
    if isinstance(memory, Decision):
        return memory
    kind = request.gpu_kind or res.gpu.resource
    if res.gpu_max(kind) is None:
        offered = ", ".join(res.gpu_resources)
        return Decision.refuse(
            "resources.gpu_kinds",
            f"GPU kind {echo(kind, 80)} is not offered to your groups; the kinds are "
            f"{offered}. Ask for one of them.",
            limit=offered,
            usage=kind,
        )
    if kind == res.gpu.resource:
        gpu = request.gpu if request.gpu is not None else base.gpu
        gpu = gpu if gpu is not None else res.gpu.default
    else:  # another kind: the profile's count is of the tier's own kind
        gpu = request.gpu if request.gpu is not None else 1
    granted = Grant(cpu[0], cpu[1], memory[0], memory[1], gpu, kind)
    return Decision.allow("request", grant=granted)


def check_start(
    policy: Policy,
    usage: Usage,
    request: Request,
    base: Request | None = None,
    *,
    server_name: str | None = None,
) -> Decision:
    """May a server start with ``request``? What it is granted in ``decision.details["grant"]``.

    ``usage`` holds the user's servers; the one called ``server_name`` (if
    given) is left out of the counts, so callers may pass all of them.
    """
    granted = grant(policy, request, base)
    if not granted.allowed:
        return granted
    g: Grant = granted.details["grant"]
    res = policy.resources
    main, gpu_kind = res.gpu.resource, g.gpu_resource
    label = dict(_LABEL)
    rules = {k: f"resources.{k}.max" for k in _KINDS}
    quota_rules = {k: f"quota.{k}" for k in _KINDS}
    if gpu_kind != main:
        label["gpu"] = f"GPU ({gpu_kind})"
        rules["gpu"] = f"resources.gpu_kinds.{gpu_kind}"
        quota_rules["gpu"] = f"quota.gpu_kinds.{gpu_kind}"
    asked = (g.cpu_limit, g.mem_limit, g.gpu)
    asked_units = (round(asked[0] * 1000), asked[1], asked[2])
    caps = (res.cpu.max, res.memory.max, res.gpu_max(gpu_kind) or 0)
    cap_units = (round(caps[0] * 1000), caps[1], caps[2])
    for i, kind in enumerate(_KINDS):
        if asked_units[i] > cap_units[i]:
            return Decision.refuse(
                rules[kind],
                f"{label[kind]} request too large: {_server(server_name)} asks for "
                f"{_amount(kind, asked[i])}; the most allowed per server for your groups "
                f"({policy.tier}) is {_amount(kind, caps[i])}. Ask for "
                f"{_amount(kind, caps[i])} or less.",
                limit=caps[i],
                usage=asked[i],
            )
    running = cpu_used = memory_used = gpu_used = 0
    for server in usage.servers:
        if server.running and server.name != server_name:
            running += 1
            cpu_used += round(server.cpu * 1000)
            memory_used += server.memory
            gpu_used += server.gpus_of(gpu_kind, main)
    max_running = policy.servers.max_running
    if max_running is not None and running + 1 > max_running:
        return Decision.refuse(
            "servers.max_running",
            f"Running server limit reached: you have {running} of {max_running} running "
            f"server{'s' if max_running != 1 else ''} allowed for your groups ({policy.tier}). "
            f"Stop one to start {_server(server_name)}.",
            limit=max_running,
            usage=running,
        )
    quota = policy.quota
    used_units = (cpu_used, memory_used, gpu_used)
    limits = (quota.cpu, quota.memory, quota.gpu_for(gpu_kind, main))
    for i, kind in enumerate(_KINDS):
        limit = limits[i]
        if limit is None:
            continue
        limit_units = round(limit * 1000) if i == 0 else limit
        if used_units[i] + asked_units[i] > limit_units:
            used = cpu_used / 1000 if i == 0 else used_units[i]
            return Decision.refuse(
                quota_rules[kind],
                f"{label[kind]} quota reached: your running servers use "
                f"{_amount(kind, used)} of {_amount(kind, limit)} allowed for your "
                f"groups ({policy.tier}), and {_server(server_name)} needs "
                f"{_amount(kind, asked[i])}. Stop a server or ask for {_FEWER[kind]}.",
                limit=limit,
                usage=used,
            )
    return granted
