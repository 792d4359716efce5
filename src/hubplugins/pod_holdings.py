"""What a pod holds, read from its manifest as the pod reflector keeps it.

The hub's count of GPUs and of a user's resources is derived from the pods
Kubernetes has (KubeSpawner's shared pod reflector, keyed ``namespace/name``,
the JSON of each pod), not only from the hub's memory, so a hub that was
killed while a server started still counts that server's pod after its
restart.

A pod holds resources from its creation until it is gone or has terminated:
pending pods (not yet scheduled, or starting) hold what they will get, and a
pod being deleted holds its resources until it has stopped. Per resource a pod
holds, as Kubernetes counts it, the larger of the sum over its containers and
the largest init container, each container counting the larger of its request
and its limit.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping
from typing import Any

from .errors import QuantityError
from .quantities import parse_cpu, parse_memory

__all__ = ["holds", "is_live", "pod_owner", "pooled_holdings"]

TERMINATED_PHASES = frozenset({"Succeeded", "Failed"})
USER_ANNOTATION = "hub.jupyter.org/username"
SERVER_ANNOTATION = "hub.jupyter.org/servername"


def is_live(pod: Mapping[str, Any]) -> bool:
    """Does the pod hold node resources (not terminated)?"""
    return (pod.get("status") or {}).get("phase") not in TERMINATED_PHASES


def _amount(resource: str, value: Any) -> float:
    """A quantity in the unit the hub counts: cores, bytes, or whole devices."""
    try:
        if resource == "cpu":
            return parse_cpu(value)
        if resource == "memory":
            return float(parse_memory(value))
        # extended resources are whole numbers; a fraction would hold a whole device
        return float(math.ceil(parse_cpu(value)))
    except QuantityError:
        return 0.0


def _container(container: Mapping[str, Any], resource: str) -> float:
    res = container.get("resources") or {}
    return max(
        _amount(resource, (res.get(kind) or {}).get(resource, 0)) for kind in ("requests", "limits")
    )


def holds(pod: Mapping[str, Any], resource: str) -> float:
    """How much of ``resource`` a live pod holds (0 for a terminated one)."""
    if not is_live(pod):
        return 0.0
    spec = pod.get("spec") or {}
    running = sum(_container(c, resource) for c in spec.get("containers") or [])
    init = max((_container(c, resource) for c in spec.get("initContainers") or []), default=0.0)
    return max(running, init)


def pooled_holdings(
    pods: Iterable[tuple[str, Mapping[str, Any]]], resources: Iterable[str]
) -> dict[str, dict[str, int]]:
    """``{pod key: {resource: count}}`` for the live pods holding any of ``resources``."""
    wanted = tuple(resources)
    found: dict[str, dict[str, int]] = {}
    for key, pod in pods:
        if not is_live(pod):
            continue
        held = {r: int(n) for r in wanted if (n := holds(pod, r))}
        if held:
            found[key] = held
    return found


def pod_owner(pod: Mapping[str, Any]) -> tuple[str, str] | None:
    """(user name, server name) from KubeSpawner's annotations; None if not a hub's pod."""
    annotations = (pod.get("metadata") or {}).get("annotations") or {}
    user = annotations.get(USER_ANNOTATION)
    if not isinstance(user, str):
        return None
    server = annotations.get(SERVER_ANNOTATION) or ""
    return user, str(server)
