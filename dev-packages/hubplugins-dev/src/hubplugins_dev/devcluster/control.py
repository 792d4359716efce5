"""Request counts and injected faults, shared by the API handlers and the control API."""

from __future__ import annotations

import asyncio
from collections import Counter
from dataclasses import dataclass
from typing import Any

from .errors import ApiError

VERBS = ("get", "list", "watch", "create", "update", "patch", "delete")


@dataclass
class Fault:
    verb: str
    resource: str
    status: int
    count: int
    delay: float
    namespace: str | None

    def matches(self, verb: str, resource: str, namespace: str | None) -> bool:
        return (
            self.count > 0
            and self.verb in ("*", verb)
            and self.resource in ("*", resource)
            and (self.namespace is None or self.namespace == namespace)
        )


class Control:
    """What tests observe (counts) and inject (faults) through ``/devcluster/v1/``."""

    def __init__(self) -> None:
        self.counts: Counter[str] = Counter()
        self.faults: list[Fault] = []

    def add_fault(self, spec: dict[str, Any]) -> Fault:
        try:
            fault = Fault(
                verb=str(spec["verb"]),
                resource=str(spec["resource"]),
                status=int(spec.get("status", 500)),
                count=int(spec.get("count", 1)),
                delay=float(spec.get("delay", 0) or 0),
                namespace=spec.get("namespace"),
            )
        except (KeyError, TypeError, ValueError) as e:
            raise ApiError(400, f"bad fault: {e}") from e
        if fault.verb not in (*VERBS, "*"):
            raise ApiError(400, f"unknown verb {fault.verb!r}; one of {', '.join(VERBS)}")
        self.faults.append(fault)
        return fault

    async def observe(self, verb: str, resource: str, namespace: str | None) -> None:
        """Count one request, then apply the first matching fault (delay, then fail)."""
        self.counts[f"{verb}/{resource}"] += 1
        for fault in self.faults:
            if fault.matches(verb, resource, namespace):
                fault.count -= 1
                if fault.delay > 0:
                    await asyncio.sleep(fault.delay)
                if fault.status:
                    raise ApiError(fault.status, f"injected fault for {verb} {resource}")
                return
