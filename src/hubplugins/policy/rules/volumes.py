"""The volume rules (pure): which volume a server uses, which a delete removes, which it keeps.

Volume names come in as arguments (the spawner's
:mod:`hubplugins.spawner.volume_names` makes them); so do what the hub's
records and the cluster say of them. Nothing here reads the clock or the API:
:mod:`hubplugins.spawner.storage` and :mod:`hubplugins.spawner.ownership` do
the reads, ask these functions, and do what they answer.

At a start:

- :func:`free_server_claim`: a server with no volume yet never takes a name
  another server of the user saved (a renamed server keeps its volume);
- :func:`user_claim_of`: with ``scope: user`` every server of the user uses
  the default server's saved volume, else the one named from the user;
- :func:`merge_volumes`: the configured volumes and mounts, with the
  policy's home volume in place of the configured one;
- :func:`check_mount`: never mount another account's volume (409).

At a delete (each answer a :class:`VolumePlan`: what to delete, what to keep and why):

- :func:`server_delete`: a named server takes only its own volume, where
  ``delete_with_server`` says so; never the user's volume, never a volume
  another server of the user saved;
- :func:`user_delete`: the user (the default server's delete) takes all of
  the user's volumes, where ``delete_with_user`` says so;
- :func:`may_delete`: never another account's volume (or key Secret);
- :func:`keep_mounted`, with :func:`mounted_elsewhere`: never a volume a pod
  of another server still mounts;
- :func:`kept_by_policy`: when nothing goes, the server's volume is reported
  as kept by the policy.

KubeSpawner's own ``delete_pvc = False`` still holds over every plan.
"""

from __future__ import annotations

from collections.abc import Collection, Iterable, Mapping
from dataclasses import dataclass
from typing import Any, Literal

from hubplugins.policy.decision import Decision
from hubplugins.policy.model import StoragePolicy

__all__ = [
    "FOREIGN",
    "HOME_VOLUME",
    "MOUNTED",
    "OTHER_SERVER",
    "POLICY",
    "USER_VOLUME",
    "Kept",
    "Seen",
    "VolumePlan",
    "check_mount",
    "free_server_claim",
    "home_volume",
    "keep_mounted",
    "kept_by_policy",
    "may_delete",
    "merge_volumes",
    "mounted_elsewhere",
    "own_claim",
    "server_delete",
    "user_claim_of",
    "user_delete",
]

HOME_VOLUME = "hubplugins-home"
"""The name of the policy's volume in the pod."""

# why a volume is kept (the ``reason`` of the ``volume_kept`` log line)
USER_VOLUME = "user volume"
OTHER_SERVER = "another server's volume"
MOUNTED = "mounted by another server"
FOREIGN = "another account's"
POLICY = "policy"

MOUNT_RULE = "identity.volume"


@dataclass(frozen=True)
class Kept:
    """A volume a delete leaves in place, and why."""

    claim: str
    reason: str


@dataclass(frozen=True)
class VolumePlan:
    """What a delete does: the volumes to delete (in order) and those kept."""

    delete: tuple[str, ...] = ()
    kept: tuple[Kept, ...] = ()


# -- start ---------------------------------------------------------------------


def free_server_claim(wanted: str, taken: Collection[str]) -> str:
    """``wanted``, else the first of ``wanted-2``, ``wanted-3``... no other server saved.

    A renamed server keeps its volume, whose name came from its old server
    name; a new server given that old name must not get the same volume.
    """
    candidate, n = wanted, 2
    while candidate in taken:
        candidate, n = f"{wanted}-{n}", n + 1
    return candidate


def user_claim_of(
    server: str,
    *,
    own_saved: str | None,
    default_loaded: str | None,
    default_saved: str | None,
    by_name: str,
) -> str:
    """The user's one volume: the default server's saved name, else ``by_name``.

    ``own_saved``: the volume this server saved (None: none); for the default
    server it is the answer. For a named server the default server's name
    wins: as loaded in memory (``default_loaded``), else as saved in the
    hub's database (``default_saved``, so every server agrees whether or not
    the default one is loaded, and a renamed user keeps their volume).
    ``by_name``: the name made from the user name.
    """
    if not server:
        return own_saved if own_saved is not None else by_name
    if default_loaded is not None:
        return default_loaded
    return default_saved or by_name


def home_volume(mount_path: str) -> tuple[dict[str, Any], dict[str, Any]]:
    """The policy's volume (KubeSpawner's ``{pvc_name}``) and its mount at ``mount_path``."""
    volume = {"name": HOME_VOLUME, "persistentVolumeClaim": {"claimName": "{pvc_name}"}}
    return volume, {"name": HOME_VOLUME, "mountPath": mount_path}


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


@dataclass(frozen=True)
class Seen:
    """A volume (or key Secret) as read from the cluster, and what the hub recorded of it.

    ``label``: its owner label (None: none); ``adopted``: which account the
    hub recorded as having adopted it, when unlabelled (``"us"``, ``"other"``
    or None); ``saved``: this account's saved state names it (for a key
    Secret: it is this account's from before owner labels); ``unreadable``:
    the read failed.
    """

    exists: bool
    label: str | None = None
    adopted: Literal["us", "other"] | None = None
    saved: bool = False
    unreadable: bool = False


def check_mount(claim: str, account: str, seen: Seen, *, has_state: bool) -> Decision:
    """May a pod of ``account`` mount the volume ``claim``? 409 when it is another account's.

    Allowed when it does not exist, its owner label is the account's, or it
    is unlabelled and adopted by the account. An unlabelled volume nobody
    adopted is the account's when the server has saved state (KubeSpawner's
    legacy-name lookup for a server from before owner labels): allowed with
    ``details["adopt"]`` (record the adoption).
    """
    if not seen.exists or seen.label == account:
        return Decision.allow(MOUNT_RULE)
    if not seen.label:
        if seen.adopted == "us":
            return Decision.allow(MOUNT_RULE)
        if seen.adopted is None and has_state:
            return Decision.allow(MOUNT_RULE, adopt=True)
    return Decision.refuse(
        MOUNT_RULE,
        f"The volume {claim} belongs to another account; this server was not started. "
        "Ask the hub administrators.",
        status=409,
        limit=claim,
    )


# -- delete --------------------------------------------------------------------


def own_claim(saved: str | None, by_name: str) -> str:
    """The server's volume: its saved name, else the policy's name (``by_name``).

    Never the configured ``pvc_name_template``'s: a server that never saved a
    name never made a volume under it, and expanding it could name another
    server's volume.
    """
    return saved if saved is not None else by_name


def _switched_off(plan: VolumePlan, delete_pvc: bool) -> VolumePlan:
    """KubeSpawner's own ``delete_pvc = False`` still holds: nothing is deleted."""
    return plan if delete_pvc else VolumePlan((), plan.kept)


def server_delete(
    storage: StoragePolicy,
    own: str,
    *,
    user_volumes: Collection[str],
    others_saved: Collection[str],
    delete_pvc: bool = True,
) -> VolumePlan:
    """Deleting a named server: its own volume, with ``scope: server`` and ``delete_with_server``.

    Never the user's volume (``user_volumes``: its name from the user and the
    default server's), never one another server of the user saved
    (``others_saved``).
    """
    if storage.scope != "server" or not storage.delete_with_server:
        return VolumePlan()
    if own in user_volumes:
        return VolumePlan(kept=(Kept(own, USER_VOLUME),))
    if own in others_saved:
        return VolumePlan(kept=(Kept(own, OTHER_SERVER),))
    return _switched_off(VolumePlan((own,)), delete_pvc)


def user_delete(
    storage: StoragePolicy,
    own: str,
    user_volume: str,
    others: Iterable[str],
    *,
    delete_pvc: bool = True,
) -> VolumePlan:
    """Deleting the user: all of their volumes, only with ``delete_with_user``, whatever the scope.

    ``own``: the default server's volume; ``user_volume``: the user's by its
    name; ``others``: the named servers' saved volumes, read only when they
    go (loading a server may instantiate it).
    """
    if not storage.delete_with_user:
        return VolumePlan()
    names = dict.fromkeys([own, user_volume, *others])
    return _switched_off(VolumePlan(tuple(names)), delete_pvc)


def may_delete(account: str, seen: Seen) -> bool:
    """Whether ``account`` may delete the object: ours, adopted by us, or gone already.

    An unlabelled object counts as ours only where this account's saved
    state names it and no other account adopted it. One that could not be
    read is tried (the delete itself retries and reports).
    """
    if seen.unreadable or not seen.exists or seen.label == account:
        return True
    if seen.label:
        return False
    return seen.adopted == "us" or (seen.adopted is None and seen.saved)


def mounted_elsewhere(
    claims: Collection[str],
    pods: Iterable[Mapping[str, Any]],
    namespace: str,
    own_pod: str,
) -> frozenset[str]:
    """Those of ``claims`` a pod in ``namespace`` other than ``own_pod`` mounts.

    ``pods`` as the pod reflector holds them (the API's camelCase keys, or
    the client's snake_case ones).
    """
    in_use: set[str] = set()
    for pod in pods:
        meta = pod.get("metadata") or {}
        if meta.get("namespace") != namespace or meta.get("name") == own_pod:
            continue
        for vol in (pod.get("spec") or {}).get("volumes") or []:
            source = vol.get("persistentVolumeClaim") or vol.get("persistent_volume_claim") or {}
            claim = source.get("claimName") or source.get("claim_name")
            if claim in claims:
                in_use.add(str(claim))
    return frozenset(in_use)


def keep_mounted(claims: Iterable[str], mounted: Collection[str]) -> VolumePlan:
    """``claims`` to delete, less those still mounted (kept, in order)."""
    claims = list(claims)
    return VolumePlan(
        tuple(c for c in claims if c not in mounted),
        tuple(Kept(c, MOUNTED) for c in claims if c in mounted),
    )


def kept_by_policy(own: str, claims: Collection[str]) -> tuple[Kept, ...]:
    """When no volume is left to delete, the server's own is reported kept by the policy."""
    return () if claims else (Kept(own, POLICY),)
