"""Volume deletes that fail: retried, or reported; never silently lost or kept.

The devcluster answers the volume DELETE with 500 a chosen number of times.
A few failures are absorbed by the retries; more than the retries allow leave
the volume in place, with an ERROR line naming the claim in the hub log and
the claim listed at ``/hub/api/hubplugins/volume-failures``.
"""

from __future__ import annotations

import json

import pytest

from hubplugins import storage, volume_names

from .hubconfig import CONFIG
from .session import NS, Session

pytestmark = pytest.mark.slow

TRIES = len(storage.RETRY_DELAYS) + 1


def _events(hub, event: str) -> list[dict]:
    found = []
    for line in hub.log_text().splitlines():
        _, sep, payload = line.partition("hubplugins {")
        if sep:
            record = json.loads("{" + payload)
            if record.get("event") == event:
                found.append(record)
    return found


# (case, failures the devcluster answers, volume gone afterwards)
CASES = [
    ("retry-succeeds", TRIES - 1, True),
    ("every-try-fails", TRIES + 2, False),
]


async def test_failed_volume_deletes(make_hub, fresh_devcluster):
    cluster = fresh_devcluster
    hub = await make_hub(CONFIG, kubeconfig=cluster.kubeconfig)
    user = "fault1"
    s = await Session.open(hub, user)
    for case, failures, gone in CASES:
        server = case.replace("-", "")[:20]
        claim = volume_names.server_claim(user, server)
        await s.start(server, profile="stub")
        assert cluster.control.volume_path(NS, claim) is not None, case
        cluster.control.fail("delete", "persistentvolumeclaims", status=500, count=failures)
        await s.stop(server, remove=True)
        cluster.control.clear_faults()

        assert (cluster.control.volume_path(NS, claim) is None) == gone, case
        failed = (await hub.api("GET", "/hubplugins/volume-failures")).json()["failures"]
        listed = [f["claim"] for f in failed]
        errors = [r for r in _events(hub, "volume_delete_failed") if r["claim"] == claim]
        if gone:
            deleted = [r for r in _events(hub, "volume_deleted") if r["claim"] == claim]
            assert [r["attempts"] for r in deleted] == [failures + 1], case
            assert claim not in listed and not errors, case
        else:
            assert listed.count(claim) == 1, case
            assert len(errors) == 1 and errors[0]["attempts"] == TRIES, case
            assert "[E " in _line_of(hub, claim), case


def _line_of(hub, claim: str) -> str:
    for line in hub.log_text().splitlines():
        if "volume_delete_failed" in line and claim in line:
            return line
    return ""
