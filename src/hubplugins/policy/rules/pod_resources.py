"""What a pod holds, counted the way Kubernetes counts it, against what was granted.

:func:`check_pod` is the last word on a start: whatever ran after the policy's
decision (a profile's ``kubespawner_override``, ``extra_containers``,
``init_containers``, ``extra_pod_config``, ``modify_pod_hook``) must not give
the pod more than the grant. The pod's *effective* requests and limits are
computed as the scheduler and the kubelet do (:func:`effective_resources`):

- app containers (``spec.containers``) add up;
- init containers run one at a time before them: the pod needs the largest of
  them, so the effective value is the larger of the app sum and each init
  container's (plus the sidecars started before it);
- sidecars (init containers with ``restartPolicy: Always``) run beside the app
  containers for the pod's whole life and add to the sum;
- pod-level resources (``spec.resources``, CPU and memory) bound the whole
  pod where they are set and then stand for it;
- a container's missing request defaults to its limit, as Kubernetes does.

Rules, per resource:

- ``cpu``, ``memory``: effective limits at most the granted limits, effective
  requests at most the granted guarantees (the granted limit where the
  guarantee is 0, since Kubernetes then sets the request to the limit). Every
  app container and sidecar must have a CPU and a memory limit unless the pod
  sets one at pod level; an init container that runs to completion may leave
  them out (the chart's ``block-cloud-metadata`` container has none).
- extended resources (``nvidia.com/gpu``, ``amd.com/gpu``, any
  ``domain/name``) and ``hugepages-*``: at most what the grant names (the
  policy's GPU resource and count); any other is refused at any amount above
  0. Hugepages are memory taken from the node outside the memory limit, so
  they are not handed out unless granted.
- ``ephemeral-storage`` is not counted: the policy grants no local disk, and
  admins set it to protect nodes, which only ever bounds a pod.
- ``spec.overhead`` (set by a RuntimeClass for the sandbox runtime, not usable
  by the server) is not counted.

Quantities are read in every notation Kubernetes accepts (``1``, ``0.5``,
``500m``, ``250000u``, ``1e3``, ``2Gi``, ``2G``, ``1.5Ki``), exactly, with no
float rounding; anything else is refused.

Pods may be plain dicts in the API's camelCase shape or Kubernetes client
objects (anything with an ``attribute_map``, as ``kubernetes_asyncio`` models
have); both are read as the JSON the API server would receive.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from decimal import Decimal, localcontext
from typing import Any

from hubplugins.policy.decision import Decision
from hubplugins.policy.errors import QuantityError
from hubplugins.policy.grant import Grant
from hubplugins.policy.model import Policy
from hubplugins.policy.quantities import format_cpu, format_memory, millicores
from hubplugins.policy.text import echo

__all__ = ["PodResources", "check_pod", "effective_resources", "parse_quantity", "plain"]

UNCOUNTED = frozenset({"ephemeral-storage"})
"""Resources a pod may hold at any amount (see the module's rules)."""

BOUNDED = ("cpu", "memory")
"""Resources every long-running container must limit (or the pod, at pod level)."""

MAX_TEXT = 64
_BINARY = ("Ki", "Mi", "Gi", "Ti", "Pi", "Ei")
_ZERO = Decimal(0)
_SUFFIXES = {
    "": Decimal(1),
    "n": Decimal("1e-9"),
    "u": Decimal("1e-6"),
    "m": Decimal("1e-3"),
    "k": Decimal("1e3"),
    "M": Decimal("1e6"),
    "G": Decimal("1e9"),
    "T": Decimal("1e12"),
    "P": Decimal("1e15"),
    "E": Decimal("1e18"),
    **{
        unit: Decimal(2 ** (10 * i))
        for i, unit in enumerate(("Ki", "Mi", "Gi", "Ti", "Pi", "Ei"), 1)
    },
}
_QUANTITY_RE = re.compile(
    r"\+?(?P<num>[0-9]+(?:\.[0-9]*)?|\.[0-9]+)"
    r"(?:(?P<unit>Ki|Mi|Gi|Ti|Pi|Ei|[numkMGTPE])|[eE](?P<exp>[-+]?[0-9]{1,2}))?"
)
_MAX_PROBLEMS = 3


def parse_quantity(value: object) -> Decimal:
    """A Kubernetes quantity as an exact Decimal: ``"500m"`` -> ``0.5``, ``"2Ki"`` -> ``2048``.

    Numbers (not booleans) are taken as they are; negative, infinite and NaN
    values, and text longer than 64 characters, raise :class:`QuantityError`.
    """
    if isinstance(value, bool) or not isinstance(value, int | float | str | Decimal):
        raise QuantityError(f"{echo(repr(value))} is not a quantity")
    if isinstance(value, str):
        match = _QUANTITY_RE.fullmatch(value) if len(value) <= MAX_TEXT else None
        if match is None:
            raise QuantityError(f"{echo(value)} is not a quantity (examples: 500m, 2, 2Gi, 2G)")
        with localcontext() as exact:
            exact.prec = 200  # enough for every digit of 64 characters times a suffix
            number = Decimal(match["num"])
            if match["exp"] is not None:
                number = number.scaleb(int(match["exp"]))
            else:
                number *= _SUFFIXES[match["unit"] or ""]
    else:
        number = Decimal(repr(value)) if isinstance(value, float) else Decimal(value)
    if not number.is_finite() or number < 0:
        raise QuantityError(f"{echo(str(value))} is not a quantity: it must be 0 or more")
    return number


def plain(obj: Any) -> Any:
    """``obj`` as the JSON the API server would receive (client objects by ``attribute_map``)."""
    if obj is None or isinstance(obj, str | int | float | bool | Decimal):
        return obj
    if isinstance(obj, Mapping):
        return {str(k): plain(v) for k, v in obj.items()}
    if isinstance(obj, list | tuple):
        return [plain(v) for v in obj]
    attribute_map = getattr(type(obj), "attribute_map", None)
    if isinstance(attribute_map, Mapping):
        values = ((key, getattr(obj, attr, None)) for attr, key in attribute_map.items())
        return {key: plain(value) for key, value in values if value is not None}
    return obj


# -- effective resources ---------------------------------------------------------


@dataclass(frozen=True)
class Share:
    """One part of an effective amount: a container (or the pod level) and what it holds."""

    where: str
    amount: Decimal


@dataclass
class Effective:
    """An effective amount and the shares that make it up."""

    amount: Decimal = Decimal(0)
    shares: tuple[Share, ...] = ()


@dataclass
class PodResources:
    """A pod's effective requests and limits, and what could not be read."""

    requests: dict[str, Effective] = field(default_factory=dict)
    limits: dict[str, Effective] = field(default_factory=dict)
    missing: list[tuple[str, str]] = field(default_factory=list)
    """``(where, resource)``: a long-running container without a CPU or memory limit."""
    unreadable: list[str] = field(default_factory=list)

    def request(self, name: str) -> Decimal:
        return self.requests.get(name, Effective()).amount

    def limit(self, name: str) -> Decimal:
        return self.limits.get(name, Effective()).amount


@dataclass
class _Container:
    where: str
    sidecar: bool
    init: bool
    requests: dict[str, Decimal]
    limits: dict[str, Decimal]


def _amounts(where: str, what: str, values: Any, unreadable: list[str]) -> dict[str, Decimal]:
    if values is None:
        return {}
    if not isinstance(values, Mapping):
        unreadable.append(f"{where}: {what}s {echo(repr(values))} are not a mapping")
        return {}
    amounts = {}
    for name, value in values.items():
        try:
            amounts[str(name)] = parse_quantity(value)
        except QuantityError:
            unreadable.append(
                f"{where}: {echo(str(name))} {what} {echo(str(value))} is not a quantity"
            )
    return amounts


def _containers(spec: Mapping[str, Any], unreadable: list[str]) -> list[_Container]:
    found = []
    for group, init in (("containers", False), ("initContainers", True)):
        entries = spec.get(group) or []
        if not isinstance(entries, list):
            unreadable.append(f"spec.{group} is not a list")
            continue
        for i, ctr in enumerate(entries):
            ctr = ctr if isinstance(ctr, Mapping) else {}
            name = ctr.get("name")
            label = "init container" if init else "container"
            where = f"{label} {echo(str(name))}" if name else f"{label} {i + 1}"
            sidecar = init and ctr.get("restartPolicy") == "Always"
            if sidecar:
                where = f"sidecar {echo(str(name))}" if name else f"sidecar {i + 1}"
            res = ctr.get("resources") or {}
            res = res if isinstance(res, Mapping) else {}
            limits = _amounts(where, "limit", res.get("limits"), unreadable)
            requests = _amounts(where, "request", res.get("requests"), unreadable)
            # Kubernetes: a request left out is the limit
            requests = {**limits, **requests}
            found.append(_Container(where, sidecar, init, requests, limits))
    return found


def _aggregate(containers: list[_Container], name: str, section: str) -> Effective:
    """Kubernetes' sum of app containers and sidecars, maxed with each init container's peak."""
    total, shares = Decimal(0), []
    sidecars, sidecar_shares = Decimal(0), []
    peak, peak_shares = Decimal(0), []
    for ctr in containers:
        amount = (ctr.limits if section == "limits" else ctr.requests).get(name, _ZERO)
        share = [Share(ctr.where, amount)] if amount else []
        if not ctr.init:
            total += amount
            shares += share
            continue
        if ctr.sidecar:
            total += amount
            shares += share
            sidecars += amount
            sidecar_shares += share
            candidate, candidate_shares = sidecars, list(sidecar_shares)
        else:
            candidate, candidate_shares = amount + sidecars, [*sidecar_shares, *share]
        if candidate > peak:
            peak, peak_shares = candidate, candidate_shares
    if peak > total:
        return Effective(peak, tuple(peak_shares))
    return Effective(total, tuple(shares))


def effective_resources(pod: Any) -> PodResources:
    """The pod's effective requests and limits, per resource name."""
    result = PodResources()
    body = plain(pod)
    spec = body.get("spec") if isinstance(body, Mapping) else None
    if not isinstance(spec, Mapping):
        result.unreadable.append("the pod has no spec")
        return result
    containers = _containers(spec, result.unreadable)
    pod_res = spec.get("resources") or {}
    pod_res = pod_res if isinstance(pod_res, Mapping) else {}
    pod_limits = _amounts("the pod", "limit", pod_res.get("limits"), result.unreadable)
    pod_requests = _amounts("the pod", "request", pod_res.get("requests"), result.unreadable)
    names = set(pod_limits) | set(pod_requests)
    for ctr in containers:
        names |= set(ctr.limits) | set(ctr.requests)
    for name in sorted(names, key=lambda n: (n not in BOUNDED, n)):
        limit = _aggregate(containers, name, "limits")
        request = _aggregate(containers, name, "requests")
        if name in pod_limits:
            limit = Effective(pod_limits[name], (Share("the pod-level limit", pod_limits[name]),))
        if name in pod_requests:
            amount = pod_requests[name]
            request = Effective(amount, (Share("the pod-level request", amount),))
        elif name in pod_limits and not request.amount:
            # the pod-level limit stands for the request nobody set
            request = Effective(pod_limits[name], (Share("the pod-level limit", pod_limits[name]),))
        if limit.amount:
            result.limits[name] = limit
        if request.amount:
            result.requests[name] = request
    for name in BOUNDED:
        if name in pod_limits:
            continue
        for ctr in containers:
            if (not ctr.init or ctr.sidecar) and name not in ctr.limits:
                result.missing.append((ctr.where, name))
    return result


# -- the check -------------------------------------------------------------------


def as_grant(grant: Grant | Mapping[str, Any], policy: Policy) -> Grant:
    """``grant`` as a :class:`Grant`; plain data without a GPU resource names the tier's."""
    if isinstance(grant, Grant):
        return grant
    resource = grant.get("gpu_resource") or policy.resources.gpu.resource
    return Grant.of({**grant, "gpu_resource": resource})


def _caps(grant: Grant) -> tuple[dict[str, Decimal], dict[str, Decimal]]:
    """(request caps, limit caps) per resource name, from the grant."""
    cpu_limit = Decimal(millicores(grant.cpu_limit)) / 1000
    cpu_guarantee = Decimal(millicores(grant.cpu_guarantee)) / 1000
    mem_limit = Decimal(grant.mem_limit)
    mem_guarantee = Decimal(grant.mem_guarantee)
    resource = grant.gpu_resource
    gpus = Decimal(grant.gpu)
    limits = {"cpu": cpu_limit, "memory": mem_limit, resource: gpus}
    requests = {
        "cpu": cpu_guarantee or cpu_limit,
        "memory": mem_guarantee or mem_limit,
        resource: gpus,
    }
    return requests, limits


def _kind(name: str, gpu_resource: str) -> str:
    if name in BOUNDED:
        return name
    return "gpu" if name == gpu_resource else "extended"


def _show(name: str, amount: Decimal) -> str:
    if name == "cpu" and (amount * 1000) == (amount * 1000).to_integral_value():
        cores = format_cpu(float(amount))
        if cores.endswith("m"):
            return cores
        return f"{cores} core" if cores == "1" else f"{cores} cores"
    if name == "memory" and amount == amount.to_integral_value():
        return format_memory(int(amount))
    return format(amount.normalize(), "f")


def _who(effective: Effective, name: str) -> str:
    shares = effective.shares
    if len(shares) == 1:
        return f"{shares[0].where} has {_show(name, shares[0].amount)}"
    parts = ", ".join(f"{s.where} {_show(name, s.amount)}" for s in shares[:4])
    more = f" and {len(shares) - 4} more" if len(shares) > 4 else ""
    return f"{parts}{more} add up to {_show(name, effective.amount)}"


def check_pod(policy: Policy, grant: Grant | Mapping[str, Any], pod: Any) -> Decision:
    """Does ``pod`` hold at most what ``grant`` gave? A 403 ``manifest.*`` decision if not.

    ``grant`` is the start's :class:`~hubplugins.policy.grant.Grant` (or its plain
    data, as a server's state keeps it). The rule is ``manifest.cpu``, ``manifest.memory``,
    ``manifest.gpu`` (the granted GPU resource), ``manifest.extended`` (one not
    granted) or ``manifest.quantity`` (a value that cannot be read). The message
    names the container and the resource; the pod comes from the hub's
    configuration, so it sends the user to the admin.
    """
    res = effective_resources(pod)
    grant = as_grant(grant, policy)
    request_caps, limit_caps = _caps(grant)
    gpu_resource = grant.gpu_resource
    problems: list[tuple[str, str, str | None, str | None]] = []  # rule, text, limit, usage
    for text in res.unreadable:
        problems.append(("manifest.quantity", text, None, None))
    for where, name in res.missing:
        problems.append((f"manifest.{name}", f"{where} has no {name} limit", None, None))
    over: set[str] = set()
    for what, effective, caps in (
        ("limit", res.limits, limit_caps),
        ("request", res.requests, request_caps),
    ):
        for name, amount in effective.items():
            cap = caps.get(name, Decimal(0))
            if name in UNCOUNTED or amount.amount <= cap or name in over:
                continue
            over.add(name)  # one line per resource: the limit if both are above
            if name not in caps:
                text = f"{_who(amount, name)} of {echo(name)}, which was not granted"
            else:
                granted = "guarantee" if what == "request" and name in BOUNDED else what
                text = (
                    f"{name} {what}: {_who(amount, name)}, above the granted "
                    f"{granted} of {_show(name, cap)}"
                )
            rule = f"manifest.{_kind(name, gpu_resource)}"
            problems.append((rule, text, _show(name, cap), _show(name, amount.amount)))
    if not problems:
        return Decision.allow("manifest")
    shown = [text for _, text, _, _ in problems[:_MAX_PROBLEMS]]
    if len(problems) > _MAX_PROBLEMS:
        shown.append(f"{len(problems) - _MAX_PROBLEMS} more")
    rule, _, limit, usage = problems[0]
    return Decision.refuse(
        rule,
        f"This server's pod holds more than the policy granted for your groups "
        f"({policy.tier}): {'; '.join(shown)}. This comes from the hub's configuration "
        "(a profile, a hook or an extra container), not from your request: ask your hub "
        "admin to fix it.",
        limit=limit,
        usage=usage,
        problems=tuple(text for _, text, _, _ in problems),
    )
