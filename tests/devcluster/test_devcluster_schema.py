"""The devcluster refuses and drops what a real API server does, by the official OpenAPI schemas.

Unknown fields: dropped with a ``Warning: 299`` header by default
(``fieldValidation=Warn``), silently with ``Ignore``, refused with 400 and
nothing created with ``Strict``. A value of the wrong type: 400. A missing
required field: 422 naming it. What KubeSpawner sends passes every supported
version's schema without a warning.
"""

from __future__ import annotations

import copy
import json
from typing import Any
from urllib.parse import urlencode

import pytest
from devcluster.devcluster_helpers import pod, pvc
from kubernetes_asyncio.client import ApiClient, V1OwnerReference
from kubespawner.objects import make_pod, make_pvc, make_service
from tornado.httpclient import AsyncHTTPClient, HTTPRequest

from hubplugins_dev.devcluster import schema
from hubplugins_dev.devcluster.__main__ import main as devcluster_main
from hubplugins_dev.devcluster.server import DevCluster

NS = "/api/v1/namespaces/default"


async def call(
    dev: DevCluster, method: str, path: str, body: Any = None, **query: str
) -> tuple[int, Any, list[str]]:
    """(status, decoded body, Warning header values)."""
    qs = f"?{urlencode(query)}" if query else ""
    ctype = "application/merge-patch+json" if method == "PATCH" else "application/json"
    request = HTTPRequest(
        f"{dev.url}{path}{qs}",
        method=method,
        body=json.dumps(body) if body is not None else None,
        headers={"Content-Type": ctype},
        allow_nonstandard_methods=True,
    )
    response = await AsyncHTTPClient().fetch(request, raise_error=False)
    return response.code, json.loads(response.body), response.headers.get_list("Warning")


def _with(body: dict[str, Any], path: str, value: Any) -> dict[str, Any]:
    """``body`` with ``value`` set at a dotted path (``[n]`` indexes a list)."""
    body = copy.deepcopy(body)
    *parents, last = path.replace("[", ".[").split(".")
    node: Any = body
    for part in parents:
        node = node[int(part[1:-1])] if part.startswith("[") else node[part]
    if value is None:
        del node[last]
    else:
        node[last] = value
    return body


def _has(obj: Any, path: str) -> bool:
    for part in path.replace("[", ".[").split("."):
        if part.startswith("["):
            obj = obj[int(part[1:-1])]
        elif isinstance(obj, dict) and part in obj:
            obj = obj[part]
        else:
            return False
    return True


def _warning(name: str) -> str:
    return f'299 - "unknown field \\"{name}\\""'


def _stored(dev: DevCluster, resource: str, name: str) -> dict[str, Any] | None:
    return dev.cluster.store.get(resource, "default", name)


SERVICE = {"metadata": {"name": "svc"}, "spec": {"ports": [{"port": 8888}]}}
EVENT = {"metadata": {"name": "ev"}, "involvedObject": {"kind": "Pod", "name": "x"}}

# (case, resource, body, unknown field's path): created with a warning, stored without it
UNKNOWN = [
    ("pod-container", "pods", pod("p-u1"), "spec.containers[0].colour"),
    ("pod-spec", "pods", pod("p-u2"), "spec.restartPolicyy"),
    ("pod-metadata", "pods", pod("p-u3"), "metadata.labelz"),
    ("pvc-spec", "persistentvolumeclaims", pvc("c-u1"), "spec.size"),
    ("service-port", "services", SERVICE, "spec.ports[0].target"),
    ("secret-top", "secrets", {"metadata": {"name": "s-u1"}}, "strinData"),
    ("configmap-top", "configmaps", {"metadata": {"name": "cm-u1"}}, "datta"),
    ("event-top", "events", EVENT, "note"),
    # pod-level resources arrived after 1.28, the oldest version the chart supports
    ("newer-than-oldest", "pods", pod("p-u4"), "spec.resources"),
]


@pytest.mark.parametrize(
    ("case", "resource", "body", "field"), UNKNOWN, ids=[c[0] for c in UNKNOWN]
)
async def test_unknown_field_is_dropped_with_a_warning(dev, case, resource, body, field):
    name = body["metadata"]["name"]
    value = {"limits": {"cpu": "1"}} if case == "newer-than-oldest" else "x"
    code, created, warnings = await call(dev, "POST", f"{NS}/{resource}", _with(body, field, value))
    assert code == 201, created
    assert warnings == [_warning(field)]
    stored = _stored(dev, resource, name)
    assert stored is not None and stored["metadata"]["uid"] == created["metadata"]["uid"]
    for obj in (created, stored):
        assert not _has(obj, field)


# (case, query, expected status, expected message part); each refused before anything exists
REFUSED = [
    (
        "strict-unknown",
        {"fieldValidation": "Strict"},
        _with(pod("p-r1"), "spec.containers[0].colour", "x"),
        400,
        "cannot be handled as a Pod: strict decoding error: unknown field"
        ' "spec.containers[0].colour"',
    ),
    (
        "strict-two-unknown",
        {"fieldValidation": "Strict"},
        _with(_with(pod("p-r2"), "spec.a", 1), "metadata.b", 2),
        400,
        'unknown field "metadata.b", unknown field "spec.a"',
    ),
    (
        "strict-newer-than-oldest",
        {"fieldValidation": "Strict"},
        _with(pod("p-r3"), "spec.resources", {"limits": {"cpu": "1"}}),
        400,
        'unknown field "spec.resources"',
    ),
    (
        "wrong-type",
        {},
        _with(pod("p-r4"), "spec.containers[0].ports", "8888"),
        400,
        'Pod in version "v1" cannot be handled as a Pod: spec.containers[0].ports:',
    ),
    (
        "quantity-of-wrong-type",
        {},
        _with(pod("p-r5"), "spec.containers[0].resources", {"limits": {"cpu": True}}),
        400,
        "spec.containers[0].resources.limits.cpu:",
    ),
    (
        "object-for-a-string",
        {"fieldValidation": "Ignore"},
        _with(pod("p-r6"), "spec.containers[0].image", {"name": "x"}),
        400,
        "spec.containers[0].image:",
    ),
    (
        "required-missing",
        {},
        _with(pod("p-r7"), "spec.containers[0].name", None),
        422,
        "spec.containers[0].name: Required value",
    ),
    (
        "unsupported-fieldValidation",
        {"fieldValidation": "Lenient"},
        pod("p-r8"),
        400,
        'fieldValidation: Unsupported value: "Lenient"',
    ),
]


@pytest.mark.parametrize(
    ("case", "query", "body", "status", "message"), REFUSED, ids=[c[0] for c in REFUSED]
)
async def test_refused_before_anything_is_created(dev, case, query, body, status, message):
    code, answer, warnings = await call(dev, "POST", f"{NS}/pods", body, **query)
    assert code == status, answer
    assert answer["kind"] == "Status" and answer["code"] == status
    assert answer["reason"] == ("Invalid" if status == 422 else "BadRequest")
    assert message in answer["message"]
    assert warnings == []
    assert _stored(dev, "pods", body["metadata"]["name"]) is None


async def test_ignore_drops_without_a_warning(dev):
    body = _with(pod("p-i1"), "spec.containers[0].colour", "x")
    code, created, warnings = await call(dev, "POST", f"{NS}/pods", body, fieldValidation="Ignore")
    assert code == 201 and warnings == []
    assert "colour" not in created["spec"]["containers"][0]


# (case, method, body, query, expected status, expected warnings): on an existing pod
UPDATES = [
    ("patch-warns", "PATCH", {"metadata": {"labelz": {"a": "b"}}}, {}, 200, ["metadata.labelz"]),
    ("patch-strict", "PATCH", {"spec": {"colour": "x"}}, {"fieldValidation": "Strict"}, 400, []),
    ("patch-wrong-type", "PATCH", {"metadata": {"labels": "a"}}, {}, 400, []),
    ("patch-valid", "PATCH", {"metadata": {"labels": {"a": "b"}}}, {}, 200, []),
    ("put-warns", "PUT", "colour", {}, 200, ["spec.colour"]),
    ("put-strict", "PUT", "colour", {"fieldValidation": "Strict"}, 400, []),
]


@pytest.mark.parametrize(
    ("case", "method", "body", "query", "status", "unknown"), UPDATES, ids=[c[0] for c in UPDATES]
)
async def test_updates_are_checked_too(dev, case, method, body, query, status, unknown):
    name = f"p-{case}"
    code, created, _ = await call(dev, "POST", f"{NS}/pods", pod(name))
    assert code == 201, created
    if method == "PUT":
        body = _with(created, "spec.colour", "x")
        del body["metadata"]["resourceVersion"]  # the kubelet may have updated the status
    code, answer, warnings = await call(dev, method, f"{NS}/pods/{name}", body, **query)
    assert code == status, answer
    assert warnings == [_warning(f) for f in unknown]
    stored = _stored(dev, "pods", name)
    assert stored is not None and "colour" not in stored["spec"]
    assert "labelz" not in stored["metadata"]
    if status != 200:
        assert stored["metadata"]["labels"] == created["metadata"]["labels"]


async def test_newest_version_only_knows_newer_fields(tmp_path):
    dev = DevCluster(tmp_path / "devcluster", kubernetes_versions=[schema.DEFAULT_VERSIONS[-1]])
    await dev.start()
    try:
        body = _with(pod("p-n1"), "spec.resources", {"limits": {"cpu": "1"}})
        code, created, warnings = await call(
            dev, "POST", f"{NS}/pods", body, fieldValidation="Strict"
        )
        assert code == 201 and warnings == [], created
        assert created["spec"]["resources"] == {"limits": {"cpu": "1"}}
    finally:
        await dev.stop()


def test_the_chart_supported_versions_are_checked():
    versions = schema.supported_versions()
    assert versions[0].startswith(schema.OLDEST_SUPPORTED + ".")
    assert schema.DEFAULT_VERSIONS == (versions[0], versions[-1])


@pytest.mark.parametrize("flag", ["9.99.0", "", "1.27.0"])
def test_unshipped_version_is_refused_at_start(flag, capsys):
    assert devcluster_main(["--kubernetes-versions", flag]) == 2
    assert "--kubernetes-versions" in capsys.readouterr().err


async def _kubespawner_objects() -> dict[str, dict[str, Any]]:
    """KubeSpawner's manifests with most options set, serialized as it sends them."""
    owner = V1OwnerReference(api_version="v1", kind="Pod", name="jupyter-ada", uid="u1")
    objects = {
        "Pod": make_pod(
            name="jupyter-ada",
            cmd=["jupyterhub-singleuser"],
            port=8888,
            image="quay.io/jupyter/base-notebook:latest",
            image_pull_policy="IfNotPresent",
            image_pull_secrets=[{"name": "registry"}],
            node_selector={"hub.jupyter.org/node-purpose": "user"},
            uid=1000,
            gid=100,
            fs_gid=100,
            supplemental_gids=[100],
            privileged=False,
            allow_privilege_escalation=False,
            container_security_context={"readOnlyRootFilesystem": False},
            pod_security_context={"seccompProfile": {"type": "RuntimeDefault"}},
            env={
                "JUPYTERHUB_API_TOKEN": "t",
                "FROM_SECRET": {"valueFrom": {"secretKeyRef": {"name": "s", "key": "k"}}},
            },
            working_dir="/home/jovyan",
            volumes=[{"name": "home", "persistentVolumeClaim": {"claimName": "claim-ada"}}],
            volume_mounts=[{"name": "home", "mountPath": "/home/jovyan"}],
            labels={"app": "jupyterhub", "component": "singleuser-server"},
            annotations={"hub.jupyter.org/username": "ada"},
            cpu_limit=2,
            cpu_guarantee=0.5,
            mem_limit="2G",
            mem_guarantee="1G",
            extra_resource_limits={"nvidia.com/gpu": "1"},
            extra_resource_guarantees={"nvidia.com/gpu": "1"},
            lifecycle_hooks={"postStart": {"exec": {"command": ["true"]}}},
            init_containers=[{"name": "init", "image": "busybox", "command": ["true"]}],
            service_account="default",
            automount_service_account_token=False,
            extra_container_config={"stdin": False},
            extra_pod_config={"terminationGracePeriodSeconds": 5},
            extra_containers=[{"name": "sidecar", "image": "busybox"}],
            scheduler_name="default-scheduler",
            tolerations=[{"key": "hub.jupyter.org/dedicated", "operator": "Exists"}],
            node_affinity_preferred=[
                {
                    "weight": 1,
                    "preference": {
                        "matchExpressions": [{"key": "zone", "operator": "In", "values": ["a"]}]
                    },
                }
            ],
            pod_anti_affinity_preferred=[
                {
                    "weight": 1,
                    "podAffinityTerm": {
                        "topologyKey": "kubernetes.io/hostname",
                        "labelSelector": {"matchLabels": {"component": "singleuser-server"}},
                    },
                }
            ],
            priority_class_name="user",
            ssl_secret_name="jupyter-ada-tls",
            ssl_secret_mount_path="/etc/jupyterhub/ssl/",
        ),
        "PersistentVolumeClaim": make_pvc(
            name="claim-ada",
            storage_class="standard",
            access_modes=["ReadWriteOnce"],
            selector={"matchLabels": {"a": "b"}},
            storage="10Gi",
            labels={"app": "jupyterhub"},
            annotations={"a": "b"},
        ),
        "Service": make_service(
            name="jupyter-ada", port=8888, selector={"a": "b"}, owner_references=[owner]
        ),
    }
    async with ApiClient() as client:
        return {kind: client.sanitize_for_serialization(obj) for kind, obj in objects.items()}


@pytest.mark.parametrize("version", schema.supported_versions())
async def test_kubespawner_objects_pass_every_supported_version(version):
    for kind, obj in (await _kubespawner_objects()).items():
        sent = copy.deepcopy(obj)
        checked = schema.check(kind, sent, "Strict", versions=[version])
        assert checked.warnings == [] and checked.causes == [], kind
        assert sent == obj, f"{kind}: nothing dropped"
