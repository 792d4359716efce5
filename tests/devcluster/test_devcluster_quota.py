"""ResourceQuota in the devcluster: status hard/used, the 403 answer, atomic with creation."""

from __future__ import annotations

import asyncio
import sys
from typing import Any

import pytest
from devcluster.devcluster_helpers import Api, pod, wait_for

from hubplugins_dev.devcluster.server import DevCluster

PODS = "/api/v1/namespaces/default/pods"
QUOTAS = "/api/v1/namespaces/default/resourcequotas"


def quota(name: str, **hard: str) -> dict[str, Any]:
    return {"metadata": {"name": name}, "spec": {"hard": hard}}


def gpu_pod(name: str, gpus: int = 1, **resources: Any) -> dict[str, Any]:
    limits = {"nvidia.com/gpu": str(gpus), **resources.pop("limits", {})}
    return pod(name, resources={"limits": limits, **resources})


async def used(api: Api, name: str) -> dict[str, str]:
    code, body = await api.call("GET", f"{QUOTAS}/{name}")
    assert code == 200, body
    assert body["status"]["hard"] == body["spec"]["hard"]
    return dict(body["status"]["used"])


async def test_status_follows_pods(dev: DevCluster, api: Api) -> None:
    code, body = await api.call(
        "POST", QUOTAS, quota("gpus", **{"requests.nvidia.com/gpu": "4", "pods": "10"})
    )
    assert code == 201, body
    assert body["status"]["used"] == {"requests.nvidia.com/gpu": "0", "pods": "0"}
    for name, gpus in (("q-a", 1), ("q-b", 2)):
        code, body = await api.call("POST", PODS, gpu_pod(name, gpus))
        assert code == 201, body
    assert await used(api, "gpus") == {"requests.nvidia.com/gpu": "3", "pods": "2"}
    code, _ = await api.call("DELETE", f"{PODS}/q-b", gracePeriodSeconds=0)
    assert code == 200
    await wait_for(dev, "pods", "q-b", lambda p: p is None)
    assert await used(api, "gpus") == {"requests.nvidia.com/gpu": "1", "pods": "1"}
    # a changed cap is in the status at once
    code, body = await api.call(
        "PATCH", f"{QUOTAS}/gpus", {"spec": {"hard": {"requests.nvidia.com/gpu": "2"}}}
    )
    assert code == 200, body
    assert body["status"]["hard"]["requests.nvidia.com/gpu"] == "2"


ADMISSION = {
    "gpus-over": (
        {"requests.nvidia.com/gpu": "2"},
        [gpu_pod("a-1", 1)],
        gpu_pod("a-2", 2),
        'pods "a-2" is forbidden: exceeded quota: q, requested: requests.nvidia.com/gpu=2, '
        "used: requests.nvidia.com/gpu=1, limited: requests.nvidia.com/gpu=2",
    ),
    "pod-count": (
        {"pods": "1"},
        [pod("b-1")],
        pod("b-2"),
        'pods "b-2" is forbidden: exceeded quota: q, requested: pods=1, used: pods=1, '
        "limited: pods=1",
    ),
    "cpu-unset": (
        {"limits.cpu": "2"},
        [],
        pod("c-1"),
        'pods "c-1" is forbidden: failed quota: q: must specify limits.cpu for: notebook',
    ),
    "memory-over": (
        {"requests.memory": "1Gi"},
        [],
        pod("d-1", resources={"requests": {"memory": "2Gi"}}),
        'pods "d-1" is forbidden: exceeded quota: q, requested: requests.memory=2147483648, '
        "used: requests.memory=0, limited: requests.memory=1073741824",
    ),
}


@pytest.mark.parametrize(
    ("hard", "before", "refused", "message"), list(ADMISSION.values()), ids=list(ADMISSION)
)
async def test_admission_refuses_with_403(
    dev: DevCluster,
    api: Api,
    hard: dict[str, str],
    before: list[dict[str, Any]],
    refused: dict[str, Any],
    message: str,
) -> None:
    code, body = await api.call("POST", QUOTAS, quota("q", **hard))
    assert code == 201, body
    for obj in before:
        code, body = await api.call("POST", PODS, obj)
        assert code == 201, body
    code, body = await api.call("POST", PODS, refused)
    assert (code, body["reason"], body["message"]) == (403, "Forbidden", message)
    assert body["details"] == {"name": refused["metadata"]["name"], "kind": "pods"}
    # nothing stored, nothing recorded
    assert dev.cluster.store.get("pods", "default", refused["metadata"]["name"]) is None
    about = [e["involvedObject"]["name"] for e in dev.cluster.store.iter("events", "default")]
    assert refused["metadata"]["name"] not in about


async def test_concurrent_creations_never_exceed(api: Api) -> None:
    code, body = await api.call("POST", QUOTAS, quota("gpus", **{"requests.nvidia.com/gpu": "4"}))
    assert code == 201, body
    answers = await asyncio.gather(
        *(api.call("POST", PODS, gpu_pod(f"race-{i}")) for i in range(10))
    )
    codes = sorted(code for code, _ in answers)
    assert codes == [201] * 4 + [403] * 6
    assert await used(api, "gpus") == {"requests.nvidia.com/gpu": "4"}


async def test_terminated_pods_do_not_count(dev: DevCluster, api: Api) -> None:
    code, body = await api.call("POST", QUOTAS, quota("gpus", **{"requests.nvidia.com/gpu": "1"}))
    assert code == 201, body
    done = gpu_pod("done-1")
    done["spec"]["containers"][0].update(image="python", command=[sys.executable, "-c", "pass"])
    code, body = await api.call("POST", PODS, done)
    assert code == 201, body
    await wait_for(dev, "pods", "done-1", lambda p: p and p["status"]["phase"] == "Succeeded")
    assert await used(api, "gpus") == {"requests.nvidia.com/gpu": "0"}
    code, body = await api.call("POST", PODS, gpu_pod("done-2"))
    assert code == 201, body


async def test_invalid_hard_is_422(api: Api) -> None:
    code, body = await api.call("POST", QUOTAS, quota("bad", pods="many"))
    assert code == 422, body
    assert body["details"]["causes"][0]["field"] == "spec.hard[pods]"
