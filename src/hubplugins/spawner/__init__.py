"""The KubeSpawner adapter: PolicySpawner and what serves it in the hub.

``hubplugins.spawner.PolicySpawner`` is the public path (the ``policy`` entry
point); it is imported on first use, so that the modules beside it can be
imported without building the spawner class.
"""

from __future__ import annotations

from hubplugins._lazy import lazy_names

__all__ = ["PolicySpawner"]

__getattr__ = lazy_names(__name__, {"PolicySpawner": "hubplugins.spawner.policy_spawner"})
