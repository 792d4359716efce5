"""The core/v1 API: CRUD, selectors, Status errors, watches, garbage collection."""

from __future__ import annotations

import pytest
from devcluster.devcluster_helpers import Api, is_ready, pod, pvc, wait_for

from hubplugins_dev.devcluster.server import DevCluster

NS = "/api/v1/namespaces/default"

OBJECTS = {
    "pods": pod("p-crud"),
    "persistentvolumeclaims": pvc("claim-crud"),
    "services": {
        "metadata": {"name": "svc-crud"},
        "spec": {"ports": [{"port": 8888}], "selector": {"app": "t"}},
    },
    "secrets": {"metadata": {"name": "s-crud"}, "stringData": {"k": "v"}},
    "configmaps": {"metadata": {"name": "cm-crud"}, "data": {"k": "v"}},
    "events": {
        "metadata": {"name": "e-crud"},
        "involvedObject": {"kind": "Pod", "name": "x"},
        "reason": "Test",
        "message": "m",
    },
}


@pytest.mark.parametrize("resource", list(OBJECTS))
async def test_create_get_list_delete(api: Api, resource: str) -> None:
    body = OBJECTS[resource]
    name = body["metadata"]["name"]
    code, created = await api.call("POST", f"{NS}/{resource}", body)
    assert code == 201, created
    meta = created["metadata"]
    assert meta["namespace"] == "default" and meta["uid"] and meta["creationTimestamp"]
    assert int(meta["resourceVersion"]) > 0
    code, got = await api.call("GET", f"{NS}/{resource}/{name}")
    assert code == 200 and got["metadata"]["uid"] == meta["uid"]
    _, listed = await api.call("GET", f"{NS}/{resource}", labelSelector="", fieldSelector="")
    assert listed["kind"].endswith("List") and listed["metadata"]["resourceVersion"]
    assert name in [o["metadata"]["name"] for o in listed["items"]]
    code, everywhere = await api.call("GET", f"/api/v1/{resource}")
    assert name in [o["metadata"]["name"] for o in everywhere["items"]]
    code, _ = await api.call("DELETE", f"{NS}/{resource}/{name}", gracePeriodSeconds=0)
    assert code == 200


async def test_secret_string_data_becomes_base64(api: Api) -> None:
    _, secret = await api.call("POST", f"{NS}/secrets", OBJECTS["secrets"])
    assert secret["data"] == {"k": "dg=="} and "stringData" not in secret


ERRORS = [
    ("get-missing", "GET", f"{NS}/pods/nope", None, 404, "NotFound"),
    ("missing-namespace", "POST", "/api/v1/namespaces/nope/pods", pod("p"), 404, "NotFound"),
    ("duplicate", "POST", f"{NS}/configmaps", {"metadata": {"name": "dup"}}, 409, "AlreadyExists"),
    ("bad-name", "POST", f"{NS}/pods", pod("Bad_Name"), 422, "Invalid"),
    (
        "bad-label",
        "POST",
        f"{NS}/secrets",
        {"metadata": {"name": "s", "labels": {"a": "-bad-"}}},
        422,
        "Invalid",
    ),
    (
        "bad-quantity",
        "POST",
        f"{NS}/pods",
        pod("q", resources={"requests": {"cpu": "lots"}}),
        422,
        "Invalid",
    ),
    (
        "request-over-limit",
        "POST",
        f"{NS}/pods",
        pod("q", resources={"requests": {"cpu": "2"}, "limits": {"cpu": "1"}}),
        422,
        "Invalid",
    ),
    (
        "pvc-no-storage",
        "POST",
        f"{NS}/persistentvolumeclaims",
        {"metadata": {"name": "c"}, "spec": {"accessModes": ["ReadWriteOnce"]}},
        422,
        "Invalid",
    ),
    (
        "namespace-with-dot",
        "POST",
        "/api/v1/namespaces",
        {"metadata": {"name": "a.b"}},
        422,
        "Invalid",
    ),
    ("delete-missing", "DELETE", f"{NS}/persistentvolumeclaims/nope", None, 404, "NotFound"),
    ("not-json", "POST", f"{NS}/pods", None, 400, "BadRequest"),
]


@pytest.mark.parametrize(
    ("case", "method", "path", "body", "code", "reason"), ERRORS, ids=[e[0] for e in ERRORS]
)
async def test_errors_are_status_objects(
    api: Api, case: str, method: str, path: str, body: object, code: int, reason: str
) -> None:
    if case == "duplicate":
        await api.call("POST", path, body)
    got_code, status = await api.call(method, path, body)
    assert got_code == code
    assert status["kind"] == "Status" and status["status"] == "Failure"
    assert status["code"] == code and status["reason"] == reason and status["message"]


@pytest.mark.parametrize(
    ("body", "field"),
    [
        (pod("Bad_Name"), "metadata.name"),
        (
            pod("q", resources={"limits": {"memory": "1Gb"}}),
            "spec.containers[0].resources.limits[memory]",
        ),
        (
            pod("v", volumeMounts=[{"name": "home", "mountPath": "/home/jovyan"}]),
            "spec.containers[0].volumeMounts[0].name",
        ),
    ],
    ids=["name", "quantity", "unknown-volume"],
)
async def test_invalid_names_the_field(api: Api, body: dict, field: str) -> None:
    code, status = await api.call("POST", f"{NS}/pods", body)
    assert code == 422
    assert field in [c["field"] for c in status["details"]["causes"]]
    assert field in status["message"]


@pytest.mark.parametrize(
    ("labels", "fields", "expected"),
    [
        ("", "", ["a1", "a2", "b1"]),
        ("group=a", "", ["a1", "a2"]),
        ("group!=a", "", ["b1"]),
        ("group in (a,b),tier", "", ["a2"]),
        ("!tier", "", ["a1", "b1"]),
        ("", "metadata.name=b1", ["b1"]),
        ("group=a", "metadata.name!=a1", ["a2"]),
        ("", "metadata.namespace=default", ["a1", "a2", "b1"]),
    ],
    ids=["all", "eq", "neq", "in-and-exists", "not-exists", "field-name", "both", "field-ns"],
)
async def test_selectors(api: Api, labels: str, fields: str, expected: list[str]) -> None:
    for name, extra in [("a1", {}), ("a2", {"tier": "x"}), ("b1", {})]:
        group = name[0]
        body = {"metadata": {"name": name, "labels": {"group": group, **extra}}, "data": {}}
        await api.call("POST", f"{NS}/configmaps", body)
    _, listed = await api.call(
        "GET", f"{NS}/configmaps", labelSelector=labels, fieldSelector=fields
    )
    assert sorted(o["metadata"]["name"] for o in listed["items"]) == expected


async def test_merge_patch_and_replace(api: Api) -> None:
    body = {"metadata": {"name": "cm", "labels": {"a": "1", "b": "2"}}, "data": {"k": "v"}}
    _, created = await api.call("POST", f"{NS}/configmaps", body)
    code, patched = await api.call(
        "PATCH",
        f"{NS}/configmaps/cm",
        {"metadata": {"labels": {"a": None, "c": "3"}}, "data": {"x": "y"}},
    )
    assert code == 200, patched
    assert patched["metadata"]["labels"] == {"b": "2", "c": "3"}
    assert patched["data"] == {"k": "v", "x": "y"}
    assert patched["metadata"]["uid"] == created["metadata"]["uid"]
    stale = {
        **patched,
        "metadata": {
            **patched["metadata"],
            "resourceVersion": created["metadata"]["resourceVersion"],
        },
    }
    code, status = await api.call("PUT", f"{NS}/configmaps/cm", stale)
    assert (code, status["reason"]) == (409, "Conflict")
    code, replaced = await api.call(
        "PUT", f"{NS}/configmaps/cm", {**patched, "data": {"only": "this"}}
    )
    assert code == 200 and replaced["data"] == {"only": "this"}


async def test_watch_streams_changes_after_resource_version(api: Api) -> None:
    _, listed = await api.call("GET", f"{NS}/configmaps")
    rv = listed["metadata"]["resourceVersion"]
    await api.call("POST", f"{NS}/configmaps", {"metadata": {"name": "w", "labels": {"x": "1"}}})
    await api.call("PATCH", f"{NS}/configmaps/w", {"data": {"a": "b"}})
    await api.call("POST", f"{NS}/configmaps", {"metadata": {"name": "other"}})
    await api.call("DELETE", f"{NS}/configmaps/w")
    events = await api.watch(
        f"{NS}/configmaps", resourceVersion=rv, timeoutSeconds=1, labelSelector="x=1"
    )
    assert [(e["type"], e["object"]["metadata"]["name"]) for e in events] == [
        ("ADDED", "w"),
        ("MODIFIED", "w"),
        ("DELETED", "w"),
    ]
    versions = [int(e["object"]["metadata"]["resourceVersion"]) for e in events]
    assert versions == sorted(versions) and versions[0] > int(rv)


async def test_watch_capital_true_and_bookmarks(api: Api) -> None:
    await api.call("POST", f"{NS}/configmaps", {"metadata": {"name": "b"}})
    code, text = await api.call(
        "GET",
        f"{NS}/configmaps",
        watch="True",
        resourceVersion="0",
        timeoutSeconds=1,
        allowWatchBookmarks="true",
    )
    assert code == 200
    lines = [line for line in text.splitlines() if line] if isinstance(text, str) else [text]
    import json

    types = [json.loads(line)["type"] if isinstance(line, str) else line["type"] for line in lines]
    assert types == ["ADDED", "BOOKMARK"]


async def test_watch_expired_resource_version(dev: DevCluster, api: Api) -> None:
    dev.cluster.store.history_size = 2
    for i in range(8):
        await api.call("POST", f"{NS}/configmaps", {"metadata": {"name": f"c{i}"}})
    events = await api.watch(f"{NS}/configmaps", resourceVersion="2", timeoutSeconds=1)
    assert len(events) == 1 and events[0]["type"] == "ERROR"
    assert events[0]["object"]["code"] == 410 and events[0]["object"]["reason"] == "Expired"


async def test_owner_references_cascade(dev: DevCluster, api: Api) -> None:
    _, owner = await api.call("POST", f"{NS}/pods", pod("owner"))
    ref = {"apiVersion": "v1", "kind": "Pod", "name": "owner", "uid": owner["metadata"]["uid"]}
    await api.call(
        "POST", f"{NS}/secrets", {"metadata": {"name": "owned", "ownerReferences": [ref]}}
    )
    await api.call(
        "POST",
        f"{NS}/services",
        {
            "metadata": {"name": "owned", "ownerReferences": [ref]},
            "spec": {"ports": [{"port": 80}]},
        },
    )
    await api.call("POST", f"{NS}/secrets", {"metadata": {"name": "free"}})
    await api.call("DELETE", f"{NS}/pods/owner", gracePeriodSeconds=0)
    await wait_for(dev, "pods", "owner", lambda o: o is None)
    assert (await api.call("GET", f"{NS}/secrets/owned"))[0] == 404
    assert (await api.call("GET", f"{NS}/services/owned"))[0] == 404
    assert (await api.call("GET", f"{NS}/secrets/free"))[0] == 200


async def test_pvc_protection(dev: DevCluster, api: Api) -> None:
    await api.call("POST", f"{NS}/persistentvolumeclaims", pvc("home"))
    backing = dev.cluster.volume_path("default", "home")
    assert backing.is_dir()
    body = pod("user", volumeMounts=[{"name": "home", "mountPath": "/home/jovyan"}])
    body["spec"]["volumes"] = [{"name": "home", "persistentVolumeClaim": {"claimName": "home"}}]
    await api.call("POST", f"{NS}/pods", body)
    await wait_for(dev, "pods", "user", is_ready)
    code, _ = await api.call("DELETE", f"{NS}/persistentvolumeclaims/home")
    assert code == 200
    code, still = await api.call("GET", f"{NS}/persistentvolumeclaims/home")
    assert code == 200 and still["metadata"]["deletionTimestamp"]
    assert "kubernetes.io/pvc-protection" in still["metadata"]["finalizers"]
    assert backing.is_dir()
    await api.call("DELETE", f"{NS}/pods/user", gracePeriodSeconds=0)
    await wait_for(dev, "persistentvolumeclaims", "home", lambda o: o is None)
    assert not backing.exists()


async def test_unused_pvc_is_deleted_at_once(dev: DevCluster, api: Api) -> None:
    _, created = await api.call("POST", f"{NS}/persistentvolumeclaims", pvc("spare", "5Gi"))
    assert created["status"]["phase"] == "Bound"
    assert created["status"]["capacity"] == {"storage": "5Gi"}
    await api.call("DELETE", f"{NS}/persistentvolumeclaims/spare")
    assert (await api.call("GET", f"{NS}/persistentvolumeclaims/spare"))[0] == 404
    assert not dev.cluster.volume_path("default", "spare").exists()


async def test_namespaces(api: Api) -> None:
    code, ns = await api.call("POST", "/api/v1/namespaces", {"metadata": {"name": "user-alice"}})
    assert code == 201 and ns["status"]["phase"] == "Active"
    assert (await api.call("POST", "/api/v1/namespaces", {"metadata": {"name": "user-alice"}}))[
        0
    ] == 409
    code, _ = await api.call(
        "POST", "/api/v1/namespaces/user-alice/configmaps", {"metadata": {"name": "c"}}
    )
    assert code == 201
    _, everywhere = await api.call("GET", "/api/v1/configmaps")
    assert {o["metadata"]["namespace"] for o in everywhere["items"]} == {"user-alice"}
    await api.call("DELETE", "/api/v1/namespaces/user-alice")
    assert (await api.call("GET", "/api/v1/namespaces/user-alice"))[0] == 404
    assert (await api.call("GET", "/api/v1/namespaces/user-alice/configmaps/c"))[0] == 404


async def test_discovery(api: Api) -> None:
    assert (await api.call("GET", "/version"))[1]["major"] == "1"
    assert (await api.call("GET", "/api"))[1]["versions"] == ["v1"]
    names = [r["name"] for r in (await api.call("GET", "/api/v1"))[1]["resources"]]
    assert {"pods", "persistentvolumeclaims", "events"} <= set(names)
