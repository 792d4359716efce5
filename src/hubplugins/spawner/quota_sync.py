"""The pod create of a start, with a ``ResourceQuota``'s refusal read as the policy's.

Several hubs (or a hub and other services) in one namespace can share GPUs
through a ``ResourceQuota``: the API server admits or refuses each pod
atomically with its creation, so hubs racing never exceed it. Its refusal is
a 403 that KubeSpawner lets end the start as a 500, with the whole pod in a
traceback. Here it becomes the refusal of :mod:`hubplugins.policy.rules.quota` (the
pool's 409, naming the quota, its limit and its usage). A 409 (a pod of that
name exists) goes to KubeSpawner's own handling, as
:func:`hubplugins.spawner.pod_guard.create_pvc` does for volumes; any other error
ends the start, as in KubeSpawner.
"""

from __future__ import annotations

import asyncio
import json
from typing import Any

from kubernetes_asyncio.client.rest import ApiException

from hubplugins.policy.decision import Decision
from hubplugins.policy.errors import PolicyRefusal
from hubplugins.policy.rules.quota import quota_refusal

__all__ = ["create_pod", "quota_refusal_of"]


def quota_refusal_of(error: ApiException) -> Decision | None:
    """The refusal for a pod creation refused by a quota; None for any other error."""
    if error.status != 403:
        return None
    try:
        body = json.loads(error.body or "{}")
    except (TypeError, ValueError):
        return None
    message = body.get("message") if isinstance(body, dict) else None
    return quota_refusal(message) if isinstance(message, str) else None


async def create_pod(spawner: Any, pod: Any, request_timeout: float, fallback: Any) -> bool:
    """Create the pod; raise :class:`PolicyRefusal` if a quota refuses it.

    ``fallback`` is KubeSpawner's ``_make_create_pod_request``: on a 409 it
    sends the request again, meets the existing pod, stops it and has the
    start try again.
    """
    name = pod.metadata.name
    spawner.log.info("Attempting to create pod %s, with timeout %s", name, request_timeout)
    try:
        await asyncio.wait_for(
            spawner.api.create_namespaced_pod(spawner.namespace, pod), request_timeout
        )
    except TimeoutError:
        return False  # tried again, as KubeSpawner does
    except ApiException as e:
        decision = quota_refusal_of(e)
        if decision is not None:
            raise PolicyRefusal(decision) from None
        if e.status == 409:
            return bool(await fallback(pod, request_timeout))
        spawner.log.error("Failed to create pod %s: %s %s", name, e.status, e.reason)
        raise
    return True
