"""What ``storage`` does, table-driven, on a stand-in spawner (no cluster).

The rules themselves are tabled in ``tests/policy/rules/test_volumes.py``;
these cases check that the adapter reads the right records and acts on them.

The stand-in holds what :mod:`hubplugins.spawner.storage` reads from KubeSpawner: the
user, the server name, the saved volume name, the pod reflector's cache and a
``CoreV1Api`` whose deletes are recorded.
"""

from __future__ import annotations

import json
import logging
from types import SimpleNamespace
from typing import Any

import pytest
from kubernetes_asyncio.client.rest import ApiException

from hubplugins.policy.rules.identity import OWNER_LABEL
from hubplugins.policy.table import PolicyTable
from hubplugins.spawner import ownership, storage, volume_names


def _policy(**storage_section: Any) -> Any:
    raw = {"defaults": {"storage": storage_section, "ssh_keys": True}}
    return PolicyTable.from_dict(raw).resolve([])


def _db() -> Any:
    """A session on a database with the hub's users table and user 1 (for the owner id)."""
    import sqlalchemy as sa
    from sqlalchemy.orm import Session

    engine = sa.create_engine("sqlite://")
    with engine.begin() as conn:
        conn.execute(sa.text("CREATE TABLE users (id INTEGER PRIMARY KEY, name TEXT)"))
        conn.execute(sa.text("INSERT INTO users (id, name) VALUES (1, 'ann')"))
    return Session(engine)


class RecordingApi:
    """Records deletes; reads answer from ``objects`` ((kind, name) -> labels), else 404."""

    def __init__(self, fail: int = 0, objects: dict[tuple[str, str], dict] | None = None) -> None:
        self.deleted: list[tuple[str, str]] = []
        self.tries = 0
        self.fail = fail
        self.objects = objects or {}

    async def _read(self, kind: str, name: str) -> Any:
        if (kind, name) not in self.objects:
            raise ApiException(status=404, reason="Not Found")
        meta = SimpleNamespace(name=name, labels=self.objects[kind, name], annotations={})
        return SimpleNamespace(metadata=meta)

    async def read_namespaced_persistent_volume_claim(self, name: str, namespace: str) -> Any:
        return await self._read("pvc", name)

    async def read_namespaced_secret(self, name: str, namespace: str) -> Any:
        return await self._read("secret", name)

    async def list_namespaced_secret(self, namespace: str, label_selector: str) -> Any:
        return SimpleNamespace(items=[])

    async def _delete(self, kind: str, name: str) -> None:
        self.tries += 1
        if self.fail:
            self.fail -= 1
            raise ApiException(status=500, reason="Internal Server Error")
        self.deleted.append((kind, name))

    async def delete_namespaced_persistent_volume_claim(self, name: str, namespace: str) -> None:
        await self._delete("pvc", name)

    async def delete_namespaced_secret(self, name: str, namespace: str) -> None:
        await self._delete("secret", name)


def _pod(name: str, claim: str) -> dict[str, Any]:
    return {
        "metadata": {"namespace": "default", "name": name},
        "spec": {"volumes": [{"name": "home", "persistentVolumeClaim": {"claimName": claim}}]},
    }


def _spawner(user: str, server: str, pvc: str, pods=(), api=None, others=None) -> Any:
    async def no_reflector_start() -> None:
        return None

    spawners = dict(others or {})
    owner = SimpleNamespace(
        name=user,
        id=1,
        db=_db(),
        spawners=spawners,
        orm_user=SimpleNamespace(orm_spawners={k: None for k in spawners}),
    )
    sp = SimpleNamespace(
        user=owner,
        name=server,
        _log_name=f"{user}/{server}",
        pvc_name=pvc,
        _pvc_exists=True,
        delete_pvc=True,
        namespace="default",
        pod_name=f"jupyter-{volume_names.user_server(user, server)}",
        pod_reflector=SimpleNamespace(pods={p["metadata"]["name"]: p for p in pods}),
        _start_watching_pods=no_reflector_start,
        api=api or RecordingApi(),
        k8s_api_request_timeout=5,
        log=logging.getLogger("test"),
    )
    return sp


SERVER = volume_names.server_claim("ann", "lab")
USER = volume_names.user_claim("ann")
OTHER = volume_names.server_claim("ann", "other")
SECRET = volume_names.ssh_secret("ann")

# (case, storage policy, server, saved claim, pods of other servers, deleted)
DELETE_CASES = [
    ("server-scope-named-deleted", {}, "lab", SERVER, [], [("pvc", SERVER)]),
    ("server-scope-keep", {"delete_with_server": False}, "lab", SERVER, [], []),
    ("server-scope-never-user-volume", {}, "lab", USER, [], []),
    ("server-scope-still-mounted", {}, "lab", SERVER, [_pod("jupyter-x", SERVER)], []),
    (
        "server-scope-own-pod-ignored",
        {},
        "lab",
        SERVER,
        [_pod("jupyter-ann--lab", SERVER)],
        [("pvc", SERVER)],
    ),
    ("user-scope-named-never", {"scope": "user"}, "lab", USER, [], []),
    ("user-deleted-keep", {"delete_with_user": False}, "", USER, [], [("secret", SECRET)]),
    (
        "user-deleted-all-volumes",
        {"delete_with_user": True},
        "",
        USER,
        [],
        [("pvc", USER), ("pvc", OTHER), ("secret", SECRET)],
    ),
    (
        "user-deleted-user-scope",
        {"scope": "user", "delete_with_user": True},
        "",
        USER,
        [],
        [("pvc", USER), ("pvc", OTHER), ("secret", SECRET)],
    ),
]


@pytest.mark.parametrize(
    ("case", "section", "server", "claim", "pods", "deleted"),
    DELETE_CASES,
    ids=[c[0] for c in DELETE_CASES],
)
async def test_delete_forever(case, section, server, claim, pods, deleted, caplog) -> None:
    other = SimpleNamespace(pvc_name=OTHER, _pvc_exists=True)
    sp = _spawner("ann", server, claim, pods, others={"other": other})
    with caplog.at_level(logging.INFO, logger="test"):
        await storage.delete_forever(sp, _policy(**section))
    assert sp.api.deleted == deleted
    assert _kept(caplog) == KEPT.get(case, [])


# what each case logs as kept (claim, reason), in order; other cases keep nothing
KEPT = {
    "server-scope-keep": [(SERVER, "policy")],
    "server-scope-never-user-volume": [(USER, "user volume"), (USER, "policy")],
    "server-scope-still-mounted": [(SERVER, "mounted by another server")],
    "user-scope-named-never": [(USER, "policy")],
    "user-deleted-keep": [(USER, "policy")],
}


def _kept(caplog: pytest.LogCaptureFixture) -> list[tuple[str, str]]:
    events = []
    for record in caplog.records:
        _, sep, payload = record.getMessage().partition("hubplugins ")
        event = json.loads(payload) if sep else {}
        if event.get("event") == "volume_kept":
            events.append((event["claim"], event["reason"]))
    return events


# (case, owner label on the volume, deleted): the owner is user 1's, made on first use
OWNER_CASES = [
    ("another-accounts-volume-kept", "i-someone-else", []),
    ("unlabelled-saved-by-this-account-deleted", None, [("pvc", SERVER)]),
]


@pytest.mark.parametrize(("case", "label", "deleted"), OWNER_CASES, ids=[c[0] for c in OWNER_CASES])
async def test_delete_never_takes_another_accounts_volume(case, label, deleted) -> None:
    labels = {OWNER_LABEL: label} if label else {}
    sp = _spawner("ann", "lab", SERVER, api=RecordingApi(objects={("pvc", SERVER): labels}))
    await storage.delete_forever(sp, _policy())
    assert sp.api.deleted == deleted


async def test_delete_takes_a_volume_labelled_with_this_account() -> None:
    sp = _spawner("ann", "lab", SERVER)
    labels = {OWNER_LABEL: ownership.owner(sp)}
    sp.api.objects = {("pvc", SERVER): labels}
    await storage.delete_forever(sp, _policy())
    assert sp.api.deleted == [("pvc", SERVER)]


async def test_never_started_server_deletes_only_the_policys_name() -> None:
    # the configured template would name the user's shared volume; it is never trusted
    sp = _spawner("ann", "lab", USER)
    sp._pvc_exists = False
    await storage.delete_forever(sp, _policy())
    assert sp.api.deleted == [("pvc", SERVER)]


async def test_delete_failure_is_raised_recorded_and_counted(monkeypatch) -> None:
    monkeypatch.setattr(storage, "DELETE_PATIENCE", 0.05)
    before = storage.metrics.VOLUME_DELETE_FAILURES._value.get()
    sp = _spawner("bob", "lab", "claim-bob--lab", api=RecordingApi(fail=10**6))
    with pytest.raises(storage.VolumeDeleteError, match="claim-bob--lab"):
        await storage.delete_forever(sp, _policy())
    record = storage.FAILED_DELETES["default/claim-bob--lab"]
    assert record["attempts"] == sp.api.tries >= 1
    assert (record["claim"], record["error"]) == ("claim-bob--lab", "500 Internal Server Error")
    assert storage.metrics.VOLUME_DELETE_FAILURES._value.get() == before + 1
    assert sp.api.deleted == []
    # a later delete that works clears the record
    sp = _spawner("bob", "lab", "claim-bob--lab")
    await storage.delete_forever(sp, _policy())
    assert "default/claim-bob--lab" not in storage.FAILED_DELETES
    assert sp.api.deleted == [("pvc", "claim-bob--lab")]


async def test_a_few_failed_tries_are_absorbed(monkeypatch, caplog) -> None:
    # the backoff's shape, ten times faster: MIN_TRIES fit in its patience
    fast = {k: v / 10 if k != "scale_factor" else v for k, v in storage.DELETE_BACKOFF.items()}
    monkeypatch.setattr(storage, "DELETE_BACKOFF", fast)
    monkeypatch.setattr(storage, "DELETE_PATIENCE", storage.DELETE_PATIENCE / 10)
    api = RecordingApi(fail=storage.MIN_TRIES - 1)
    sp = _spawner("cyd", "lab", "claim-cyd--lab", api=api)
    with caplog.at_level(logging.INFO, logger="test"):
        await storage.delete_forever(sp, _policy())
    assert api.deleted == [("pvc", "claim-cyd--lab")] and api.tries == storage.MIN_TRIES
    assert '"attempts": 5' in caplog.text
    assert "default/claim-cyd--lab" not in storage.FAILED_DELETES


def _start_spawner(
    user: str, server: str, saved: str | None, default: Any = None, records: Any = None
) -> Any:
    spawners = {"": default} if default is not None else {}
    orm_user = SimpleNamespace(orm_spawners=dict(records or {}))
    return SimpleNamespace(
        user=SimpleNamespace(name=user, spawners=spawners, orm_user=orm_user),
        name=server,
        pvc_name=saved or "claim-from-template",
        _pvc_exists=saved is not None,
        pvc_name_template="claim-{username}",
        storage_capacity=None,
        storage_pvc_ensure=False,
        volumes=[{"name": "home", "persistentVolumeClaim": {"claimName": "{pvc_name}"}}],
        volume_mounts=[{"name": "home", "mountPath": "/home/jovyan"}],
        modify_pod_hook=None,
    )


# (case, storage policy, server, saved claim, default server's saved claim, claim used)
APPLY_CASES = [
    ("server-new", {}, "lab", None, None, volume_names.server_claim("ann", "lab")),
    ("server-saved-name-wins", {}, "lab", "claim-ann-2dlab", None, "claim-ann-2dlab"),
    ("server-default", {}, "", None, None, volume_names.server_claim("ann", "")),
    ("user-new", {"scope": "user"}, "lab", None, None, USER),
    ("user-overrides-server-name", {"scope": "user"}, "lab", SERVER, None, USER),
    ("user-default-saved-wins", {"scope": "user"}, "lab", None, "claim-renamed", "claim-renamed"),
]


@pytest.mark.parametrize(
    ("case", "section", "server", "saved", "default_saved", "claim"),
    APPLY_CASES,
    ids=[c[0] for c in APPLY_CASES],
)
def test_apply_storage(case, section, server, saved, default_saved, claim) -> None:
    default = None
    if default_saved is not None:
        default = SimpleNamespace(pvc_name=default_saved, _pvc_exists=True)
    sp = _start_spawner("ann", server, saved, default)
    policy = _policy(capacity="3Gi", mount_path="/home/{username}", **section)
    storage.apply_storage(sp, policy)
    assert sp.pvc_name == claim
    assert sp.storage_capacity == str(3 * 2**30)
    assert sp.storage_pvc_ensure is True
    assert [m["mountPath"] for m in sp.volume_mounts] == ["/home/ann", "/home/ann/.ssh"]
    assert [v["name"] for v in sp.volumes] == [storage.VOLUME_NAME, "hubplugins-ssh"]
    assert sp.volumes[1]["secret"]["secretName"] == SECRET
    # applying again (the next start) changes nothing and chains the hook once
    hook = sp.modify_pod_hook
    storage.apply_storage(sp, policy)
    assert len(sp.volumes) == 2 and sp._hubplugins_pod_hook is None
    assert sp.modify_pod_hook is not hook


def test_a_new_server_never_takes_a_volume_another_server_saved() -> None:
    # "lab" was renamed "old-lab" and kept its volume; a new "lab" gets its own
    taken = volume_names.server_claim("ann", "lab")
    records = {"old-lab": SimpleNamespace(state={"pvc_name": taken})}
    sp = _start_spawner("ann", "lab", None, records=records)
    storage.apply_storage(sp, _policy())
    assert sp.pvc_name == f"{taken}-2"


def test_user_scope_reads_the_default_servers_saved_name_from_the_database() -> None:
    # the default server is not loaded (hub restarted), the user was renamed since
    sp = _start_spawner("ann-renamed", "lab", None)
    saved = SimpleNamespace(state={"pvc_name": USER})
    sp.user.orm_user = SimpleNamespace(orm_spawners={"": saved})
    storage.apply_storage(sp, _policy(scope="user"))
    assert sp.pvc_name == USER
