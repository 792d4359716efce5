"""What the policy core answers, and what it is told about a user's servers.

- :class:`Decision`: allowed or not, the rule (a policy key path such as
  ``servers.max_named``), the limit, the usage, a message a user can act on,
  the HTTP status (200 when allowed) and details (e.g. the granted resources).
  ``decision.enforce()`` raises :class:`~hubplugins.policy.errors.PolicyRefusal` when
  it is a refusal, so callers need one ``except`` for every rule.
- :class:`Usage` / :class:`ServerUsage`: a user's existing servers, as the
  spawner sees them. Stopped servers count toward ``max_named``; only running
  ones count toward ``max_running`` and the quotas.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Any

from hubplugins.policy.errors import PolicyRefusal
from hubplugins.policy.quantities import millicores

__all__ = ["Decision", "ServerUsage", "Usage"]

_EMPTY: Mapping[str, Any] = MappingProxyType({})


@dataclass(frozen=True)
class Decision:
    """The answer of one policy check."""

    allowed: bool
    rule: str
    message: str = ""
    status: int = 200
    limit: Any = None
    usage: Any = None
    details: Mapping[str, Any] = field(default_factory=lambda: _EMPTY, compare=False, hash=False)

    @classmethod
    def allow(
        cls, rule: str, message: str = "", *, limit: Any = None, usage: Any = None, **details: Any
    ) -> Decision:
        return cls(True, rule, message, 200, limit, usage, MappingProxyType(details))

    @classmethod
    def refuse(
        cls,
        rule: str,
        message: str,
        *,
        status: int = 403,
        limit: Any = None,
        usage: Any = None,
        **details: Any,
    ) -> Decision:
        return cls(False, rule, message, status, limit, usage, MappingProxyType(details))

    def enforce(self) -> Decision:
        """Return self when allowed; raise :class:`PolicyRefusal` otherwise."""
        if not self.allowed:
            raise PolicyRefusal(self)
        return self


@dataclass(frozen=True)
class ServerUsage:
    """One of a user's servers. ``name`` is ``""`` for the default server.

    ``cpu`` (cores), ``memory`` (bytes) and ``gpu`` are the server's *limits*
    and only count while it is running. ``gpus`` holds its GPUs per kind
    (``{"nvidia.com/mig-1g.10gb": 2}``); when empty, ``gpu`` counts as the
    tier's own GPU kind.
    """

    name: str
    running: bool = False
    cpu: float = 0.0
    memory: int = 0
    gpu: int = 0
    gpus: Mapping[str, int] = field(default_factory=lambda: _EMPTY, hash=False)

    def gpus_of(self, resource: str, main: str) -> int:
        """GPUs of ``resource`` held (``main``: the tier's ``resources.gpu.resource``)."""
        if self.gpus:
            return int(self.gpus.get(resource, 0))
        return self.gpu if resource == main else 0


@dataclass(frozen=True)
class Usage:
    """All servers of one user, stopped ones included."""

    servers: tuple[ServerUsage, ...] = ()

    @classmethod
    def of(cls, servers: Iterable[ServerUsage]) -> Usage:
        return cls(tuple(servers))

    @property
    def names(self) -> frozenset[str]:
        return frozenset(s.name for s in self.servers)

    @property
    def named_count(self) -> int:
        """Named servers held, stopped ones included (the default server is extra)."""
        return sum(1 for s in self.servers if s.name)

    def totals(self, excluding: str | None = None) -> tuple[int, int, int]:
        """(millicores, bytes, gpus) used by running servers other than ``excluding``."""
        cpu = memory = gpu = 0
        for s in self.servers:
            if s.running and s.name != excluding:
                cpu += millicores(s.cpu)
                memory += s.memory
                gpu += s.gpu
        return cpu, memory, gpu
