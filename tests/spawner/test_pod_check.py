"""The pod that is sent holds only what was granted: hooks, profiles, sidecars, through the hub.

One hub per JupyterHub series on the shared devcluster, with profiles that add
an extended resource or a sidecar and a ``modify_pod_hook`` that acts by user
name: ``lift*`` raises the CPU limit (a sync hook), ``late*`` raises it only
the second time it runs for a start (it runs again only on a pod that changed
after the check: then only the pod actually sent is above the grant),
``lower*`` lowers it (an async hook). Users in ``keys`` get an SSH key Secret,
so a start refused at the last point has a volume and a Secret of its own to
remove.
"""

from __future__ import annotations

import itertools
import re
from collections.abc import AsyncIterator
from pathlib import Path

import httpx
import pytest
from harness.hub import Hub, start_hub

from hubplugins.spawner import volume_names

POLICY = {
    "defaults": {
        "resources": {
            "cpu": {"guarantee": 0.5, "limit": 1, "max": 1},
            "memory": {"guarantee": "1G", "limit": "2G", "max": "2G"},
            "gpu": {"default": 0, "max": 0},
        },
        "storage": {"capacity": "1Gi", "scope": "server"},
        "profiles": ["*"],
    },
    "groups": {
        "keys": {"ssh_keys": True},
        "gpu": {"resources": {"gpu": {"max": 1}}, "quota": {"gpu": 1}},
    },
    "cluster": {"gpu_pool": {"nvidia.com/gpu": 2}},
}

PROFILES = [
    {"display_name": "Plain", "slug": "plain", "default": True},
    {
        "display_name": "AMD",
        "slug": "amd",
        "kubespawner_override": {"extra_resource_limits": {"amd.com/gpu": "1"}},
    },
    {
        "display_name": "GPU",
        "slug": "gpu",
        "kubespawner_override": {"extra_resource_limits": {"nvidia.com/gpu": "1"}},
    },
    {
        "display_name": "Sidecar",
        "slug": "sidecar",
        "kubespawner_override": {
            "extra_containers": [
                {
                    "name": "log-shipper",
                    "image": "devcluster/stub:log",
                    "resources": {"limits": {"cpu": "8", "memory": "64M"}},
                }
            ]
        },
    },
]

CONFIG = f"""
import hubplugins

def _lift(pod):
    pod.spec.containers[0].resources.limits["cpu"] = "8"
    return pod

async def _lower(spawner, pod):
    pod.spec.containers[0].resources.limits["cpu"] = "500m"
    pod.metadata.labels["hook"] = "lowered"
    return pod

def modify_pod_hook(spawner, pod):
    name = spawner.user.name
    spawner.hook_calls = getattr(spawner, "hook_calls", 0) + 1
    if name.startswith("lift"):
        return _lift(pod)
    if name.startswith("late") and spawner.hook_calls % 2 == 0:
        return _lift(pod)
    if name.startswith("lower"):
        return _lower(spawner, pod)
    return pod

c.JupyterHub.spawner_class = "hubplugins.PolicySpawner"
c.KubeSpawner.profile_list = {PROFILES!r}
c.KubeSpawner.modify_pod_hook = modify_pod_hook
c.HubPolicy.policy = {POLICY!r}
hubplugins.setup(c)
"""

_ids = itertools.count()
CREATES = ("create/pods", "create/persistentvolumeclaims", "create/secrets")


@pytest.fixture(scope="module", params=["6", "5.5"], ids=["jh6", "jh55"])
async def hook_hub(
    request: pytest.FixtureRequest, devcluster, tmp_path_factory: pytest.TempPathFactory
) -> AsyncIterator[Hub]:
    workdir: Path = tmp_path_factory.mktemp(f"podcheck{request.param}")
    hub = await start_hub(
        workdir, CONFIG, jupyterhub=request.param, kubeconfig=devcluster.kubeconfig
    )
    yield hub
    await hub.stop()


async def _user(hub: Hub, prefix: str, group: str | None = None) -> str:
    user = f"{prefix}{next(_ids)}x{hub.version.replace('.', '')}"
    resp = await hub.api("POST", f"/users/{user}")
    assert resp.status_code == 201, resp.text
    if group:
        await hub.api("POST", f"/groups/{group}", json={})
        resp = await hub.api("POST", f"/groups/{group}/users", json={"users": [user]})
        assert resp.status_code == 200, resp.text
    return user


def _creates(devcluster) -> dict[str, int]:
    counts = devcluster.control.counts()
    return {key: counts.get(key, 0) for key in CREATES}


def _owned(devcluster, resource: str, user: str) -> list[str]:
    keys = ("hub.jupyter.org/username", "hubplugins.io/username")
    return [
        o["metadata"]["name"]
        for o in devcluster.control.objects(resource)
        if user in (o["metadata"].get("annotations", {}).get(k) for k in keys)
        and not o["metadata"].get("deletionTimestamp")
    ]


# (case id, user prefix, user_options, words the message must contain)
REFUSED_BEFORE_CREATE = [
    ("hook-lifts-cpu", "lift", {}, ['container "notebook" has 8 cores', "limit of 1 core"]),
    ("profile-adds-amd-gpu", "plain", {"profile": "amd"}, ['"amd.com/gpu", which was not granted']),
    ("sidecar-large-limit", "plain", {"profile": "sidecar"}, ['container "log-shipper" 8 cores']),
]


@pytest.mark.parametrize(
    ("prefix", "options", "words"),
    [pytest.param(p, o, w, id=i) for i, p, o, w in REFUSED_BEFORE_CREATE],
)
async def test_pod_above_the_grant_is_refused_before_anything_is_created(
    hook_hub, devcluster, prefix, options, words
):
    user = await _user(hook_hub, prefix)
    before = _creates(devcluster)
    resp = await hook_hub.api("POST", f"/users/{user}/servers/nb", json=options)
    assert resp.status_code == 403, resp.text
    message = resp.json()["message"]
    for word in [*words, "ask your hub admin", "(defaults)"]:
        assert word in message, message
    assert _creates(devcluster) == before
    model = (await hook_hub.api("GET", f"/users/{user}?include_stopped_servers=1")).json()
    assert "nb" not in model["servers"]
    assert '"rule": "manifest.' in hook_hub.log_text()


async def test_pod_lifted_after_the_first_check_is_refused_and_its_objects_removed(
    hook_hub, devcluster
):
    # the hook runs again only on a pod that changed after the check: here the
    # volume's name moves to <name>-2 because another account has the name
    user = await _user(hook_hub, "late", group="keys")
    claim = volume_names.server_claim(user, "nb")
    await _make_claim(devcluster, claim, None, owner="i" + "0" * 32)
    before = _creates(devcluster)
    resp = await hook_hub.api("POST", f"/users/{user}/servers/nb")
    assert resp.status_code == 403, resp.text
    assert 'container "notebook" has 8 cores' in resp.json()["message"]
    after = _creates(devcluster)
    # the volume and the key Secret were made by this start, the pod never
    assert after["create/pods"] == before["create/pods"]
    assert after["create/secrets"] == before["create/secrets"] + 1
    claims = {o["metadata"]["name"] for o in devcluster.control.objects("persistentvolumeclaims")}
    assert claim in claims and f"{claim}-2" not in claims  # the other account's is kept
    assert _owned(devcluster, "persistentvolumeclaims", user) == []
    assert _owned(devcluster, "secrets", user) == []
    assert _owned(devcluster, "pods", user) == []
    model = await hook_hub.wait_for_server(user, "nb", ready=False)
    assert not model
    model = (await hook_hub.api("GET", f"/users/{user}?include_stopped_servers=1")).json()
    assert "nb" not in model["servers"]


async def test_volume_that_existed_before_a_refused_start_is_kept(hook_hub, devcluster):
    user = await _user(hook_hub, "late", group="keys")
    claim = volume_names.server_claim(user, "nb")
    await _make_claim(devcluster, claim, user)
    resp = await hook_hub.api("POST", f"/users/{user}/servers/nb")
    assert resp.status_code == 403, resp.text
    assert _owned(devcluster, "persistentvolumeclaims", user) == [claim]
    assert _owned(devcluster, "secrets", user) == []


async def _make_claim(devcluster, name: str, user: str | None, owner: str = "") -> None:
    annotations = {"hub.jupyter.org/username": user} if user else {}
    labels = {"hubplugins.io/owner": owner} if owner else {}
    body = {
        "apiVersion": "v1",
        "kind": "PersistentVolumeClaim",
        "metadata": {"name": name, "annotations": annotations, "labels": labels},
        "spec": {"accessModes": ["ReadWriteOnce"], "resources": {"requests": {"storage": "1Gi"}}},
    }
    await _create(devcluster, "persistentvolumeclaims", body)


async def _create(devcluster, resource: str, body: dict) -> None:
    async with httpx.AsyncClient() as client:
        resp = await client.post(
            f"{devcluster.url}/api/v1/namespaces/default/{resource}", json=body
        )
    assert resp.status_code == 201, resp.text


async def _gpus_reserved(hub: Hub) -> float:
    resp = await hub.api("GET", "/../metrics")
    match = re.search(
        r'^hubplugins_gpu_pool_reserved\{resource="nvidia.com/gpu"\} (\S+)$', resp.text, re.M
    )
    return float(match.group(1)) if match else 0.0


async def test_a_leftover_pod_is_replaced_and_the_start_keeps_its_gpu(hook_hub, devcluster):
    # KubeSpawner answers a 409 on the pod create by stopping the old pod and
    # trying again: that stop must not give this start's GPU back to the pool
    user = await _user(hook_hub, "plain", group="gpu")
    leftover = {
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": {"name": "jupyter-" + volume_names.user_server(user, "")},
        "spec": {"containers": [{"name": "notebook", "image": "devcluster/stub:old"}]},
    }
    await _create(devcluster, "pods", leftover)
    resp = await hook_hub.api("POST", f"/users/{user}/servers/", json={"profile": "gpu"})
    assert resp.status_code in (201, 202), resp.text
    await hook_hub.wait_for_server(user, "")
    assert await _gpus_reserved(hook_hub) == 1
    (pod,) = _owned(devcluster, "pods", user)
    assert pod == leftover["metadata"]["name"]
    await hook_hub.api("DELETE", f"/users/{user}/servers/")
    await hook_hub.wait_for_server(user, "", ready=False)
    assert await _gpus_reserved(hook_hub) == 0


async def test_hook_within_the_grant_starts(hook_hub, devcluster):
    user = await _user(hook_hub, "lower")
    resp = await hook_hub.api("POST", f"/users/{user}/servers/")
    assert resp.status_code in (201, 202), resp.text
    await hook_hub.wait_for_server(user, "")
    (pod,) = [
        p
        for p in devcluster.control.objects("pods")
        if p["metadata"].get("annotations", {}).get("hub.jupyter.org/username") == user
    ]
    assert pod["metadata"]["labels"]["hook"] == "lowered"
    assert pod["spec"]["containers"][0]["resources"]["limits"]["cpu"] == "500m"
    await hook_hub.api("DELETE", f"/users/{user}/servers/")
    await hook_hub.wait_for_server(user, "", ready=False)
