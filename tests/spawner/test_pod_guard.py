"""What a start refused at its last point removes, and what it keeps."""

from __future__ import annotations

import asyncio
import logging
from types import SimpleNamespace
from typing import Any

import pytest

from hubplugins.policy.table import PolicyTable
from hubplugins.spawner import pod_guard, storage, volume_names

SERVER = volume_names.server_claim("ann", "lab")
USER = volume_names.user_claim("ann")
SECRET = volume_names.ssh_secret("ann")
PVC, KEY = pod_guard.PVC, pod_guard.SECRET


class RecordingApi:
    def __init__(self) -> None:
        self.deleted: list[tuple[str, str]] = []

    async def delete_namespaced_persistent_volume_claim(self, name: str, namespace: str) -> None:
        self.deleted.append((PVC, name))

    async def delete_namespaced_secret(self, name: str, namespace: str) -> None:
        self.deleted.append((KEY, name))


def _spawner(created: list[tuple[str, str]], template: str, claim: str, others: bool, pods=()):
    async def watching() -> None:
        return None

    spawners: dict[str, Any] = {}
    sp = SimpleNamespace(
        name="lab",
        _log_name="ann/lab",
        created_by_start=list(created),
        pvc_name=claim,
        pvc_name_template=template,
        _pvc_exists=True,
        namespace="default",
        pod_name="jupyter-ann--lab",
        pod_reflector=SimpleNamespace(pods={p["metadata"]["name"]: p for p in pods}),
        _start_watching_pods=watching,
        api=RecordingApi(),
        k8s_api_request_timeout=5,
        log=logging.getLogger("test"),
        active=True,
    )
    spawners["lab"] = sp
    if others:
        spawners[""] = SimpleNamespace(active=True)
    sp.user = SimpleNamespace(name="ann", spawners=spawners)
    return sp


def _mounting(claim: str) -> dict[str, Any]:
    return {
        "metadata": {"namespace": "default", "name": "jupyter-ann"},
        "spec": {"volumes": [{"name": "home", "persistentVolumeClaim": {"claimName": claim}}]},
    }


S, U = volume_names.SERVER_TEMPLATE, volume_names.USER_TEMPLATE

# (case, made by the start, template, claim, another server active, pods, deleted)
UNDO = [
    ("nothing-made", [], S, SERVER, False, (), []),
    ("server-volume", [(PVC, SERVER)], S, SERVER, False, (), [(PVC, SERVER)]),
    (
        "volume-and-key",
        [(PVC, SERVER), (KEY, SECRET)],
        S,
        SERVER,
        False,
        (),
        [(KEY, SECRET), (PVC, SERVER)],
    ),
    (
        "server-volume-beside-a-running-server",
        [(PVC, SERVER)],
        S,
        SERVER,
        True,
        (),
        [(PVC, SERVER)],
    ),
    ("key-kept-beside-a-running-server", [(KEY, SECRET)], S, SERVER, True, (), []),
    ("user-volume-kept-beside-a-running-server", [(PVC, USER)], U, USER, True, (), []),
    ("user-volume-alone", [(PVC, USER)], U, USER, False, (), [(PVC, USER)]),
    ("volume-another-pod-mounts", [(PVC, SERVER)], S, SERVER, False, (_mounting(SERVER),), []),
]


@pytest.mark.parametrize(
    ("made", "template", "claim", "others", "pods", "deleted"),
    [pytest.param(*case[1:], id=case[0]) for case in UNDO],
)
async def test_undo_start(made, template, claim, others, pods, deleted) -> None:
    sp = _spawner(made, template, claim, others, pods)
    await pod_guard.undo_start(sp)
    assert sp.api.deleted == deleted
    assert sp.created_by_start == []
    assert sp._pvc_exists is not any(kind == PVC for kind, _ in deleted)


# -- the configured hook, sync or async, after the SSH key step -------------------


def _sync(spawner: Any, pod: dict) -> dict:
    return {**pod, "by": "sync"}


async def _async(spawner: Any, pod: dict) -> dict:
    return {**pod, "by": "async"}


def _returns_future(spawner: Any, pod: dict) -> Any:
    return asyncio.ensure_future(_async(spawner, pod))


HOOKS = {"none": (None, None), "sync": (_sync, "sync"), "async": (_async, "async")}
HOOKS["sync-returning-a-future"] = (_returns_future, "async")


@pytest.mark.parametrize(("hook", "by"), HOOKS.values(), ids=HOOKS.keys())
async def test_configured_hook_runs_after_the_key_step_and_alone_for_the_check(hook, by) -> None:
    sp = SimpleNamespace(modify_pod_hook=hook)
    policy = PolicyTable.from_dict({"defaults": {"ssh_keys": False}}).resolve([])
    storage._chain_prepare(sp, policy)
    assert storage.configured_pod_hook(sp) is hook
    result = await sp.modify_pod_hook(sp, {"kind": "Pod"})
    assert result.get("by") == by
    assert result["kind"] == "Pod"
