"""What a pod holds while it lives, and whose server it is, as the pod reflector keeps it.

The hub's count of GPUs and of a user's resources is derived from the pods
Kubernetes has (KubeSpawner's shared pod reflector, keyed ``namespace/name``,
the JSON of each pod), not only from the hub's memory, so a hub that was
killed while a server started still counts that server's pod after its
restart.

A pod holds resources from its creation until it is gone or has terminated:
pending pods (not yet scheduled, or starting) hold what they will get, and a
pod being deleted holds its resources until it has stopped. What it holds of
a resource is the larger of its effective request and limit, computed as
Kubernetes does (:func:`hubplugins.policy.rules.pod_resources.effective_resources`:
containers and sidecars add up, init containers peak on their own, pod-level
resources stand for the pod).
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping
from typing import Any

from hubplugins.policy.rules.pod_resources import effective_resources

__all__ = ["has_labels", "holds", "is_live", "pod_owner", "pooled_holdings"]

TERMINATED_PHASES = frozenset({"Succeeded", "Failed"})
USER_ANNOTATION = "hub.jupyter.org/username"
SERVER_ANNOTATION = "hub.jupyter.org/servername"


def is_live(pod: Mapping[str, Any]) -> bool:
    """Does the pod hold node resources (not terminated)?"""
    return (pod.get("status") or {}).get("phase") not in TERMINATED_PHASES


# (uid, resourceVersion) -> holdings: a pod's spec only changes with its version, so
# each version is read once however many starts count the pods
_SEEN: dict[tuple[str, str], dict[str, float]] = {}
_SEEN_MAX = 20_000


def holdings(pod: Mapping[str, Any]) -> Mapping[str, float]:
    """Every resource a live pod holds: cores, bytes, whole devices (none when terminated)."""
    if not is_live(pod):
        return {}
    meta = pod.get("metadata") or {}
    version = (str(meta.get("uid") or ""), str(meta.get("resourceVersion") or ""))
    cached = _SEEN.get(version) if all(version) else None
    if cached is not None:
        return cached
    held = _read(pod)
    if all(version):
        if len(_SEEN) >= _SEEN_MAX:
            _SEEN.clear()
        _SEEN[version] = held
    return held


def _read(pod: Mapping[str, Any]) -> dict[str, float]:
    effective = effective_resources(pod)
    held: dict[str, float] = {}
    for name in {*effective.requests, *effective.limits}:
        amount = max(effective.request(name), effective.limit(name))
        if name in ("cpu", "memory"):
            held[name] = float(amount)
        else:  # extended resources are whole devices; a fraction would hold one
            held[name] = float(math.ceil(amount))
    return held


def holds(pod: Mapping[str, Any], resource: str) -> float:
    """How much of ``resource`` a live pod holds (0 for a terminated one)."""
    return holdings(pod).get(resource, 0.0)


def pooled_holdings(
    pods: Iterable[tuple[str, Mapping[str, Any]]], resources: Iterable[str]
) -> dict[str, dict[str, int]]:
    """``{pod key: {resource: count}}`` for the live pods holding any of ``resources``."""
    wanted = tuple(resources)
    found: dict[str, dict[str, int]] = {}
    for key, pod in pods:
        have = holdings(pod)
        held = {r: int(have[r]) for r in wanted if have.get(r)}
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


def has_labels(pod: Mapping[str, Any], labels: Mapping[str, str]) -> bool:
    """Does the pod carry every one of ``labels`` (e.g. a hub's ``common_labels``)?"""
    have = (pod.get("metadata") or {}).get("labels") or {}
    return all(have.get(k) == v for k, v in labels.items())
