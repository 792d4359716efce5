"""The pod a start sends holds only what the policy granted (the spawner's side).

The pure rules are in :mod:`hubplugins.policy.rules.pod_resources`; this module runs them
at two points of a start:

1. **Before anything is created**, at the end of ``load_user_options()``
   (after the grant and the storage settings are applied): the pod manifest
   is built as KubeSpawner builds it and the configured ``modify_pod_hook``
   (sync or async) runs on it; the result is checked. A
   profile's ``extra_resource_limits``, an ``extra_containers`` sidecar, an
   init container, ``extra_pod_config`` or a hook that lifts a limit is
   refused here, before the volume or the pod exists. The SSH key step that
   :mod:`hubplugins.spawner.storage` chains in front of the hook does not run here,
   so nothing is created.
2. **The pod actually sent**, in ``_make_create_pod_request`` (after every
   hook, right before the create request): checked again, so a hook run
   again on a changed pod, or a subclass, cannot slip a larger pod through.
   A refusal there removes what this start created: a volume this start
   created (never one that existed before it, and never one that another
   pod still mounts or another active server of the user may use)
   and the user's SSH key Secret when this start created it and no other
   server of the user is active.

The configured ``modify_pod_hook`` runs once per start, on that first pod:
KubeSpawner's pod of the create is the same pod, and the hook's result is
reused for it (:mod:`hubplugins.spawner.pod_hook`; the hook runs again only when
that pod differs, e.g. a volume name moved). Hooks should only change the
pod they are given.
"""

from __future__ import annotations

from typing import Any

from hubplugins.policy.decision import Decision
from hubplugins.policy.model import Policy
from hubplugins.policy.rules.pod_resources import check_pod
from hubplugins.spawner import ownership, pod_hook, storage

PVC = "persistentvolumeclaims"
SECRET = "secrets"


_body = pod_hook.body


async def check_before_start(spawner: Any, policy: Policy) -> Decision:
    """Build the pod, run the configured hook on it, and check it against the grant."""
    pod = await spawner.get_pod_manifest()
    hook = storage.configured_pod_hook(spawner)
    if hook is not None:
        pod = await pod_hook.run_for_check(spawner, hook, pod)
    else:
        pod_hook.forget(spawner)
    return check_pod(policy, spawner._grant, _body(spawner, pod))


def check_sent(spawner: Any, policy: Policy, pod: Any) -> Decision:
    """Check the pod about to be sent to the API server."""
    return check_pod(policy, spawner._grant, _body(spawner, pod))


async def create_pvc(spawner: Any, pvc: Any, request_timeout: float, fallback: Any) -> bool:
    """KubeSpawner's PVC create, under a name this account may use, remembering what it made.

    The name is settled by :func:`hubplugins.spawner.ownership.create_claim`: a 201
    is this start's volume; a 409 means the volume was there before (read
    once: ours, or the next name is tried). Other API errors go to
    KubeSpawner's own handling (``fallback``), whose answer is taken as it
    is (a volume made there is not counted as this start's, so it is never
    removed: kept rather than lost; its owner is checked before the pod).
    """
    import asyncio

    from kubernetes_asyncio.client.rest import ApiException

    async def create(manifest: Any) -> Any:
        try:
            await asyncio.wait_for(
                spawner.api.create_namespaced_persistent_volume_claim(
                    namespace=spawner.namespace, body=manifest
                ),
                request_timeout,
            )
        except TimeoutError:
            return False  # tried again; a 409 then means "not known to be ours"
        except ApiException as e:
            if e.status == 409:
                return "exists"
            return bool(await fallback(manifest, request_timeout))
        spawner.created_by_start.append((PVC, manifest.metadata.name))
        return "created"

    answer = await ownership.create_claim(spawner, pvc, create)
    if answer == "exists":
        spawner.log.info("PVC %s already exists, so did not create new pvc.", spawner.pvc_name)
    return answer in ("created", "exists", True)


def _others_active(spawner: Any) -> bool:
    spawners = getattr(spawner.user, "spawners", {}) or {}
    return any(other is not spawner and other.active for other in list(spawners.values()))


async def undo_start(spawner: Any) -> None:
    """Remove what this start created before its pod was refused."""
    created = list(spawner.created_by_start)
    spawner.created_by_start = []
    others = _others_active(spawner)
    claims = [name for kind, name in created if kind == PVC]
    mounted = await storage.mounted_elsewhere(spawner, claims)
    for kind, name in reversed(created):
        if others and (kind == SECRET or name not in _own_claims(spawner)):
            reason = "another server of the user is active"
        elif name in mounted:
            reason = "mounted by another server"
        else:
            if await storage.delete_object(spawner, kind, name) and kind == PVC:
                spawner._pvc_exists = False
            continue
        spawner.log.info("Keeping %s %s made by a refused start: %s", kind, name, reason)


def _own_claims(spawner: Any) -> set[str]:
    """Volume names only this server uses (``scope: server``)."""
    if spawner.pvc_name_template == storage.volume_names.SERVER_TEMPLATE:
        return {str(spawner.pvc_name)}
    return set()
