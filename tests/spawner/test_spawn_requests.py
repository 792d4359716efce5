"""A start costs the Kubernetes requests of plain KubeSpawner, and runs the hook once.

On a devcluster of the test's own, per JupyterHub series: a hub with plain
KubeSpawner and one with ``PolicySpawner`` (started at once), the same
volume settings and the same ``modify_pod_hook``; one first start on each,
counting the requests that are not the pod reflector's list and watch. The
owner check of the volume costs no request on a first start: the volume is
created with the owner label, and a 201 proves it is this account's.
"""

from __future__ import annotations

import asyncio

import pytest

pytestmark = pytest.mark.slow

HOOK = """
def modify_pod_hook(spawner, pod):
    spawner.log.warning("test hook ran for %s", spawner.user.name)
    return pod

c.KubeSpawner.modify_pod_hook = modify_pod_hook
c.KubeSpawner.storage_pvc_ensure = True
c.KubeSpawner.storage_capacity = "1Gi"
c.KubeSpawner.volumes = [{"name": "home", "persistentVolumeClaim": {"claimName": "{pvc_name}"}}]
c.KubeSpawner.volume_mounts = [{"name": "home", "mountPath": "/home/jovyan"}]
"""

POLICY = {
    "defaults": {
        "resources": {
            "cpu": {"guarantee": 0.5, "limit": 1, "max": 1},
            "memory": {"guarantee": "1G", "limit": "2G", "max": "2G"},
        },
        "storage": {"capacity": "1Gi"},
    }
}

WITH_POLICY = (
    HOOK
    + f"""
import hubplugins
c.JupyterHub.spawner_class = "hubplugins.PolicySpawner"
c.HubPolicy.policy = {POLICY!r}
hubplugins.setup(c)
"""
)

REFLECTOR_VERBS = ("list", "watch")


def _requests(cluster) -> dict[str, int]:
    counts = cluster.control.counts()
    return {k: v for k, v in counts.items() if k.split("/")[0] not in REFLECTOR_VERBS}


async def _first_start(hub, cluster, user: str) -> dict[str, int]:
    assert (await hub.api("POST", f"/users/{user}")).status_code == 201
    await asyncio.to_thread(cluster.control.reset_counts)
    resp = await hub.api("POST", f"/users/{user}/server")
    assert resp.status_code in (201, 202), resp.text
    await hub.wait_for_server(user)
    return await asyncio.to_thread(_requests, cluster)


async def test_policy_spawner_makes_the_requests_of_kubespawner(
    make_hub, fresh_devcluster, jupyterhub_version
):
    plain, policy = await asyncio.gather(
        make_hub(HOOK, jupyterhub=jupyterhub_version, kubeconfig=fresh_devcluster.kubeconfig),
        make_hub(
            WITH_POLICY, jupyterhub=jupyterhub_version, kubeconfig=fresh_devcluster.kubeconfig
        ),
    )
    baseline = await _first_start(plain, fresh_devcluster, "reqplain")
    assert baseline == {"create/persistentvolumeclaims": 1, "create/pods": 1}, baseline
    assert await _first_start(policy, fresh_devcluster, "reqpolicy") == baseline
    # the volume carries the owner label it was created with
    (claim,) = [
        o
        for o in fresh_devcluster.control.objects("persistentvolumeclaims")
        if o["metadata"].get("annotations", {}).get("hub.jupyter.org/username") == "reqpolicy"
    ]
    assert claim["metadata"]["labels"].get("hubplugins.io/owner"), claim["metadata"]
    # and the configured hook ran once for the start, as with KubeSpawner
    for hub, user in ((plain, "reqplain"), (policy, "reqpolicy")):
        assert hub.log_text().count(f"test hook ran for {user}") == 1, hub.log_tail()
