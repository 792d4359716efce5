"""ResourceQuota as the API server and the quota controller keep it.

A ``ResourceQuota`` caps what the pods of one namespace may hold together:
``spec.hard`` names the caps (``requests.nvidia.com/gpu: 4``, ``pods: 10``,
``limits.memory: 64Gi`` ...), ``status.hard`` repeats them and ``status.used``
says what the counted pods hold now. As in Kubernetes:

- admission of a pod creation checks every quota of its namespace and the
  creation itself in one step (nothing awaits in between), so concurrent
  creations can never together exceed a quota; a pod that would is refused
  with **403 Forbidden** ``exceeded quota: NAME, requested: ..., used: ...,
  limited: ...`` and nothing is stored;
- a pod counts from its creation until it has terminated (``Succeeded`` or
  ``Failed``), is gone, or its deletion grace period has run out;
- a pod's usage is what the scheduler counts: requests (limits where a
  container sets no request) summed over its containers, the largest init
  container where that is larger, plus ``spec.overhead``; extended resources
  are quota'd by their requests only (``requests.nvidia.com/gpu``);
- a quota on ``cpu``/``memory`` requests or limits refuses pods whose
  containers do not set them (``must specify ...``).
"""

from __future__ import annotations

import copy
from collections.abc import Iterable, Mapping
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import TYPE_CHECKING, Any

from .errors import ApiError
from .quantity import parse_quantity

if TYPE_CHECKING:
    from .cluster import Cluster

__all__ = ["admit", "format_quantity", "pod_usage", "refresh", "status_of"]

RESOURCE = "resourcequotas"
TERMINATED_PHASES = ("Succeeded", "Failed")
STANDARD = ("cpu", "memory", "ephemeral-storage")


def format_quantity(value: Decimal) -> str:
    """A quantity as Kubernetes prints it: whole numbers plain, else in milli-units."""
    if value == value.to_integral_value():
        return str(int(value))
    return f"{int((value * 1000).to_integral_value())}m"


def _container_amounts(ctr: Mapping[str, Any]) -> tuple[dict[str, Decimal], dict[str, Decimal]]:
    res = ctr.get("resources") or {}
    limits = {k: parse_quantity(v) for k, v in (res.get("limits") or {}).items()}
    # the API server defaults a container's missing requests to its limits
    requests = {**limits, **{k: parse_quantity(v) for k, v in (res.get("requests") or {}).items()}}
    return requests, limits


def _pod_totals(pod: Mapping[str, Any], which: int) -> dict[str, Decimal]:
    spec = pod.get("spec") or {}
    total: dict[str, Decimal] = {}
    for ctr in spec.get("containers") or []:
        for name, value in _container_amounts(ctr)[which].items():
            total[name] = total.get(name, Decimal(0)) + value
    for ctr in spec.get("initContainers") or []:
        for name, value in _container_amounts(ctr)[which].items():
            total[name] = max(total.get(name, Decimal(0)), value)
    for name, value in (spec.get("overhead") or {}).items():
        if name in total:
            total[name] += parse_quantity(value)
    return total


def pod_usage(pod: Mapping[str, Any]) -> dict[str, Decimal]:
    """What one pod charges to a quota, by quota resource name."""
    usage: dict[str, Decimal] = {"pods": Decimal(1), "count/pods": Decimal(1)}
    for name, value in _pod_totals(pod, 0).items():
        usage[f"requests.{name}"] = value
        if name in STANDARD:
            usage[name] = value
    for name, value in _pod_totals(pod, 1).items():
        if name in STANDARD:
            usage[f"limits.{name}"] = value
    return usage


def _counts(pod: Mapping[str, Any], now: datetime) -> bool:
    """Is the pod charged to quotas now?"""
    if (pod.get("status") or {}).get("phase") in TERMINATED_PHASES:
        return False
    meta = pod.get("metadata") or {}
    stamp, grace = meta.get("deletionTimestamp"), meta.get("deletionGracePeriodSeconds")
    if stamp and grace is not None:
        deleted = datetime.strptime(stamp, "%Y-%m-%dT%H:%M:%SZ").replace(tzinfo=UTC)
        if now > deleted + timedelta(seconds=int(grace)):
            return False
    return True


def _hard(quota: Mapping[str, Any]) -> dict[str, Decimal]:
    hard = ((quota.get("spec") or {}).get("hard")) or {}
    return {name: parse_quantity(value) for name, value in hard.items()}


def _used(pods: Iterable[Mapping[str, Any]], names: Iterable[str]) -> dict[str, Decimal]:
    now = datetime.now(UTC)
    used = dict.fromkeys(names, Decimal(0))
    for pod in pods:
        if not _counts(pod, now):
            continue
        for name, value in pod_usage(pod).items():
            if name in used:
                used[name] += value
    return used


def status_of(cluster: Cluster, namespace: str, quota: Mapping[str, Any]) -> dict[str, Any]:
    """``status`` of a quota: its hard caps and what the namespace's pods use of them."""
    hard = _hard(quota)
    used = _used(cluster.store.iter("pods", namespace), hard)
    return {
        "hard": dict((quota.get("spec") or {}).get("hard") or {}),
        "used": {name: format_quantity(value) for name, value in used.items()},
    }


def refresh(cluster: Cluster, namespace: str) -> None:
    """Bring ``status`` of every quota of ``namespace`` up to date (the quota controller)."""
    for quota in list(cluster.store.iter(RESOURCE, namespace)):
        status = status_of(cluster, namespace, quota)
        if status != quota.get("status"):
            updated = {**quota, "metadata": copy.deepcopy(quota["metadata"]), "status": status}
            cluster.store.update(RESOURCE, updated)


def _pretty(values: Mapping[str, Decimal]) -> str:
    return ",".join(f"{name}={format_quantity(values[name])}" for name in sorted(values))


def _forbidden(pod: Mapping[str, Any], message: str) -> ApiError:
    name = (pod.get("metadata") or {}).get("name") or ""
    return ApiError(
        403,
        f'pods "{name}" is forbidden: {message}',
        reason="Forbidden",
        details={"name": name, "kind": "pods"},
    )


def _missing(pod: Mapping[str, Any], hard: Mapping[str, Decimal]) -> list[str]:
    """The compute resources a quota tracks that some container does not set."""
    missing = []
    containers = [
        *((pod.get("spec") or {}).get("containers") or []),
        *((pod.get("spec") or {}).get("initContainers") or []),
    ]
    for name in sorted(hard):
        kind, _, resource = name.partition(".")
        if not resource:  # "cpu" and "memory" stand for their requests
            kind, resource = "requests", kind
        if resource not in ("cpu", "memory") or kind not in ("requests", "limits"):
            continue
        which = 0 if kind == "requests" else 1
        lacking = [
            str(c.get("name", ""))
            for c in containers
            if resource not in _container_amounts(c)[which]
        ]
        if lacking:
            missing.append(f"{kind}.{resource} for: {','.join(lacking)}")
    return missing


def admit(cluster: Cluster, namespace: str, pod: Mapping[str, Any]) -> None:
    """Refuse (403) a new pod that would take a quota of ``namespace`` over its caps."""
    quotas = sorted(cluster.store.iter(RESOURCE, namespace), key=lambda q: q["metadata"]["name"])
    if not quotas:
        return
    wanted = pod_usage(pod)
    for quota in quotas:
        hard = _hard(quota)
        name = quota["metadata"]["name"]
        missing = _missing(pod, hard)
        if missing:
            raise _forbidden(pod, f"failed quota: {name}: must specify {'; '.join(missing)}")
        asked = {r: wanted[r] for r in hard if wanted.get(r)}
        if not asked:
            continue
        used = _used(cluster.store.iter("pods", namespace), asked)
        over = [r for r in asked if used[r] + asked[r] > hard[r]]
        if over:
            raise _forbidden(
                pod,
                f"exceeded quota: {name}, "
                f"requested: {_pretty({r: asked[r] for r in over})}, "
                f"used: {_pretty({r: used[r] for r in over})}, "
                f"limited: {_pretty({r: hard[r] for r in over})}",
            )
