"""The resolved policy of one user: frozen dataclasses, no behaviour.

A :class:`Policy` is what :meth:`PolicyTable.resolve` returns for a set of
groups. CPU is in cores (float, whole millicores), memory and storage in bytes
(int), durations in seconds (float); ``None`` means "no limit" / "never".
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Literal

__all__ = [
    "DEFAULT_GPU_RESOURCE",
    "ClusterPolicy",
    "CpuSpec",
    "GpuSpec",
    "IdlePolicy",
    "MemorySpec",
    "Policy",
    "Quota",
    "Resources",
    "ServerLimits",
    "StoragePolicy",
]

DEFAULT_GPU_RESOURCE = "nvidia.com/gpu"

StorageScope = Literal["server", "user"]


@dataclass(frozen=True)
class ServerLimits:
    """How many servers a user may hold and run, and how long their names may be."""

    max_named: int | None
    """Named servers a user may hold, stopped ones included (None = no limit)."""
    max_running: int | None
    """Servers running at once, the default server included (None = no limit)."""
    name_max_length: int


@dataclass(frozen=True)
class IdlePolicy:
    """When the lifecycle service acts on idle servers (seconds; None = never)."""

    stop_after: float | None
    delete_after: float | None
    delete_notice: float | None = None
    """Mark a server this long before retention deletes it (None = no notice)."""
    allow_keep: bool = False
    """Users may keep a server: retention never deletes a kept server."""


@dataclass(frozen=True)
class CpuSpec:
    """Cores per server: the default guarantee and limit, and the cap on requests."""

    guarantee: float
    limit: float
    max: float


@dataclass(frozen=True)
class MemorySpec:
    """Bytes per server: the default guarantee and limit, and the cap on requests."""

    guarantee: int
    limit: int
    max: int


@dataclass(frozen=True)
class GpuSpec:
    """GPUs per server (an extended resource, ``nvidia.com/gpu`` unless set)."""

    default: int
    max: int
    resource: str = DEFAULT_GPU_RESOURCE
    queue_max_wait: float = 0.0
    """Seconds a start that finds the GPU pool full waits in line (0 = no line: refused)."""


_NO_KINDS: Mapping[str, int] = MappingProxyType({})


@dataclass(frozen=True)
class Resources:
    cpu: CpuSpec
    memory: MemorySpec
    gpu: GpuSpec
    gpu_kinds: Mapping[str, int] = field(default_factory=lambda: _NO_KINDS, hash=False)
    """Other GPU kinds a server may ask for instead of ``gpu.resource``: resource -> max."""

    def gpu_max(self, resource: str) -> int | None:
        """The most GPUs of ``resource`` one server may hold; None: not offered."""
        if resource == self.gpu.resource:
            return self.gpu.max
        return self.gpu_kinds.get(resource)

    @property
    def gpu_resources(self) -> tuple[str, ...]:
        """Every GPU kind offered: ``gpu.resource`` first."""
        return (self.gpu.resource, *(r for r in self.gpu_kinds if r != self.gpu.resource))


@dataclass(frozen=True)
class Quota:
    """Totals across all of one user's running servers (None = no limit).

    Quotas count each server's *limits* (not guarantees): a limit is what a
    server may actually hold, so the quota bounds what a user can consume.
    """

    cpu: float | None
    memory: int | None
    gpu: int | None
    gpu_kinds: Mapping[str, int | None] = field(default_factory=lambda: _NO_KINDS, hash=False)
    """Per GPU kind of ``resources.gpu_kinds``: resource -> count (None = no limit; a kind
    not listed: 0)."""

    def gpu_for(self, resource: str, main: str) -> int | None:
        """The quota of GPUs of ``resource`` (``main``: the tier's ``resources.gpu.resource``)."""
        if resource == main:
            return self.gpu
        return self.gpu_kinds.get(resource, 0)


@dataclass(frozen=True)
class StoragePolicy:
    capacity: int
    """Bytes requested for each new volume."""
    scope: StorageScope
    """``server``: one volume per server; ``user``: one volume for all of a user's servers."""
    mount_path: str
    """Where the volume is mounted; may contain ``{username}``."""
    delete_with_server: bool
    """Deleting a server deletes its volume (never one another server still uses)."""
    delete_with_user: bool
    """Deleting a user deletes their volumes."""


@dataclass(frozen=True)
class Policy:
    """The effective policy of one user, from ``defaults`` and their groups."""

    servers: ServerLimits
    idle: IdlePolicy
    resources: Resources
    quota: Quota
    storage: StoragePolicy
    profiles: tuple[str, ...]
    """Profile slugs this user may pick; ``("*",)`` means all."""
    ssh_keys: bool
    groups: tuple[str, ...] = ()
    """The user's groups that appear in the table (sorted); empty = defaults only."""
    sources: Mapping[str, str] = field(
        default_factory=lambda: MappingProxyType({}), compare=False, hash=False
    )
    """Dotted key path -> ``"defaults"`` or the group name that gave the value."""

    @property
    def tier(self) -> str:
        """A short label for messages: the matched group names, or ``defaults``."""
        return ", ".join(self.groups) if self.groups else "defaults"

    def allows_profile(self, slug: str) -> bool:
        return "*" in self.profiles or slug in self.profiles


@dataclass(frozen=True)
class ClusterPolicy:
    """Hub-wide settings: the GPUs this hub hands out in all, per resource name."""

    gpu_pool: Mapping[str, int] = field(
        default_factory=lambda: MappingProxyType({}), compare=False, hash=False
    )
