"""The pod a start sends holds only what the policy granted (the spawner's side).

The pure rules are in :mod:`hubplugins.pod_resources`; this module runs them
at two points of a start:

1. **Before anything is created**, at the end of ``load_user_options()``
   (after the grant and the storage settings are applied): the pod manifest
   is built as KubeSpawner builds it and the configured ``modify_pod_hook``
   (sync or async) runs on that throwaway copy; the result is checked. A
   profile's ``extra_resource_limits``, an ``extra_containers`` sidecar, an
   init container, ``extra_pod_config`` or a hook that lifts a limit is
   refused here, before the volume or the pod exists. The SSH key step that
   :mod:`hubplugins.storage` chains in front of the hook does not run here,
   so nothing is created.
2. **The pod actually sent**, in ``_make_create_pod_request`` (after every
   hook, right before the create request): checked again, so a hook that acts
   differently the second time, or a subclass, cannot slip a larger pod
   through. A refusal there removes what this start created: a volume this
   start created (never one that existed before it, and never one that
   another pod still mounts or another active server of the user may use)
   and the user's SSH key Secret when this start created it and no other
   server of the user is active.

The configured ``modify_pod_hook`` therefore runs twice per start: once on
the throwaway copy and once on the pod that is sent. Hooks should only
change the pod they are given (or be safe to run twice).
"""

from __future__ import annotations

from typing import Any

from jupyterhub.utils import maybe_future

from . import storage
from .decisions import Decision
from .pod_resources import check_pod, plain
from .policy_model import Policy

PVC = "persistentvolumeclaims"
SECRET = "secrets"


def _body(spawner: Any, pod: Any) -> Any:
    """The JSON the API server receives for ``pod``."""
    client = getattr(getattr(spawner, "api", None), "api_client", None)
    if client is not None:
        return client.sanitize_for_serialization(pod)
    return plain(pod)


async def check_before_start(spawner: Any, policy: Policy) -> Decision:
    """Build the pod, run the configured hook on it, and check it against the grant."""
    pod = await spawner.get_pod_manifest()
    hook = storage.configured_pod_hook(spawner)
    if hook is not None:
        pod = await maybe_future(hook(spawner, pod))
    return check_pod(policy, spawner._grant, _body(spawner, pod))


def check_sent(spawner: Any, policy: Policy, pod: Any) -> Decision:
    """Check the pod about to be sent to the API server."""
    return check_pod(policy, spawner._grant, _body(spawner, pod))


async def create_pvc(spawner: Any, pvc: Any, request_timeout: float, fallback: Any) -> bool:
    """KubeSpawner's PVC create, remembering a volume this start created.

    A 409 means the volume was there before: it is not this start's. Other
    API errors go to KubeSpawner's own handling (``fallback``), whose answer
    is taken as it is (a volume made there is not counted as this start's,
    so it is never removed: kept rather than lost).
    """
    import asyncio

    from kubernetes_asyncio.client.rest import ApiException

    try:
        await asyncio.wait_for(
            spawner.api.create_namespaced_persistent_volume_claim(
                namespace=spawner.namespace, body=pvc
            ),
            request_timeout,
        )
    except TimeoutError:
        return False  # tried again; a 409 then means "not known to be ours"
    except ApiException as e:
        if e.status == 409:
            spawner.log.info("PVC %s already exists, so did not create new pvc.", pvc.metadata.name)
            return True
        return bool(await fallback(pvc, request_timeout))
    spawner.created_by_start.append((PVC, pvc.metadata.name))
    return True


def _others_active(spawner: Any) -> bool:
    spawners = getattr(spawner.user, "spawners", {}) or {}
    return any(other is not spawner and other.active for other in list(spawners.values()))


async def undo_start(spawner: Any) -> None:
    """Remove what this start created before its pod was refused."""
    created = list(spawner.created_by_start)
    spawner.created_by_start = []
    others = _others_active(spawner)
    claims = [name for kind, name in created if kind == PVC]
    mounted = await storage._mounted_elsewhere(spawner, claims)
    for kind, name in reversed(created):
        if others and (kind == SECRET or name not in _own_claims(spawner)):
            reason = "another server of the user is active"
        elif name in mounted:
            reason = "mounted by another server"
        else:
            if await storage._delete_with_retry(spawner, kind, name) and kind == PVC:
                spawner._pvc_exists = False
            continue
        spawner.log.info("Keeping %s %s made by a refused start: %s", kind, name, reason)


def _own_claims(spawner: Any) -> set[str]:
    """Volume names only this server uses (``scope: server``)."""
    if spawner.pvc_name_template == storage.volume_names.SERVER_TEMPLATE:
        return {str(spawner.pvc_name)}
    return set()
