"""Volumes by the policy's ``storage`` section (placeholder until the volume work lands).

``apply_storage(spawner, policy)`` runs after the policy's grant, before
KubeSpawner creates the PVC and builds the pod; ``delete_forever(spawner,
policy)`` replaces KubeSpawner's ``delete_forever``.
"""

from __future__ import annotations

from typing import Any

from .policy_model import Policy


def apply_storage(spawner: Any, policy: Policy) -> None:
    """Set the volume's size from the policy."""
    spawner.storage_capacity = str(policy.storage.capacity)


async def delete_forever(spawner: Any, policy: Policy) -> None:
    """Delete the server's volume only where the policy says so."""
    if policy.storage.scope != "server" or not policy.storage.delete_with_server:
        spawner.log.info("Keeping volume %s of %s: policy", spawner.pvc_name, spawner._log_name)
        return
    from kubespawner import KubeSpawner

    await KubeSpawner.delete_forever(spawner)
