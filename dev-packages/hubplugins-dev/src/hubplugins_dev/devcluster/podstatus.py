"""Pure helpers for a pod's status and resource requests."""

from __future__ import annotations

from collections.abc import Mapping
from decimal import Decimal
from typing import Any

from .quantity import parse_quantity
from .store import now_rfc3339

TERMINATED_PHASES = ("Succeeded", "Failed")


def set_condition(
    status: dict[str, Any],
    type_: str,
    value: bool,
    reason: str | None = None,
    message: str | None = None,
) -> None:
    conditions = status.setdefault("conditions", [])
    text = "True" if value else "False"
    for cond in conditions:
        if cond["type"] == type_:
            if cond["status"] != text:
                cond["lastTransitionTime"] = now_rfc3339()
            cond.update(status=text, reason=reason, message=message)
            return
    conditions.append(
        {
            "type": type_,
            "status": text,
            "reason": reason,
            "message": message,
            "lastProbeTime": None,
            "lastTransitionTime": now_rfc3339(),
        }
    )


def container_status(
    container: dict[str, Any], uid: str, state: dict[str, Any], ready: bool
) -> dict[str, Any]:
    image = container.get("image", "")
    return {
        "name": container["name"],
        "image": image,
        "imageID": f"devcluster://{image}",
        "containerID": f"devcluster://{uid[:8]}-{container['name']}",
        "ready": ready,
        "started": "running" in state,
        "restartCount": 0,
        "state": state,
        "lastState": {},
    }


def pod_requests(pod: Mapping[str, Any]) -> dict[str, Decimal]:
    """What the scheduler counts: requests, else limits, summed over containers.

    Init containers run one at a time, so the pod needs the larger of their
    biggest request and the sum over its regular containers.
    """
    spec = pod.get("spec") or {}

    def one(ctr: Mapping[str, Any]) -> dict[str, Decimal]:
        res = ctr.get("resources") or {}
        merged = {**(res.get("limits") or {}), **(res.get("requests") or {})}
        return {name: parse_quantity(value) for name, value in merged.items()}

    total: dict[str, Decimal] = {}
    for ctr in spec.get("containers") or []:
        for name, value in one(ctr).items():
            total[name] = total.get(name, Decimal(0)) + value
    for ctr in spec.get("initContainers") or []:
        for name, value in one(ctr).items():
            total[name] = max(total.get(name, Decimal(0)), value)
    return total


def insufficient(
    capacity: Mapping[str, Decimal],
    allocated: Mapping[str, Decimal],
    request: Mapping[str, Decimal],
    pods_running: int,
) -> list[str]:
    """Names of the resources that do not fit, in the scheduler's words."""
    reasons = []
    if "pods" in capacity and pods_running + 1 > capacity["pods"]:
        reasons.append("Too many pods")
    for name in sorted(request):
        if name == "pods" or request[name] <= 0:
            continue
        if allocated.get(name, Decimal(0)) + request[name] > capacity.get(name, Decimal(0)):
            reasons.append(f"Insufficient {name}")
    return reasons


def unschedulable_message(reasons: list[str]) -> str:
    return "0/1 nodes are available: " + ", ".join(f"1 {r}" for r in reasons) + "."
