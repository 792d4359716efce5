"""The KubeSpawner adapter: PolicySpawner and what serves it in the hub.

``hubplugins.spawner.PolicySpawner`` is the public path (the ``policy`` entry
point); it is imported on first use, so that the modules beside it can be
imported without building the spawner class.
"""

from __future__ import annotations

from typing import Any

__all__ = ["PolicySpawner"]


def __getattr__(name: str) -> Any:
    if name == "PolicySpawner":
        from hubplugins.spawner.policy_spawner import PolicySpawner

        return PolicySpawner
    raise AttributeError(f"module 'hubplugins.spawner' has no attribute {name!r}")
