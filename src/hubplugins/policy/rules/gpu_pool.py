"""The hub-wide GPU pool: first come, first served, counted from the pods.

``cluster.gpu_pool`` says how many GPUs of each extended resource this hub
hands out in all (``{nvidia.com/gpu: 4, amd.com/gpu: 2}``); every listed
resource is pooled with its own capacity, and a resource not listed has no
hub-wide cap.

What is in use is derived from two sources, so that neither a crash of the hub
nor a start in flight is forgotten:

- the **pods** that hold a pooled resource (``{pod key: {resource: count}}``,
  read by the caller from KubeSpawner's pod reflector, see
  :mod:`hubplugins.policy.rules.pod_resources`), whichever hub or server made them;
- the **reservations** of this hub, keyed by server id (``"alice/nb1"``), each
  naming the pod that will hold it: a start reserves before its pod exists.

A pod and the reservation naming it count once, with the larger of the two.
Every method runs without awaiting, so a check and its reservation are atomic
on the hub's event loop.

An exhausted pool answers **409 Conflict**: the request is valid and within
the user's own limits, but conflicts with the current state of a shared
resource and may succeed once another server stops.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from types import MappingProxyType

from hubplugins.policy.decision import Decision
from hubplugins.policy.model import DEFAULT_GPU_RESOURCE

__all__ = ["GpuPool", "Reservation", "not_synced"]

RULE = "cluster.gpu_pool"

PodHoldings = Mapping[str, Mapping[str, int]]
_NO_PODS: PodHoldings = MappingProxyType({})


@dataclass(frozen=True)
class Reservation:
    """What one server holds or is about to hold: ``{resource: count}``, and its pod."""

    demand: Mapping[str, int] = field(default_factory=lambda: MappingProxyType({}))
    pod: str | None = None


def not_synced(resource: str) -> Decision:
    """The refusal while the hub has not yet listed the pods in Kubernetes."""
    return Decision.refuse(
        RULE,
        f"GPU pool not counted yet: the hub could not list the servers' pods in "
        f"Kubernetes, so it cannot tell how many {resource} GPUs are in use. "
        "Try again in a minute.",
        status=409,
    )


class GpuPool:
    """Reservations and pods against per-resource capacities.

    ``GpuPool({"nvidia.com/gpu": 4})``; ``GpuPool()`` or ``{}`` caps nothing
    but still counts. ``pods`` arguments are ``{"namespace/name": {resource: count}}``
    of the live pods (None: no pod known).
    """

    def __init__(self, capacity: Mapping[str, int] | None = None) -> None:
        self.capacity: Mapping[str, int] = MappingProxyType(dict(capacity or {}))
        self._reserved: dict[str, Reservation] = {}

    def in_use(
        self,
        resource: str = DEFAULT_GPU_RESOURCE,
        pods: PodHoldings | None = None,
        *,
        excluding: str | None = None,
    ) -> int:
        """GPUs of ``resource`` held by pods or reserved, leaving out server ``excluding``."""
        pods = pods if pods is not None else _NO_PODS
        skip_pod = None
        counted: set[str] = set()
        total = 0
        for server_id, reservation in self._reserved.items():
            if server_id == excluding:
                skip_pod = reservation.pod
                continue
            held = 0
            if reservation.pod is not None and reservation.pod not in counted:
                counted.add(reservation.pod)
                held = pods.get(reservation.pod, {}).get(resource, 0)
            total += max(reservation.demand.get(resource, 0), held)
        for key, held_by_pod in pods.items():
            if key not in counted and key != skip_pod:
                total += held_by_pod.get(resource, 0)
        return total

    def size(self, resource: str = DEFAULT_GPU_RESOURCE) -> int | None:
        """The capacity of ``resource`` (None = no hub-wide cap)."""
        return self.capacity.get(resource)

    def available(
        self, resource: str = DEFAULT_GPU_RESOURCE, pods: PodHoldings | None = None
    ) -> int | None:
        size = self.size(resource)
        return None if size is None else max(size - self.in_use(resource, pods), 0)

    @property
    def reservations(self) -> Mapping[str, Reservation]:
        """server id -> :class:`Reservation`."""
        return MappingProxyType(self._reserved)

    def reserve(
        self,
        server_id: str,
        demand: Mapping[str, int],
        *,
        pod: str | None = None,
        pods: PodHoldings | None = None,
    ) -> Decision:
        """Reserve ``demand`` (``{resource: count}``) for ``server_id``, replacing what it
        held before. ``pod``
        is the key of the pod that will hold them: a pod of that name already
        in ``pods`` (an earlier pod of the same server) is replaced, not added.
        Allowed decisions carry ``in_use``, ``size`` and ``resource`` of the
        first resource asked for in ``details``.
        """
        demand = {str(k): int(v) for k, v in demand.items()}
        for n in demand.values():
            if n < 0:
                return Decision.refuse(RULE, f"Invalid GPU count {n}.", status=400)
        previous = self._reserved.get(server_id)
        own_pod = pod if pod is not None else (previous.pod if previous else None)
        shown: tuple[str, int, int | None] | None = None
        for name, n in demand.items():
            others = self._others(server_id, own_pod, name, pods)
            size = self.size(name)
            if n and size is not None and others + n > size:
                return Decision.refuse(
                    RULE,
                    f"GPU pool exhausted: {others} of the {size} {name} GPUs of this hub are "
                    f"in use and this server asks for {n}. Try again when another server "
                    "stops, or ask for fewer GPUs.",
                    status=409,
                    limit=size,
                    usage=others,
                    in_use=others,
                    size=size,
                    resource=name,
                )
            if shown is None:
                shown = (name, others + n, size)
        self._set(server_id, demand, own_pod)
        name, in_use, size = shown or (DEFAULT_GPU_RESOURCE, 0, self.size())
        return Decision.allow(RULE, in_use=in_use, size=size, resource=name)

    def _others(
        self, server_id: str, own_pod: str | None, resource: str, pods: PodHoldings | None
    ) -> int:
        if own_pod is not None and pods is not None and own_pod in pods:
            pods = {k: v for k, v in pods.items() if k != own_pod}
        return self.in_use(resource, pods, excluding=server_id)

    def restore(
        self,
        server_id: str,
        demand: Mapping[str, int],
        *,
        pod: str | None = None,
    ) -> None:
        """Record a reservation that already exists (a running server found after a
        hub restart), even beyond the capacity."""
        self._set(server_id, {str(k): max(int(v), 0) for k, v in demand.items()}, pod)

    def release(self, server_id: str) -> int:
        """Free what ``server_id`` reserved; returns the number of GPUs freed."""
        reservation = self._reserved.pop(server_id, None)
        return sum(reservation.demand.values()) if reservation else 0

    def _set(self, server_id: str, demand: Mapping[str, int], pod: str | None) -> None:
        self._reserved.pop(server_id, None)
        kept = {k: v for k, v in demand.items() if v}
        if kept:
            self._reserved[server_id] = Reservation(MappingProxyType(kept), pod)
