"""The GPU pool counted from pods and reservations, and what a pod holds."""

from __future__ import annotations

from typing import Any

import pytest

from hubplugins.policy.pod_holdings import holds, pod_owner, pooled_holdings
from hubplugins.policy.rules.gpu_pool import GpuPool

GPU = "nvidia.com/gpu"
AMD = "amd.com/gpu"


def _pod(
    *containers: dict[str, Any],
    phase: str = "Running",
    init: tuple[dict[str, Any], ...] = (),
    user: str | None = None,
    server: str | None = None,
) -> dict[str, Any]:
    annotations = {}
    if user is not None:
        annotations["hub.jupyter.org/username"] = user
    if server:
        annotations["hub.jupyter.org/servername"] = server
    return {
        "metadata": {"annotations": annotations},
        "spec": {
            "containers": [{"resources": c} for c in containers],
            "initContainers": [{"resources": c} for c in init],
        },
        "status": {"phase": phase},
    }


HOLDS = [
    ("limit", _pod({"limits": {GPU: "1"}}), GPU, 1),
    ("request-only", _pod({"requests": {GPU: "2"}}), GPU, 2),
    ("larger-of-both", _pod({"requests": {GPU: 1}, "limits": {GPU: "2"}}), GPU, 2),
    ("two-containers", _pod({"limits": {GPU: "1"}}, {"limits": {GPU: "1"}}), GPU, 2),
    ("init-larger", _pod({"limits": {GPU: "1"}}, init=({"limits": {GPU: "3"}},)), GPU, 3),
    ("pending", _pod({"limits": {GPU: "1"}}, phase="Pending"), GPU, 1),
    ("no-phase-yet", {"spec": {"containers": [{"resources": {"limits": {GPU: "1"}}}]}}, GPU, 1),
    ("succeeded", _pod({"limits": {GPU: "1"}}, phase="Succeeded"), GPU, 0),
    ("failed", _pod({"limits": {GPU: "1"}}, phase="Failed"), GPU, 0),
    ("other-resource", _pod({"limits": {AMD: "1"}}), GPU, 0),
    ("cpu-millicores", _pod({"limits": {"cpu": "1500m"}}), "cpu", 1.5),
    ("memory-quantity", _pod({"limits": {"memory": "2Gi"}}), "memory", 2 * 2**30),
    ("not-a-quantity", _pod({"limits": {GPU: "lots"}}), GPU, 0),
]


@pytest.mark.parametrize(
    ("pod", "resource", "expected"), [c[1:] for c in HOLDS], ids=[c[0] for c in HOLDS]
)
def test_what_a_pod_holds(pod, resource, expected) -> None:
    assert holds(pod, resource) == expected


def test_pooled_holdings_and_owner() -> None:
    pods = {
        "ns/a": _pod({"limits": {GPU: "1", AMD: "2"}}, user="alice"),
        "ns/b": _pod({"limits": {"cpu": "1"}}, user="bob", server="nb"),
        "ns/c": _pod({"limits": {GPU: "1"}}, phase="Succeeded"),
    }
    assert pooled_holdings(pods.items(), [GPU, AMD]) == {"ns/a": {GPU: 1, AMD: 2}}
    assert pod_owner(pods["ns/a"]) == ("alice", "")
    assert pod_owner(pods["ns/b"]) == ("bob", "nb")
    assert pod_owner(pods["ns/c"]) is None


# (case, reservations [(server, demand, pod)], pods, resource, in use)
IN_USE = [
    ("pods-only", [], {"ns/x": {GPU: 2}}, GPU, 2),
    ("reservation-before-its-pod", [("a/", {GPU: 1}, "ns/a")], {}, GPU, 1),
    ("reservation-and-its-pod-once", [("a/", {GPU: 1}, "ns/a")], {"ns/a": {GPU: 1}}, GPU, 1),
    ("pod-holds-more-than-reserved", [("a/", {GPU: 1}, "ns/a")], {"ns/a": {GPU: 2}}, GPU, 2),
    ("another-hubs-pod", [("a/", {GPU: 1}, "ns/a")], {"ns/a": {GPU: 1}, "ns/z": {GPU: 1}}, GPU, 2),
    ("per-resource", [("a/", {GPU: 1, AMD: 2}, "ns/a")], {"ns/z": {AMD: 1}}, AMD, 3),
]


@pytest.mark.parametrize(
    ("reservations", "pods", "resource", "expected"),
    [c[1:] for c in IN_USE],
    ids=[c[0] for c in IN_USE],
)
def test_in_use_counts_pods_and_reservations(reservations, pods, resource, expected) -> None:
    pool = GpuPool({GPU: 4, AMD: 4})
    for server, demand, pod in reservations:
        pool.restore(server, demand, pod=pod)
    assert pool.in_use(resource, pods) == expected


def test_a_crash_forgotten_start_still_holds_its_gpu() -> None:
    # the hub restarted: no reservation, but the pod of the interrupted start is there
    pool = GpuPool({GPU: 1})
    refused = pool.reserve(
        "bob/", {GPU: 1}, pod="ns/jupyter-bob", pods={"ns/jupyter-alice": {GPU: 1}}
    )
    assert (refused.allowed, refused.status, refused.rule) == (False, 409, "cluster.gpu_pool")
    assert refused.message == (
        "GPU pool exhausted: 1 of the 1 nvidia.com/gpu GPUs of this hub are in use and this "
        "server asks for 1. Try again when another server stops, or ask for fewer GPUs."
    )
    assert pool.reserve("bob/", {GPU: 1}, pod="ns/jupyter-bob", pods={}).allowed


def test_restart_of_a_server_replaces_its_own_pod() -> None:
    pool = GpuPool({GPU: 1})
    # the server's earlier pod (same name) is still listed while the new one is made
    assert pool.reserve("a/", {GPU: 1}, pod="ns/a", pods={"ns/a": {GPU: 1}}).allowed
    assert pool.in_use(GPU, {"ns/a": {GPU: 1}}) == 1


def test_every_listed_resource_has_its_own_capacity() -> None:
    pool = GpuPool({GPU: 1, AMD: 2})
    assert pool.reserve("a/", {GPU: 1, AMD: 1}, pod="ns/a").allowed
    refused = pool.reserve("b/", {AMD: 1, GPU: 1}, pod="ns/b")
    assert not refused.allowed and refused.details["resource"] == GPU
    assert "b/" not in pool.reservations  # refused: nothing reserved, not even the AMD GPU
    assert pool.reserve("b/", {AMD: 1}, pod="ns/b").allowed
    assert not pool.reserve("c/", {AMD: 1}, pod="ns/c", pods={"ns/z": {}}).allowed
    assert pool.in_use(AMD) == 2 and pool.in_use(GPU) == 1


# -- GPU pool --------------------------------------------------------------------


def test_gpu_pool_first_come_first_served() -> None:
    pool = GpuPool({"nvidia.com/gpu": 4})
    assert pool.reserve("alice/a", {"nvidia.com/gpu": 3}).allowed
    refused = pool.reserve("bob/b", {"nvidia.com/gpu": 2})
    assert (refused.allowed, refused.status, refused.rule) == (False, 409, "cluster.gpu_pool")
    assert "GPU pool exhausted: 3 of the 4 nvidia.com/gpu GPUs" in refused.message
    assert pool.in_use() == 3
    assert pool.release("alice/a") == 3
    ok = pool.reserve("bob/b", {"nvidia.com/gpu": 2})
    assert ok.allowed and ok.details["in_use"] == 2 and ok.details["size"] == 4


def test_gpu_pool_rereserve_replaces() -> None:
    pool = GpuPool({GPU: 4})
    assert pool.reserve("a", {GPU: 4}).allowed
    assert pool.reserve("a", {GPU: 2}).allowed  # its own GPUs do not count against it
    assert pool.in_use() == 2
    assert pool.reserve("a", {GPU: 0}).allowed
    assert pool.in_use() == 0 and not pool.reservations


def test_gpu_pool_unlisted_resource_is_uncapped() -> None:
    pool = GpuPool({"nvidia.com/gpu": 1})
    assert pool.reserve("a", {"amd.com/gpu": 10}).allowed
    assert pool.in_use("amd.com/gpu") == 10
    assert pool.available("amd.com/gpu") is None


def test_gpu_pool_restore_beyond_capacity() -> None:
    pool = GpuPool({GPU: 1})
    pool.restore("a", {GPU: 2})
    assert pool.in_use() == 2 and pool.available() == 0
    assert not pool.reserve("b", {GPU: 1}).allowed
    assert pool.release("missing") == 0


def test_gpu_pool_rejects_a_negative_count() -> None:
    pool = GpuPool({GPU: 4})
    assert pool.reserve("a", {GPU: -1}).status == 400
