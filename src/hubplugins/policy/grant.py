"""What a start is granted: :class:`Grant`, the answer of the resource rule.

:func:`hubplugins.policy.rules.resources.check_start` returns it in
``decision.details["grant"]``; the spawner applies it to KubeSpawner's traits,
checks the pod it sends against it and keeps it in the server's state, where
``hubplugins plan`` reads it back. The fields are KubeSpawner's trait names.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from hubplugins.policy.model import DEFAULT_GPU_RESOURCE

__all__ = ["STATE_KEY", "Grant"]

STATE_KEY = "hubplugins"
"""Where PolicySpawner keeps the grant in a server's state: ``state[STATE_KEY]["grant"]``."""


@dataclass(frozen=True)
class Grant:
    """CPU in cores, memory in bytes, GPUs of one extended resource."""

    cpu_guarantee: float
    cpu_limit: float
    mem_guarantee: int
    mem_limit: int
    gpu: int = 0
    gpu_resource: str = DEFAULT_GPU_RESOURCE

    def as_dict(self) -> dict[str, Any]:
        """The grant as plain data (the server's saved state, JSON)."""
        return dataclasses.asdict(self)

    @classmethod
    def of(cls, value: Grant | Mapping[str, Any]) -> Grant:
        """A grant, or one read from its plain data; other keys (pool counts) are left out."""
        if isinstance(value, Grant):
            return value
        return cls(
            cpu_guarantee=float(value.get("cpu_guarantee") or 0),
            cpu_limit=float(value.get("cpu_limit") or 0),
            mem_guarantee=int(value.get("mem_guarantee") or 0),
            mem_limit=int(value.get("mem_limit") or 0),
            gpu=int(value.get("gpu") or 0),
            gpu_resource=str(value.get("gpu_resource") or DEFAULT_GPU_RESOURCE),
        )

    @classmethod
    def saved(cls, value: Any) -> Grant | None:
        """The grant kept in a server's state, or None where there is none (or not one)."""
        if not isinstance(value, Mapping) or not value:
            return None
        try:
            return cls.of(value)
        except (TypeError, ValueError):
            return None
