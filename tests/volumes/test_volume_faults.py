"""Volume deletes that fail: retried, or reported; never silently lost or kept.

The devcluster answers the volume DELETE with 500 a chosen number of times.
A few failures are absorbed by the retries (the backoff gives at least
``MIN_TRIES`` tries); failures for longer than its patience leave the volume
in place, with an ERROR line naming the claim and the tries in the hub log and
the claim listed at ``/hub/api/hubplugins/volume-failures``.
"""

from __future__ import annotations

import json

import pytest
from harness.hub import start_hub

from hubplugins.spawner import storage, volume_names

from .hubconfig import CONFIG
from .session import NS, Session

pytestmark = pytest.mark.slow

TRIES = storage.MIN_TRIES
EVERY = 10**6  # more failures than any backoff tries


def _events(hub, event: str) -> list[dict]:
    found = []
    for line in hub.log_text().splitlines():
        _, sep, payload = line.partition("hubplugins {")
        if sep:
            record = json.loads("{" + payload)
            if record.get("event") == event:
                found.append(record)
    return found


@pytest.fixture(scope="module")
def fault_cluster(tmp_path_factory: pytest.TempPathFactory):
    """A devcluster of this module's own: faults injected here touch no other test."""
    from hubplugins_dev.devcluster.testing import run_devcluster

    with run_devcluster(tmp_path_factory.mktemp("faultcluster")) as cluster:
        yield cluster


@pytest.fixture(scope="module")
async def fault_hub(fault_cluster, tmp_path_factory: pytest.TempPathFactory):
    """A hub on JupyterHub 5.5, the chart's version (the other volume tests run 6.x)."""
    hub = await start_hub(
        tmp_path_factory.mktemp("faulthub"),
        CONFIG,
        jupyterhub="5.5",
        kubeconfig=fault_cluster.kubeconfig,
    )
    yield hub
    await hub.stop()


# (case, failures the devcluster answers, volume gone afterwards)
CASES = [
    ("retry-succeeds", TRIES - 1, True),
    ("every-try-fails", EVERY, False),
]


async def test_failed_volume_deletes(fault_hub, fault_cluster):
    hub, cluster = fault_hub, fault_cluster
    user = "fault1"
    s = await Session.open(hub, user)
    for case, failures, gone in CASES:
        server = case.replace("-", "")[:20]
        claim = volume_names.server_claim(user, server)
        await s.start(server, profile="stub")
        assert cluster.control.volume_path(NS, claim) is not None, case
        cluster.control.fail("delete", "persistentvolumeclaims", status=500, count=failures)
        tries = cluster.control.count("delete", "persistentvolumeclaims")
        await s.stop(server, remove=True)
        tries = cluster.control.count("delete", "persistentvolumeclaims") - tries
        cluster.control.clear_faults()

        assert (cluster.control.volume_path(NS, claim) is None) == gone, case
        failed = (await hub.api("GET", "/hubplugins/volume-failures")).json()["failures"]
        listed = [f["claim"] for f in failed]
        errors = [r for r in _events(hub, "volume_delete_failed") if r["claim"] == claim]
        if gone:
            deleted = [r for r in _events(hub, "volume_deleted") if r["claim"] == claim]
            assert [r["attempts"] for r in deleted] == [failures + 1] == [tries], case
            assert claim not in listed and not errors, case
        else:
            assert listed.count(claim) == 1, case
            assert len(errors) == 1 and errors[0]["attempts"] == tries >= TRIES, case
            assert "[E " in _line_of(hub, claim), case


def _line_of(hub, claim: str) -> str:
    for line in hub.log_text().splitlines():
        if "volume_delete_failed" in line and claim in line:
            return line
    return ""


async def test_ssh_key_secret_fault_fails_the_start_not_the_key(fault_hub, fault_cluster):
    """A Secret that cannot be created fails the start; the next start creates it once."""
    hub, cluster = fault_hub, fault_cluster
    user = "shared2"
    s = await Session.open(hub, user)
    assert (await s.hub_get("/hubplugins/sshkey")).status_code == 404
    cluster.control.fail("create", "secrets", status=500, count=1)
    resp = await hub.api("POST", f"/users/{user}/servers/x", json={"profile": "stub"})
    if resp.status_code == 202:
        model = await hub.wait_for_server(user, "x", ready=False)
        assert not model.get("ready")
    else:
        assert resp.status_code >= 400, resp.text
    assert [o for o in cluster.control.objects("pods") if user in o["metadata"]["name"]] == []
    await s.start("x", profile="stub")
    await s.start("y", profile="stub")
    key = (await s.hub_get("/hubplugins/sshkey")).json()["public_key"]
    assert key.startswith("ssh-ed25519 ")
    secrets = [o for o in cluster.control.objects("secrets") if user in o["metadata"]["name"]]
    assert len(secrets) == 1
