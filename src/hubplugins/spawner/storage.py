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

What to delete and what to keep is decided by :mod:`hubplugins.policy.rules.volumes`;
this module reads what those rules need and does what they answer.

A failed delete is tried again with KubeSpawner's backoff (JupyterHub's
``exponential_backoff``) for :data:`DELETE_PATIENCE` seconds; when it still
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
from collections.abc import Iterator
from typing import Any

from hubplugins._lazy import lazy_classes
from hubplugins.hub import metrics
from hubplugins.policy.model import Policy
from hubplugins.policy.rules import volumes as rules
from hubplugins.policy.rules.volumes import merge_volumes
from hubplugins.spawner import ownership, pod_hook, sshkeys, volume_names

VOLUME_NAME = rules.HOME_VOLUME
DELETE_BACKOFF: dict[str, float] = {"start_wait": 0.25, "scale_factor": 2, "max_wait": 2.0}
"""The pauses between the tries of a delete: up to 0.25 s, 0.5 s, 1 s, then 2 s (with jitter)."""
DELETE_PATIENCE = 3.75
"""Seconds a delete is tried for (the sum of the pauses above): 5 tries at least."""
MIN_TRIES = 5
"""Tries a delete gets at least within :data:`DELETE_PATIENCE` when each answer is quick."""
FAILURES_PATH = r"/api/hubplugins/volume-failures"

FAILED_DELETES: dict[str, dict[str, Any]] = {}
"""``"<namespace>/<name>"`` -> what failed, for objects this hub could not delete."""


class VolumeDeleteError(RuntimeError):
    """A volume or key Secret could not be deleted after every retry."""


# -- what the hub's records say ----------------------------------------------------


def _claims_of_other_servers(spawner: Any) -> set[str]:
    """Volume names the user's other servers saved in their state."""
    states = (
        getattr(orm, "state", None) or {}
        for other, orm in spawner.user.orm_user.orm_spawners.items()
        if other != spawner.name
    )
    return {str(state["pvc_name"]) for state in states if state.get("pvc_name")}


def _saved(spawner: Any) -> str | None:
    """The volume name a loaded spawner saved, or None."""
    return str(spawner.pvc_name) if getattr(spawner, "_pvc_exists", False) else None


def _user_claim_of(spawner: Any) -> str:
    """The user's volume (``scope: user``), asked of :func:`rules.user_claim_of`."""
    orm_spawners = getattr(getattr(spawner.user, "orm_user", None), "orm_spawners", None)
    orm_default = orm_spawners.get("") if hasattr(orm_spawners, "get") else None
    saved = (getattr(orm_default, "state", None) or {}).get("pvc_name")
    default = _existing_spawner(spawner.user, "") if spawner.name else None
    return rules.user_claim_of(
        spawner.name or "",
        own_saved=_saved(spawner),
        default_loaded=_saved(default) if default is not None else None,
        default_saved=str(saved) if saved else None,
        by_name=volume_names.user_claim(spawner.user.name),
    )


def _existing_spawner(user: Any, name: str) -> Any:
    """A spawner of ``user`` already in memory (never instantiated here)."""
    spawners = getattr(user, "spawners", None)
    return spawners.get(name) if hasattr(spawners, "get") else None


def _own_claim(spawner: Any) -> str:
    """The server's volume: its saved name, else the policy's (see :func:`rules.own_claim`)."""
    by_name = volume_names.server_claim(spawner.user.name, spawner.name or "")
    return rules.own_claim(_saved(spawner), by_name)


def _other_claims(spawner: Any) -> Iterator[str]:
    """Saved volume names of the user's named servers (for deleting the user).

    A generator: the servers are loaded (maybe instantiated) only when read.
    """
    user = spawner.user
    names = list(getattr(getattr(user, "orm_user", None), "orm_spawners", {}) or {})
    for name in names:
        if not name:
            continue
        try:
            other = user.spawners[name]
        except Exception:  # a record that cannot be loaded holds no name we can trust
            continue
        if getattr(other, "_pvc_exists", False):
            yield str(other.pvc_name)


# -- start ---------------------------------------------------------------------


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
            wanted = volume_names.server_claim(username, spawner.name or "")
            spawner.pvc_name = rules.free_server_claim(wanted, _claims_of_other_servers(spawner))
    mount_path = volume_names.expand_mount_path(storage.mount_path, username)
    volume, mount = rules.home_volume(mount_path)
    volumes, mounts = [volume], [mount]
    if policy.ssh_keys:
        volumes.append(sshkeys.volume(username))
        mounts.append(sshkeys.volume_mount(mount_path))
    spawner.volumes, spawner.volume_mounts = merge_volumes(
        spawner.volumes, spawner.volume_mounts, volumes, mounts
    )
    _chain_prepare(spawner, policy)


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


def _plan(spawner: Any, policy: Policy, own: str) -> rules.VolumePlan:
    """What the policy says goes: with a named server, or (the default server's) with the user."""
    user_claim = volume_names.user_claim(spawner.user.name)
    delete_pvc = bool(spawner.delete_pvc)
    if not spawner.name:
        others = _other_claims(spawner)
        return rules.user_delete(policy.storage, own, user_claim, others, delete_pvc=delete_pvc)
    return rules.server_delete(
        policy.storage,
        own,
        user_volumes=(user_claim, _user_claim_of(spawner)),
        others_saved=_claims_of_other_servers(spawner),
        delete_pvc=delete_pvc,
    )


async def delete_forever(spawner: Any, policy: Policy) -> None:
    """Delete what the policy says goes with this server (or, for the default one, the user)."""
    own = _own_claim(spawner)
    plan = _plan(spawner, policy, own)
    _log_kept(spawner, plan.kept)
    claims = await ownership.deletable(spawner, ownership.PVC, list(plan.delete))
    unmounted = rules.keep_mounted(claims, await mounted_elsewhere(spawner, claims))
    _log_kept(spawner, unmounted.kept)
    failures = [c for c in unmounted.delete if not await delete_object(spawner, ownership.PVC, c)]
    if not spawner.name:
        # the account's own key Secret, never another account's of the same name
        own_key = await ownership.own_secret(spawner)
        names = [own_key] if own_key else []
        names += await ownership.deletable(
            spawner, ownership.SECRET, [volume_names.ssh_secret(spawner.user.name)]
        )
        for name in dict.fromkeys(names):
            if not await delete_object(spawner, ownership.SECRET, name):
                failures.append(name)
    _log_kept(spawner, rules.kept_by_policy(own, claims))
    if failures:
        raise VolumeDeleteError(
            f"Could not delete {', '.join(failures)} of {spawner._log_name}: still there"
        )


def _log_kept(spawner: Any, kept: tuple[rules.Kept, ...]) -> None:
    for item in kept:
        _log(spawner, "volume_kept", claim=item.claim, reason=item.reason)


async def mounted_elsewhere(spawner: Any, claims: list[str]) -> frozenset[str]:
    """Claims that a pod of another server still mounts (from the pod reflector)."""
    if not claims:
        return frozenset()
    try:
        await spawner._start_watching_pods()
    except Exception:
        spawner.log.warning("Pod list unavailable; checking volumes against no pods")
    reflector = spawner.pod_reflector
    pods = dict(reflector.pods) if reflector is not None else {}
    return rules.mounted_elsewhere(claims, pods.values(), spawner.namespace, spawner.pod_name)


async def delete_object(spawner: Any, resource: str, name: str) -> bool:
    """Delete one object, tried again with backoff; True once it is gone (404 counts as gone)."""
    from jupyterhub.utils import exponential_backoff
    from kubernetes_asyncio.client.rest import ApiException

    call = (
        spawner.api.delete_namespaced_persistent_volume_claim
        if resource == ownership.PVC
        else spawner.api.delete_namespaced_secret
    )
    key = f"{spawner.namespace}/{name}"
    tries: list[str] = []  # the error of each try ("" once it is gone)

    async def gone() -> bool:
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
        tries.append(error)
        if error:
            spawner.log.warning("Deleting %s %s failed (%s); retrying", resource, key, error)
        return not error

    try:
        await exponential_backoff(
            gone,
            f"Could not delete {resource} {key}",
            timeout=DELETE_PATIENCE,
            timeout_tolerance=0,
            **DELETE_BACKOFF,
        )
    except TimeoutError:
        pass
    else:
        FAILED_DELETES.pop(key, None)
        if resource == ownership.PVC:
            _log(spawner, "volume_deleted", claim=name, attempts=len(tries))
        return True
    record = {
        "event": "volume_delete_failed",
        "kind": resource,
        "namespace": spawner.namespace,
        "name": name,
        "claim": name if resource == ownership.PVC else None,
        "user": spawner.user.name,
        "server": spawner.name or "",
        "attempts": len(tries),
        "error": tries[-1],
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


# the handler classes, built on first use (see hubplugins._lazy)
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
