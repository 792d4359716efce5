"""Volumes, SSH keys and pods belong to an account, not to a name.

Every object the spawner creates carries the account's owner id
(:data:`~hubplugins.policy.rules.identity.OWNER_LABEL`, from :mod:`hubplugins.hub.identity`)
in its labels, set at creation (the chart's Role can create, not patch).
:func:`settle` runs at the end of ``load_user_options()``, before anything is
created, and picks for this start:

- the volume: the name chosen by :mod:`hubplugins.spawner.storage` when it is free,
  ours, or unlabelled and named by the account's saved state (adopted once:
  a log line and a row in ``hubplugins_adoptions``); otherwise (another
  account's: a rename freed the name, or a deleted user's kept volume) the
  first free ``<name>-2``, ``<name>-3``... A volume KubeSpawner will create
  is decided by :func:`create_claim` at its create, so that a first start
  reads nothing (a 201 is ours; only a 409 is read); one named by saved
  state (not created again) is read here;
- the pod name: likewise, so a new account never collides with a renamed
  account's running pod (KubeSpawner would delete that pod on a 409);
- the SSH key Secret: the one labelled with the account's owner, else a free
  name by the same rule.

:func:`guard` checks the final volume again right before the pod is created
(KubeSpawner may switch to a legacy-named volume after ``load_user_options``)
and refuses with 409 when it is another account's. :func:`deletable` keeps
another account's objects out of every delete.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import Any, Literal

from hubplugins.hub import identity, refusals
from hubplugins.policy.decision import Decision
from hubplugins.policy.errors import PolicyRefusal
from hubplugins.policy.rules.identity import OWNER_LABEL, candidates, claim_verdict
from hubplugins.policy.rules.volumes import FOREIGN, Seen, check_mount, may_delete
from hubplugins.spawner import sshkeys, volume_names

PVC, SECRET, POD = "persistentvolumeclaims", "secrets", "pods"


def owner(spawner: Any) -> str:
    """The owner id of the spawner's account (made now if it has none)."""
    return identity.owner_of(spawner.user.db, spawner.user.id)


async def _read(spawner: Any, kind: str, name: str) -> Any:
    """The object as the API returns it, or None on 404.

    Pods come from the pod reflector KubeSpawner already runs, once it has
    listed them (no request); volumes and Secrets from the API.
    """
    from kubernetes_asyncio.client.rest import ApiException

    from hubplugins.spawner.pool_sync import pods_now

    pods = pods_now(spawner) if kind == POD else None
    if pods is not None:
        return pods.get(f"{spawner.namespace}/{name}")

    method = {
        PVC: "read_namespaced_persistent_volume_claim",
        SECRET: "read_namespaced_secret",
        POD: "read_namespaced_pod",
    }[kind]
    call = getattr(spawner.api, method)
    try:
        return await call(name=name, namespace=spawner.namespace)
    except ApiException as e:
        if e.status == 404:
            return None
        raise


def _labels(obj: Any) -> dict[str, str]:
    meta = obj.get("metadata") if isinstance(obj, dict) else obj.metadata
    labels = (meta.get("labels") if isinstance(meta, dict) else meta.labels) or {}
    return dict(labels)


def saved_claims(spawner: Any) -> set[str]:
    """Volume names any server of this account saved in its state."""
    names = {
        str((getattr(orm, "state", None) or {}).get("pvc_name"))
        for orm in spawner.user.orm_user.orm_spawners.values()
    }
    if getattr(spawner, "_pvc_exists", False):
        names.add(str(spawner.pvc_name))
    names.discard("None")
    return names


async def may_use(spawner: Any, kind: str, name: str, account: str, saved: set[str]) -> bool:
    """Whether this account may use the object of ``name`` (read now): free, ours or adopted.

    An unlabelled object named by the account's saved state is adopted here
    (a log line and a row in ``hubplugins_adoptions``).
    """
    db, uid, ns = spawner.user.db, spawner.user.id, spawner.namespace
    obj = await _read(spawner, kind, name)
    label = _labels(obj).get(OWNER_LABEL) if obj is not None else None
    adopter = identity.adopted_by(db, kind, ns, name) if obj is not None and not label else None
    if adopter == uid:
        return True
    verdict = claim_verdict(
        account,
        label,
        exists=obj is not None,
        saved=name in saved,
        adopted_by_other=adopter is not None,
    )
    if verdict == "adopt":
        identity.record_adoption(db, uid, kind, ns, name)
        _log(spawner, "object_adopted", kind=kind, name=name, owner=account)
        return True
    if verdict in ("free", "ours"):
        return True
    _log(spawner, "object_of_another_account", kind=kind, name=name)
    return False


def names_taken(kind: str, wanted: str) -> PolicyRefusal:
    """The refusal when every name tried for an object is another account's."""
    return PolicyRefusal(
        Decision.refuse(
            "identity.names",
            f"Every name tried for your {kind} ({wanted} and its variants) belongs to "
            "another account. Ask the hub administrators to clean up old objects.",
            status=409,
            limit=wanted,
        )
    )


async def _pick(spawner: Any, kind: str, wanted: str, account: str, saved: set[str]) -> str:
    """The first of ``wanted``, ``wanted-2``... this account may use."""
    for name in candidates(wanted):
        if await may_use(spawner, kind, name, account, saved):
            return name
    raise names_taken(kind, wanted)


async def settle(spawner: Any, policy: Any) -> None:
    """Label what this start creates with the owner; never use another account's names."""
    try:
        await _settle(spawner, policy)
    except PolicyRefusal as refusal:
        raise _refuse(spawner, "spawn", refusal) from None


async def _settle(spawner: Any, policy: Any) -> None:
    account = owner(spawner)
    mine = {OWNER_LABEL: account}
    spawner.storage_extra_labels = {**spawner.storage_extra_labels, **mine}
    spawner.extra_labels = {**spawner.extra_labels, **mine}
    spawner._hubplugins_settled_claim = None
    if spawner._pvc_exists:
        # KubeSpawner will not create it (saved state names it): read it now
        wanted = str(spawner.pvc_name)
        name = await _pick(spawner, PVC, wanted, account, saved_claims(spawner))
        if name != wanted:
            spawner.pvc_name = name
            spawner._pvc_exists = False
        spawner._hubplugins_settled_claim = name
    # otherwise create_claim() checks the volume when KubeSpawner creates it
    pod = await _pod_name(spawner, account)
    if pod != spawner.pod_name:
        spawner.pod_name = pod
        spawner.dns_name = spawner.dns_name_template.format(namespace=spawner.namespace, name=pod)
    if policy.ssh_keys:
        secret = await own_secret(spawner, account)
        if secret is None:
            base = volume_names.ssh_secret(spawner.user.name)
            saved = {base} if await _legacy_secret_of(spawner, base) else set()
            secret = await _pick(spawner, SECRET, base, account, saved)
        spawner._hubplugins_ssh_secret = secret
        spawner.volumes = [
            sshkeys.volume(spawner.user.name, secret) if v.get("name") == sshkeys.VOLUME_NAME else v
            for v in spawner.volumes
        ]


async def _pod_name(spawner: Any, account: str) -> str:
    """The pod name for this start: KubeSpawner's, unless another account's pod has it.

    An unlabelled pod of the name is another account's when a running server
    of another account saved that pod name (a renamed account's server from
    before owner labels); otherwise it is a leftover of this account, which
    KubeSpawner replaces as usual.
    """
    wanted = str(spawner.pod_name)
    held: set[str] | None = None  # read only for an unlabelled pod of the name
    for name in candidates(wanted):
        obj = await _read(spawner, POD, name)
        label = _labels(obj).get(OWNER_LABEL) if obj is not None else None
        if obj is None or label == account:
            return name
        if not label:
            if held is None:
                held = _pods_of_other_running_servers(spawner)
            if name not in held:
                return name
        _log(spawner, "object_of_another_account", kind=POD, name=name)
    raise PolicyRefusal(
        Decision.refuse(
            "identity.names",
            f"Every pod name tried ({wanted} and its variants) is another account's. "
            "Ask the hub administrators to clean up old pods.",
            status=409,
            limit=wanted,
        )
    )


def _pods_of_other_running_servers(spawner: Any) -> set[str]:
    """Pod names saved by running servers of other accounts (one query; rare: see above)."""
    from jupyterhub import orm

    rows = (
        spawner.user.db.query(orm.Spawner)
        .filter(orm.Spawner.server_id.isnot(None), orm.Spawner.user_id != spawner.user.id)
        .all()
    )
    return {str((row.state or {}).get("pod_name")) for row in rows if row.state}


async def create_claim(spawner: Any, pvc: Any, create: Any) -> Any:
    """Create the server's volume with the owner label, or use it where it is ours.

    ``create(manifest)`` sends the create and returns ``"created"`` (201),
    ``"exists"`` (409) or anything else (given back, unchecked). A 201 is
    proof enough: the volume did not exist, and is made with this account's
    owner label, so it is read only on a 409. One of another account is
    never used: the next of ``<name>-2``, ``<name>-3``... is tried, and when
    every one is another's the start is refused (409) with nothing created.
    Returns what ``create`` answered for the name used (then in
    ``spawner.pvc_name``).
    """
    account = owner(spawner)
    saved = saved_claims(spawner)
    wanted = str(pvc.metadata.name)
    for name in candidates(wanted):
        spawner.pvc_name = name
        if name != pvc.metadata.name:
            pvc = spawner.get_pvc_manifest()
        answer = await create(pvc)
        if answer == "created":
            labels = pvc.metadata.labels or {}
            if labels.get(OWNER_LABEL) == account:
                spawner._hubplugins_settled_claim = name
            return str(answer)
        if answer != "exists":
            return answer  # not checked here: guard() reads it before the pod
        if await may_use(spawner, PVC, name, account, saved):
            spawner._hubplugins_settled_claim = name
            return str(answer)
    raise _refuse(spawner, "spawn", names_taken(PVC, wanted))


async def _legacy_secret_of(spawner: Any, name: str) -> bool:
    """An unlabelled key Secret made for this name, and the account started servers before.

    Key Secrets are not named in saved state; one made before owner labels
    is this account's when its annotation names the user, the account has
    saved state (a new account of a freed name has none) and no key of its
    own: a new account of a freed name gets one at its first start, so the
    old key stays another's once that account has saved state too.
    """
    obj = await _read(spawner, SECRET, name)
    if obj is None or _labels(obj).get(OWNER_LABEL):
        return False
    if _older_than_the_account(obj, spawner.user.orm_user):
        return False  # made for an earlier account of the name
    if await own_secret(spawner) is not None:
        return False
    meta = obj.metadata
    annotations = (meta.annotations if meta is not None else None) or {}
    started = any(getattr(o, "state", None) for o in spawner.user.orm_user.orm_spawners.values())
    return bool(started and annotations.get("hubplugins.io/username") == spawner.user.name)


def _older_than_the_account(obj: Any, orm_user: Any) -> bool:
    """Whether the object was made before the account was (an earlier account's)."""
    made = getattr(getattr(obj, "metadata", None), "creation_timestamp", None)
    created = getattr(orm_user, "created", None)
    if not isinstance(made, datetime) or not isinstance(created, datetime):
        return False
    made = made if made.tzinfo else made.replace(tzinfo=UTC)
    created = created if created.tzinfo else created.replace(tzinfo=UTC)  # JupyterHub: UTC
    # Kubernetes keeps whole seconds: an object of the account's own second is not older
    return made < created.replace(microsecond=0)


async def own_secret(spawner: Any, account: str | None = None) -> str | None:
    """The name of the SSH key Secret labelled with this account's owner, or None."""
    account = account or owner(spawner)
    found = await spawner.api.list_namespaced_secret(
        namespace=spawner.namespace,
        label_selector=f"{OWNER_LABEL}={account},hubplugins.io/kind=sshkey",
    )
    names = sorted(item.metadata.name for item in found.items or [])
    return names[0] if names else None


async def guard(spawner: Any) -> None:
    """Refuse (409) to create a pod that mounts another account's volume (:func:`check_mount`)."""
    claim = str(spawner.pvc_name)
    if claim == getattr(spawner, "_hubplugins_settled_claim", None):
        return  # checked by settle() in this start
    obj = await _read(spawner, PVC, claim)
    if obj is None:
        return
    label = _labels(obj).get(OWNER_LABEL)
    account = owner(spawner)
    db, ns = spawner.user.db, spawner.namespace
    seen = Seen(True, label, _adopted(spawner, PVC, claim) if not label else None)
    orm_spawner = getattr(spawner, "orm_spawner", None)
    has_state = orm_spawner is not None and bool(orm_spawner.state)
    decision = check_mount(claim, account, seen, has_state=has_state)
    if decision.allowed:
        if decision.details.get("adopt"):
            # KubeSpawner's legacy-name lookup for an account with state from before
            identity.record_adoption(db, spawner.user.id, PVC, ns, claim)
            _log(spawner, "object_adopted", kind=PVC, name=claim, owner=account)
        return
    raise _refuse(spawner, "pod", decision)


def _refuse(spawner: Any, event: str, refused: Decision | PolicyRefusal) -> Exception:
    return refusals.refuse(spawner.log, event, refused, user=spawner.user.name, server=spawner.name)


def _adopted(spawner: Any, kind: str, name: str) -> Literal["us", "other"] | None:
    """Which account the hub recorded as having adopted the unlabelled object, if any."""
    adopter = identity.adopted_by(spawner.user.db, kind, spawner.namespace, name)
    if adopter is None:
        return None
    return "us" if adopter == spawner.user.id else "other"


async def deletable(spawner: Any, kind: str, names: list[str]) -> list[str]:
    """Those of ``names`` this account may delete (:func:`may_delete`): ours, adopted, or gone.

    An unlabelled object counts as ours only where this account's saved state
    names it (or it adopted it); another account's is kept, with a log line.
    """
    account = owner(spawner)
    saved = saved_claims(spawner) if kind == PVC else set()
    if kind == SECRET:
        saved = {n for n in names if await _legacy_secret_of(spawner, n)}
    keep = []
    for name in names:
        try:
            obj = await _read(spawner, kind, name)
        except Exception:
            seen = Seen(True, unreadable=True)
        else:
            label = _labels(obj).get(OWNER_LABEL) if obj is not None else None
            adopted = _adopted(spawner, kind, name) if obj is not None and not label else None
            seen = Seen(obj is not None, label, adopted, saved=name in saved)
        if may_delete(account, seen):
            keep.append(name)
        else:
            _log(spawner, "volume_kept", claim=name, kind=kind, reason=FOREIGN)
    return keep


def _log(spawner: Any, event: str, **fields: Any) -> None:
    payload = {"event": event, "user": spawner.user.name, "server": spawner.name or "", **fields}
    spawner.log.info("hubplugins %s", json.dumps(payload, sort_keys=True))
