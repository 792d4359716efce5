"""What the spawner reads from the pods: pooled demand, a user's servers, and the unlisted case."""

from __future__ import annotations

from types import SimpleNamespace

import pytest

from hubplugins.policy.errors import PolicyRefusal
from hubplugins.policy.grant import Grant
from hubplugins.policy.rules.gpu_pool import GpuPool
from hubplugins.spawner import pool_sync

GPU = "nvidia.com/gpu"
AMD = "amd.com/gpu"


def _spawner(pool: GpuPool, limits=None, guarantees=None) -> SimpleNamespace:
    return SimpleNamespace(
        gpu_pool=pool,
        namespace="ns",
        pod_name="jupyter-alice",
        extra_resource_limits=limits or {},
        extra_resource_guarantees=guarantees or {},
    )


def _grant(gpu: int) -> Grant:
    return Grant(cpu_guarantee=0.5, cpu_limit=1.0, mem_guarantee=10**9, mem_limit=2 * 10**9,
                 gpu=gpu, gpu_resource=GPU)  # fmt: skip


DEMAND = [
    ("grant-only", _grant(1), {}, {GPU: 1}),
    ("no-gpu", _grant(0), {}, {}),
    ("profile-sets-another-pooled-resource", _grant(0), {AMD: "2"}, {AMD: 2}),
    ("unpooled-resource-ignored", _grant(0), {"x.io/fpga": "1"}, {}),
    ("grant-overrides-profile-count", _grant(2), {GPU: "1"}, {GPU: 2}),
]


@pytest.mark.parametrize(
    ("grant", "limits", "expected"), [c[1:] for c in DEMAND], ids=[c[0] for c in DEMAND]
)
def test_demand(grant, limits, expected) -> None:
    pool = GpuPool({GPU: 4, AMD: 4})
    assert pool_sync.demand(_spawner(pool, limits), grant, pool) == expected


def _pod(user: str, server: str, phase: str = "Running", **limits: str) -> dict:
    notes = {"hub.jupyter.org/username": user}
    if server:
        notes["hub.jupyter.org/servername"] = server
    return {
        "metadata": {"annotations": notes},
        "spec": {"containers": [{"resources": {"limits": limits}}]},
        "status": {"phase": phase},
    }


def test_usage_from_pods_counts_the_users_live_pods() -> None:
    pods = {
        "ns/a": _pod("alice", "", cpu="2", memory="1G", **{GPU: "1"}),
        "ns/b": _pod("alice", "nb", phase="Pending", cpu="1", memory="1G"),
        "ns/c": _pod("alice", "old", phase="Failed", cpu="4"),
        "ns/d": _pod("bob", "", cpu="8"),
    }
    found = pool_sync.usage_from_pods(pods, "alice", [GPU])
    assert sorted(found) == ["", "nb"]
    assert (found[""].cpu, found[""].memory, found[""].gpu) == (2.0, 10**9, 1)
    assert found["nb"].running and found["nb"].cpu == 1.0


OWN = {"app": "jupyterhub", "release": "gpu"}
RELEASES = [
    # (case, this hub's common_labels, the pod's labels, counted)
    ("same-release", OWN, OWN, True),
    ("other-release", OWN, {"app": "jupyterhub", "release": "storage"}, False),
    ("unlabelled-pod", OWN, {}, False),
    ("no-labels-set-counts-all", {}, {"release": "storage"}, True),
]


@pytest.mark.parametrize(
    ("own", "labels", "counted"), [c[1:] for c in RELEASES], ids=[c[0] for c in RELEASES]
)
def test_usage_from_pods_counts_this_hubs_pods(own, labels, counted) -> None:
    pod = _pod("alice", "", cpu="2")
    pod["metadata"]["labels"] = labels
    found = pool_sync.usage_from_pods({"ns/a": pod}, "alice", [GPU], own)
    assert ("" in found) is counted


def test_a_pooled_start_is_refused_while_the_pods_are_not_listed() -> None:
    pool = GpuPool({GPU: 4})
    grant = _grant(1)
    with pytest.raises(PolicyRefusal) as info:
        pool_sync.reserve(_spawner(pool), "alice/", grant, None)
    assert info.value.status == 409 and "not counted yet" in info.value.message
    assert not pool.reservations
    # without pooled resources the start does not depend on the pods
    assert pool_sync.reserve(_spawner(pool), "alice/", _grant(0), None) == {}


def test_reserve_names_the_pod_and_counts_the_others() -> None:
    pool = GpuPool({GPU: 1})
    pods = {"ns/other-hub": {"spec": {"containers": [{"resources": {"limits": {GPU: "1"}}}]}}}
    with pytest.raises(PolicyRefusal):
        pool_sync.reserve(_spawner(pool), "alice/", _grant(1), pods)
    spawner = _spawner(pool)
    assert pool_sync.reserve(spawner, "alice/", _grant(1), {}) == {GPU: 1}
    assert pool.reservations["alice/"].pod == "ns/jupyter-alice"
    assert spawner._pool_counts == {"pool_in_use": 1, "pool_size": 1}
