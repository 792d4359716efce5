"""The hub-wide GPU pool: first come, first served.

``cluster.gpu_pool`` says how many GPUs of each extended resource this hub
hands out in all (``{nvidia.com/gpu: 4}``); a resource not listed has no
hub-wide cap. :class:`GpuPool` keeps the reservations, keyed by server id
(e.g. ``"alice/nb1"``); a server holds GPUs of one resource at a time. Every
method runs without awaiting, so a check and its reservation are atomic on the
hub's event loop.

An exhausted pool answers **409 Conflict**: the request is valid and within
the user's own limits, but conflicts with the current state of a shared
resource and may succeed once another server stops.
"""

from __future__ import annotations

from collections.abc import Mapping
from types import MappingProxyType

from .decisions import Decision
from .policy_model import DEFAULT_GPU_RESOURCE

__all__ = ["GpuPool"]

RULE = "cluster.gpu_pool"


class GpuPool:
    """Reservations against per-resource capacities.

    ``GpuPool({"nvidia.com/gpu": 4})`` or ``GpuPool(4)`` (for
    ``nvidia.com/gpu``); ``GpuPool(None)`` or ``{}`` caps nothing but still
    counts.
    """

    def __init__(self, capacity: Mapping[str, int] | int | None = None) -> None:
        if capacity is None:
            capacity = {}
        elif isinstance(capacity, int):
            capacity = {DEFAULT_GPU_RESOURCE: capacity}
        self.capacity: Mapping[str, int] = MappingProxyType(dict(capacity))
        self._reserved: dict[str, tuple[str, int]] = {}
        self._in_use: dict[str, int] = {}

    def in_use(self, resource: str = DEFAULT_GPU_RESOURCE) -> int:
        """GPUs of ``resource`` reserved in all."""
        return self._in_use.get(resource, 0)

    def size(self, resource: str = DEFAULT_GPU_RESOURCE) -> int | None:
        """The capacity of ``resource`` (None = no hub-wide cap)."""
        return self.capacity.get(resource)

    def available(self, resource: str = DEFAULT_GPU_RESOURCE) -> int | None:
        size = self.size(resource)
        return None if size is None else max(size - self.in_use(resource), 0)

    @property
    def reservations(self) -> Mapping[str, tuple[str, int]]:
        """server id -> (resource, count)."""
        return MappingProxyType(self._reserved)

    def reserve(self, server_id: str, resource: str | int, count: int | None = None) -> Decision:
        """Reserve GPUs for ``server_id``, replacing what it held before.

        ``reserve(server_id, count)`` uses ``nvidia.com/gpu``;
        ``reserve(server_id, resource, count)`` names the resource. Allowed
        decisions carry ``in_use`` and ``size`` in ``details``.
        """
        resource, count = _args(resource, count)
        if count < 0:
            return Decision.refuse(RULE, f"Invalid GPU count {count}.", status=400)
        held_resource, held = self._reserved.get(server_id, (resource, 0))
        others = self.in_use(resource) - (held if held_resource == resource else 0)
        size = self.size(resource)
        if size is not None and others + count > size:
            return Decision.refuse(
                RULE,
                f"GPU pool exhausted: {others} of the {size} {resource} GPUs of this hub are "
                f"in use and this server asks for {count}. Try again when another server "
                "stops, or ask for fewer GPUs.",
                status=409,
                limit=size,
                usage=others,
                in_use=others,
                size=size,
            )
        self._set(server_id, resource, count)
        return Decision.allow(RULE, in_use=others + count, size=size, resource=resource)

    def restore(self, server_id: str, resource: str | int | None, count: int | None = None) -> None:
        """Record a reservation that already exists (a running server found after a
        hub restart), even beyond the capacity."""
        if resource is None:
            resource = DEFAULT_GPU_RESOURCE
        resource, count = _args(resource, count)
        self._set(server_id, resource, max(count, 0))

    def release(self, server_id: str) -> int:
        """Free what ``server_id`` held; returns the number of GPUs freed."""
        resource, freed = self._reserved.pop(server_id, (DEFAULT_GPU_RESOURCE, 0))
        if freed:
            self._in_use[resource] -= freed
        return freed

    def _set(self, server_id: str, resource: str, count: int) -> None:
        self.release(server_id)
        if count:
            self._reserved[server_id] = (resource, count)
            self._in_use[resource] = self._in_use.get(resource, 0) + count


def _args(resource: str | int, count: int | None) -> tuple[str, int]:
    if count is None:
        if isinstance(resource, str):
            raise TypeError("reserve(server_id, count) or reserve(server_id, resource, count)")
        return DEFAULT_GPU_RESOURCE, int(resource)
    return str(resource), int(count)
