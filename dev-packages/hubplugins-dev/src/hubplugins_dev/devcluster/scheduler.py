"""The scheduler half of the node: fit pods to capacity, queue the rest, record why."""

from __future__ import annotations

import asyncio
import contextlib
import json
from collections.abc import Callable
from decimal import Decimal
from typing import Any

from .cluster import Cluster
from .errors import ApiError
from .podstatus import insufficient, pod_requests, set_condition, unschedulable_message

NODE_NAME = "devcluster"
Key = tuple[str, str]


class Scheduler:
    """Pending pods are tried in creation order whenever capacity or volumes change."""

    cluster: Cluster
    capacity: dict[str, Decimal]

    def __init__(self) -> None:
        self.pending: dict[Key, str] = {}  # pod key -> last FailedScheduling message
        self._kicked = False

    # bookkeeping

    def _allocated(self) -> tuple[dict[str, Decimal], int]:
        """Requests summed over the pods holding node resources, and their count."""
        raise NotImplementedError

    def _update(self, key: Key, change: Callable[[dict[str, Any]], None]) -> dict[str, Any] | None:
        pod = self.cluster.store.get("pods", *key)
        if pod is None:
            return None
        # Stored objects are never mutated: copy what the kubelet changes (metadata,
        # status, top-level spec fields) and share the rest (containers, volumes).
        new = {
            **pod,
            "metadata": json.loads(json.dumps(pod["metadata"])),
            "spec": dict(pod["spec"]),
            "status": json.loads(json.dumps(pod.get("status") or {})),
        }
        change(new)
        return self.cluster.store.update("pods", new)

    def _event(self, pod: dict[str, Any] | None, reason: str, message: str, **kw: Any) -> None:
        if pod is None:
            return
        with contextlib.suppress(ApiError):
            self.cluster.record_event(pod, reason, message, **kw)

    # scheduling

    def pod_added(self, pod: dict[str, Any]) -> None:
        self.pending[(pod["metadata"]["namespace"], pod["metadata"]["name"])] = ""
        self.kick()

    def kick(self) -> None:
        """Try the pending pods again soon (capacity or volumes changed)."""
        if not self._kicked and self.pending:
            self._kicked = True
            asyncio.get_running_loop().call_soon(self._schedule_pass)

    def _claim_problem(self, pod: dict[str, Any]) -> str | None:
        ns = pod["metadata"]["namespace"]
        for vol in pod["spec"].get("volumes") or []:
            claim = (vol.get("persistentVolumeClaim") or {}).get("claimName")
            if not claim:
                continue
            pvc = self.cluster.store.get("persistentvolumeclaims", ns, claim)
            if pvc is None:
                return f'persistentvolumeclaim "{claim}" not found'
            if pvc["metadata"].get("deletionTimestamp"):
                return f'persistentvolumeclaim "{claim}" is being deleted'
        return None

    def _schedule_pass(self) -> None:
        self._kicked = False
        for key in list(self.pending):
            pod = self.cluster.store.get("pods", *key)
            if pod is None or pod["metadata"].get("deletionTimestamp"):
                self.pending.pop(key, None)
                continue
            requests = pod_requests(pod)
            allocated, running = self._allocated()
            reasons = insufficient(self.capacity, allocated, requests, running)
            problem = self._claim_problem(pod)
            message = problem or (unschedulable_message(reasons) if reasons else "")
            if message:
                if self.pending[key] != message:
                    self.pending[key] = message

                    def unschedulable(p: dict[str, Any], m: str = message) -> None:
                        set_condition(p["status"], "PodScheduled", False, "Unschedulable", m)

                    updated = self._update(key, unschedulable)
                    self._event(
                        updated,
                        "FailedScheduling",
                        message,
                        type_="Warning",
                        component="default-scheduler",
                    )
                continue
            del self.pending[key]

            def scheduled(p: dict[str, Any]) -> None:
                p["spec"]["nodeName"] = NODE_NAME
                set_condition(p["status"], "PodScheduled", True)

            updated = self._update(key, scheduled)
            self._event(
                updated,
                "Scheduled",
                f"Successfully assigned {key[0]}/{key[1]} to {NODE_NAME}",
                component="default-scheduler",
            )
            self._bind(key, pod, requests)

    def _bind(self, key: Key, pod: dict[str, Any], requests: dict[str, Decimal]) -> None:
        """Start running a pod that was just scheduled (the kubelet's part)."""
        raise NotImplementedError
