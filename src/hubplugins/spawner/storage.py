"""Volumes and SSH keys by the policy's ``storage`` and ``ssh_keys`` sections.

``apply_storage(spawner, policy)`` runs at the end of ``load_user_options()``
(after the resource grant, before KubeSpawner creates the PVC and builds the
pod). It sets the volume's size, its name and where it is mounted:

- ``scope: server``: one volume per server, ``claim-{user_server}``
  (:mod:`hubplugins.spawner.volume_names`). A name saved in the spawner's state wins,
  so a server keeps its volume across restarts, hub restarts and renames, and
  KubeSpawner's ``handle_legacy_names`` still adopts a volume named by its
  older scheme on the first start;
- ``scope: user``: one volume per user, ``claim-{username}``, mounted in every
  server of the user (the default server's saved name wins, so a user keeps
  their volume after a rename once the default server has started).

Any configured volume that mounts ``{pvc_name}`` is replaced by the policy's
own, mounted at ``mount_path``. With ``ssh_keys`` the user's key Secret
(:mod:`hubplugins.spawner.sshkeys`) is mounted read-only at ``<mount_path>/.ssh`` and
created, before the pod, by :func:`prepare` (chained in front of any
``modify_pod_hook``; calling it from the spawner as well is harmless).

``delete_forever(spawner, policy)`` replaces KubeSpawner's: deleting a named
server deletes its own volume where ``delete_with_server`` says so (never the
user's volume, never one another server's pod still mounts); deleting the
user (the default server's ``delete_forever``) deletes all of the user's
volumes where ``delete_with_user`` says so, and their SSH key Secret.

A failed delete is retried with backoff (:data:`RETRY_DELAYS`); when every try
fails it is logged at ERROR as one JSON line (``"event":
"volume_delete_failed"`` with the claim name), counted in
``hubplugins_volume_delete_failures_total``, kept in :data:`FAILED_DELETES`
(served to admins at ``/hub/api/hubplugins/volume-failures``) and raised.
JupyterHub logs and swallows that exception and forgets the server anyway, so
the ERROR line, the metric and that list are what tell the admin a volume is
still there.
"""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import Iterable
from typing import Any

from hubplugins.hub import metrics
from hubplugins.hub.lazy import lazy_classes
from hubplugins.policy.model import Policy
from hubplugins.spawner import ownership, pod_hook, sshkeys, volume_names

VOLUME_NAME = "hubplugins-home"
RETRY_DELAYS: tuple[float, ...] = (0.25, 0.5, 1.0, 2.0)
"""Pauses between the tries of a delete (5 tries in all, about 4 s)."""
FAILURES_PATH = r"/api/hubplugins/volume-failures"

FAILED_DELETES: dict[str, dict[str, Any]] = {}
"""``"<namespace>/<name>"`` -> what failed, for objects this hub could not delete."""


class VolumeDeleteError(RuntimeError):
    """A volume or key Secret could not be deleted after every retry."""


# -- start ---------------------------------------------------------------------


def _claims_of_other_servers(spawner: Any) -> set[str]:
    """Volume names the user's other servers saved in their state."""
    states = (
        getattr(orm, "state", None) or {}
        for other, orm in spawner.user.orm_user.orm_spawners.items()
        if other != spawner.name
    )
    return {str(state["pvc_name"]) for state in states if state.get("pvc_name")}


def _free_server_claim(spawner: Any) -> str:
    """The volume name of a server that has none yet, unused by the user's others.

    A renamed server keeps its volume, whose name came from its old server
    name; a new server given that old name must not get the same volume.
    """
    name = volume_names.server_claim(spawner.user.name, spawner.name or "")
    taken = _claims_of_other_servers(spawner)
    candidate, n = name, 2
    while candidate in taken:
        candidate, n = f"{name}-{n}", n + 1
    return candidate


def apply_storage(spawner: Any, policy: Policy) -> None:
    """Set the volume's size, name and mounts (and the SSH key mount) from the policy."""
    storage = policy.storage
    username = spawner.user.name
    spawner.storage_capacity = str(storage.capacity)
    spawner.storage_pvc_ensure = True
    if storage.scope == "user":
        spawner.pvc_name_template = volume_names.USER_TEMPLATE
        name = _user_claim_of(spawner)
        if spawner.pvc_name != name:
            spawner.pvc_name = name
            spawner._pvc_exists = False  # make sure it exists (409 = it does)
    else:
        spawner.pvc_name_template = volume_names.SERVER_TEMPLATE
        if not spawner._pvc_exists:
            spawner.pvc_name = _free_server_claim(spawner)
    mount_path = volume_names.expand_mount_path(storage.mount_path, username)
    volumes = [{"name": VOLUME_NAME, "persistentVolumeClaim": {"claimName": "{pvc_name}"}}]
    mounts = [{"name": VOLUME_NAME, "mountPath": mount_path}]
    if policy.ssh_keys:
        volumes.append(sshkeys.volume(username))
        mounts.append(sshkeys.volume_mount(mount_path))
    spawner.volumes, spawner.volume_mounts = merge_volumes(
        spawner.volumes, spawner.volume_mounts, volumes, mounts
    )
    _chain_prepare(spawner, policy)


def merge_volumes(
    volumes: Iterable[dict[str, Any]] | dict[str, Any],
    mounts: Iterable[dict[str, Any]] | dict[str, Any],
    new_volumes: list[dict[str, Any]],
    new_mounts: list[dict[str, Any]],
) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    """Configured volumes and mounts with the policy's in place of the home volume.

    Dropped: volumes named like the policy's, volumes of ``{pvc_name}`` (the
    configured home), and mounts of dropped volumes or at a path the policy
    mounts.
    """
    if isinstance(volumes, dict):  # KubeSpawner also takes {key: volume}
        volumes = volumes.values()
    if isinstance(mounts, dict):
        mounts = mounts.values()
    ours = {v["name"] for v in new_volumes}
    paths = {m["mountPath"].rstrip("/") for m in new_mounts}
    dropped: set[str] = set()
    kept_volumes = []
    for vol in volumes:
        claim = (vol.get("persistentVolumeClaim") or {}).get("claimName")
        if vol.get("name") in ours or claim == "{pvc_name}":
            dropped.add(vol.get("name", ""))
        else:
            kept_volumes.append(vol)
    kept_mounts = [
        m
        for m in mounts
        if m.get("name") not in dropped
        and m.get("name") not in ours
        and str(m.get("mountPath", "")).rstrip("/") not in paths
    ]
    return kept_volumes + new_volumes, kept_mounts + new_mounts


def _user_claim_of(spawner: Any) -> str:
    """The user's volume: the default server's saved name, else the name from the user.

    The default server's name is read from its saved state in the hub's
    database, so every server of the user agrees on it whether or not the
    default server is loaded, and it survives a rename of the user.
    """
    if not spawner.name:
        if getattr(spawner, "_pvc_exists", False):
            return str(spawner.pvc_name)
    else:
        default = _existing_spawner(spawner.user, "")
        if default is not None and getattr(default, "_pvc_exists", False):
            return str(default.pvc_name)
        orm_spawners = getattr(getattr(spawner.user, "orm_user", None), "orm_spawners", None)
        orm_default = orm_spawners.get("") if hasattr(orm_spawners, "get") else None
        saved = (getattr(orm_default, "state", None) or {}).get("pvc_name")
        if saved:
            return str(saved)
    return volume_names.user_claim(spawner.user.name)


def _existing_spawner(user: Any, name: str) -> Any:
    """A spawner of ``user`` already in memory (never instantiated here)."""
    spawners = getattr(user, "spawners", None)
    return spawners.get(name) if hasattr(spawners, "get") else None


def configured_pod_hook(spawner: Any) -> Any:
    """The ``modify_pod_hook`` the admin configured, without :func:`prepare` in front."""
    return getattr(spawner, "_hubplugins_pod_hook", spawner.modify_pod_hook)


def _chain_prepare(spawner: Any, policy: Policy) -> None:
    """Run :func:`prepare` right before the pod is created, then any configured hook."""
    if not hasattr(spawner, "_hubplugins_pod_hook"):
        spawner._hubplugins_pod_hook = spawner.modify_pod_hook
    original = spawner._hubplugins_pod_hook

    async def modify_pod(sp: Any, pod: Any) -> Any:
        await prepare(sp, policy)
        if original is None:
            return pod
        return await pod_hook.run_for_start(sp, original, pod)

    spawner.modify_pod_hook = modify_pod


async def prepare(spawner: Any, policy: Policy) -> None:
    """Create what the pod needs beyond its volume: the user's SSH key Secret."""
    if getattr(spawner, "storage_pvc_ensure", False):
        await ownership.guard(spawner)  # the volume KubeSpawner settled on is this account's
    if policy.ssh_keys:
        spawner.ssh_public_key = await sshkeys.ensure_secret(
            spawner.api,
            spawner.namespace,
            spawner.user.name,
            created=getattr(spawner, "created_by_start", None),
            name=getattr(spawner, "_hubplugins_ssh_secret", None),
            owner=ownership.owner(spawner),
        )


# -- delete --------------------------------------------------------------------


async def delete_forever(spawner: Any, policy: Policy) -> None:
    """Delete what the policy says goes with this server (or, for the default one, the user)."""
    storage = policy.storage
    username = spawner.user.name
    user_claim = volume_names.user_claim(username)
    own = _own_claim(spawner)
    claims: list[str] = []
    if spawner.name:
        # a named server is deleted; the user's own volume never goes with it
        if storage.scope == "server" and storage.delete_with_server:
            if own in (user_claim, _user_claim_of(spawner)):
                _log(spawner, "volume_kept", claim=own, reason="user volume")
            elif own in _claims_of_other_servers(spawner):
                _log(spawner, "volume_kept", claim=own, reason="another server's volume")
            else:
                claims.append(own)
    elif storage.delete_with_user:
        # the default server is deleted only with its user
        claims = [own, user_claim, *_other_claims(spawner)]
    if not spawner.delete_pvc:  # KubeSpawner's own switch still holds
        claims = []
    claims = await ownership.deletable(spawner, ownership.PVC, list(dict.fromkeys(claims)))
    kept = await _mounted_elsewhere(spawner, claims)
    for claim in kept:
        _log(spawner, "volume_kept", claim=claim, reason="mounted by another server")
    failures: list[str] = []
    for claim in claims:
        if claim in kept:
            continue
        if not await _delete_with_retry(spawner, "persistentvolumeclaims", claim):
            failures.append(claim)
    if not spawner.name:
        # the account's own key Secret, never another account's of the same name
        own_key = await ownership.own_secret(spawner)
        names = [own_key] if own_key else []
        names += await ownership.deletable(
            spawner, ownership.SECRET, [volume_names.ssh_secret(username)]
        )
        for name in dict.fromkeys(names):
            if not await _delete_with_retry(spawner, "secrets", name):
                failures.append(name)
    if not claims:
        _log(spawner, "volume_kept", claim=own, reason="policy")
    if failures:
        raise VolumeDeleteError(
            f"Could not delete {', '.join(failures)} of {spawner._log_name}: still there"
        )


def _own_claim(spawner: Any) -> str:
    """The server's volume: its saved name, else the policy's (never the configured template's).

    A server that never saved a name never made a volume under the configured
    ``pvc_name_template``; expanding that template could name another
    server's volume.
    """
    if getattr(spawner, "_pvc_exists", False):
        return str(spawner.pvc_name)
    return volume_names.server_claim(spawner.user.name, spawner.name or "")


def _other_claims(spawner: Any) -> list[str]:
    """Saved volume names of the user's named servers (for deleting the user)."""
    user = spawner.user
    names = list(getattr(getattr(user, "orm_user", None), "orm_spawners", {}) or {})
    claims = []
    for name in names:
        if not name:
            continue
        try:
            other = user.spawners[name]
        except Exception:  # a record that cannot be loaded holds no name we can trust
            continue
        if getattr(other, "_pvc_exists", False):
            claims.append(str(other.pvc_name))
    return claims


async def _mounted_elsewhere(spawner: Any, claims: list[str]) -> set[str]:
    """Claims that a pod of another server still mounts (from the pod reflector)."""
    if not claims:
        return set()
    try:
        await spawner._start_watching_pods()
    except Exception:
        spawner.log.warning("Pod list unavailable; checking volumes against no pods")
    reflector = spawner.pod_reflector
    pods = dict(reflector.pods) if reflector is not None else {}
    in_use = set()
    for pod in pods.values():
        meta = pod.get("metadata") or {}
        if meta.get("namespace") != spawner.namespace or meta.get("name") == spawner.pod_name:
            continue
        for vol in (pod.get("spec") or {}).get("volumes") or []:
            source = vol.get("persistentVolumeClaim") or vol.get("persistent_volume_claim") or {}
            claim = source.get("claimName") or source.get("claim_name")
            if claim in claims:
                in_use.add(claim)
    return in_use


async def _delete_with_retry(spawner: Any, resource: str, name: str) -> bool:
    """Delete one object, retrying; True once it is gone (404 counts as gone)."""
    from kubernetes_asyncio.client.rest import ApiException

    call = (
        spawner.api.delete_namespaced_persistent_volume_claim
        if resource == "persistentvolumeclaims"
        else spawner.api.delete_namespaced_secret
    )
    key = f"{spawner.namespace}/{name}"
    error = ""
    for attempt, pause in enumerate((*RETRY_DELAYS, None), start=1):
        error = ""
        try:
            await asyncio.wait_for(
                call(name=name, namespace=spawner.namespace), spawner.k8s_api_request_timeout
            )
        except ApiException as e:
            if e.status != 404:  # 404: already gone
                error = f"{e.status} {e.reason}"
        except (TimeoutError, OSError) as e:
            error = f"{type(e).__name__}: {e}"
        if not error:
            FAILED_DELETES.pop(key, None)
            if resource == "persistentvolumeclaims":
                _log(spawner, "volume_deleted", claim=name, attempts=attempt)
            return True
        if pause is None:
            break
        spawner.log.warning("Deleting %s %s failed (%s); retrying", resource, key, error)
        await asyncio.sleep(pause)
    record = {
        "event": "volume_delete_failed",
        "kind": resource,
        "namespace": spawner.namespace,
        "name": name,
        "claim": name if resource == "persistentvolumeclaims" else None,
        "user": spawner.user.name,
        "server": spawner.name or "",
        "attempts": len(RETRY_DELAYS) + 1,
        "error": error,
        "time": time.time(),
    }
    FAILED_DELETES[key] = record
    metrics.VOLUME_DELETE_FAILURES.inc()
    spawner.log.error("hubplugins %s", json.dumps(record, sort_keys=True))
    return False


def _log(spawner: Any, event: str, **fields: Any) -> None:
    payload = {"event": event, "user": spawner.user.name, "server": spawner.name or "", **fields}
    spawner.log.info("hubplugins %s", json.dumps(payload, sort_keys=True))


# -- admin view ----------------------------------------------------------------


def _failures_handler() -> type:
    from jupyterhub.apihandlers.base import APIHandler
    from jupyterhub.scopes import needs_scope

    class VolumeFailuresHandler(APIHandler):
        """``GET /hub/api/hubplugins/volume-failures``: volumes this hub failed to delete."""

        @needs_scope("admin:servers")
        async def get(self) -> None:
            self.finish({"failures": sorted(FAILED_DELETES.values(), key=lambda r: r["time"])})

    return VolumeFailuresHandler


# the handler classes, built on first use (see hubplugins.hub.lazy)
__getattr__ = lazy_classes(__name__, _failures_handler, "VolumeFailuresHandler")


def setup_handlers(c: Any) -> None:
    """The ``setup(c)`` step: serve :func:`handlers` from the hub.

    ``GET /hub/api/hubplugins/sshkey`` gives the signed-in user's public key;
    ``GET /hub/api/hubplugins/volume-failures`` (scope ``admin:servers``) lists
    volumes the hub failed to delete. JupyterHub logs a deprecation notice
    for ``extra_handlers`` at start; the endpoints work on 5.5 and 6.x.
    """
    existing = list(c.JupyterHub.extra_handlers) if "extra_handlers" in c.JupyterHub else []
    paths = {entry[0] for entry in existing}
    c.JupyterHub.extra_handlers = [*existing, *(h for h in handlers() if h[0] not in paths)]


def handlers() -> list[tuple[str, Any]]:
    """Entries for ``c.JupyterHub.extra_handlers``: volume failures and the SSH key."""
    return [(FAILURES_PATH, __getattr__("VolumeFailuresHandler")), *sshkeys.handlers()]
