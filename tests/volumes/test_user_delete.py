"""Deleting a user whose servers are running, through the real hub on both series.

JupyterHub's ``DELETE /users/{name}`` stops only the default server and then
deletes each server's persistent resources, refusing (500) at the first one
still running. The default server's ``delete_forever`` stops the user's other
servers first, so the delete is whole: no pod left, every volume the policy
says goes with the user gone (the others kept), the SSH key Secret gone, and
no volume deleted while a pod still mounts it.
"""

from __future__ import annotations

import copy

import pytest

from hubplugins import volume_names

from .hubconfig import CONFIG, GROUPS, POLICY
from .session import NS, Session, claims_of, secrets_named

pytestmark = pytest.mark.slow

DELETE_POLICY = copy.deepcopy(POLICY)
DELETE_POLICY["defaults"]["ssh_keys"] = True
# users of this module only: the devcluster is shared with the other volume tests
DELETE_GROUPS = {"keep": [f"udkeep{v}" for v in ("6", "55")]}
DELETE_CONFIG = CONFIG.replace(repr(POLICY), repr(DELETE_POLICY)).replace(
    repr(GROUPS), repr(DELETE_GROUPS)
)

SERVERS = ("", "nb1", "nb2")


@pytest.fixture(scope="module", params=["6", "5.5"], ids=["jh6", "jh55"])
async def delete_hub(request: pytest.FixtureRequest, devcluster, tmp_path_factory):
    from harness.hub import start_hub

    assert repr(DELETE_POLICY) in DELETE_CONFIG and repr(DELETE_GROUPS) in DELETE_CONFIG
    hub = await start_hub(
        tmp_path_factory.mktemp(f"deletehub{request.param}"),
        DELETE_CONFIG,
        jupyterhub=request.param,
        kubeconfig=devcluster.kubeconfig,
    )
    yield hub
    await hub.stop()


def _live_pods(devcluster, user: str) -> list[str]:
    prefix = f"jupyter-{volume_names.safe_user(user)}"
    return sorted(
        p["metadata"]["name"]
        for p in devcluster.control.objects("pods")
        if p["metadata"]["name"].startswith(prefix) and not p["metadata"].get("deletionTimestamp")
    )


# (case id, user prefix (its group), volumes deleted with the user)
DELETE_CASES = [
    ("delete-with-user", "udgone", True),
    ("keep-policy", "udkeep", False),
]


@pytest.mark.parametrize(
    ("prefix", "volumes_go"), [pytest.param(p, v, id=i) for i, p, v in DELETE_CASES]
)
async def test_deleting_a_user_with_running_servers_is_whole(
    delete_hub, devcluster, prefix, volumes_go
):
    user = prefix + delete_hub.version.replace(".", "")
    s = await Session.open(delete_hub, user)
    for server in SERVERS:
        await s.start(server, profile="stub")
    claims = {server: volume_names.server_claim(user, server) for server in SERVERS}
    for server, claim in claims.items():
        pod = f"jupyter-{volume_names.user_server(user, server)}"
        assert claims_of(devcluster, pod) == [claim]
    secret = volume_names.ssh_secret(user)
    assert len(secrets_named(devcluster, secret)) == 1
    assert len(_live_pods(devcluster, user)) == 3

    resp = await delete_hub.api("DELETE", f"/users/{user}")
    left = {c for c in claims.values() if devcluster.control.volume_path(NS, c) is not None}
    seen = (_live_pods(devcluster, user), sorted(left), secrets_named(devcluster, secret) != [])
    assert resp.status_code == 204, (resp.text, seen)

    assert (await delete_hub.api("GET", f"/users/{user}")).status_code == 404
    assert _live_pods(devcluster, user) == []
    assert left == (set() if volumes_go else set(claims.values()))
    assert secrets_named(devcluster, secret) == []
    log = delete_hub.log_text()
    assert "is active and cannot be deleted" not in log
