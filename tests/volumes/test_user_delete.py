"""Deleting a user whose servers are running, through the real hub on both series.

JupyterHub's ``DELETE /users/{name}`` stops only the default server and then
deletes each server's persistent resources, refusing (500) at the first one
still running. The default server's ``delete_forever`` stops the user's other
servers first, so the delete is whole: no pod left, every volume the policy
says goes with the user gone (the others kept), the SSH key Secret gone, and
no volume deleted while a pod still mounts it.
"""

from __future__ import annotations

import asyncio
import copy
import logging

import pytest

from hubplugins.hub import user_delete
from hubplugins.spawner import volume_names

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


# -- stop_other_servers, with stand-ins for the hub's user and spawners ------------


class _Spawner:
    def __init__(self, user, name: str, state: str) -> None:
        self.user, self.name, self.state = user, name, state
        self._log_name = f"{user.name}:{name}"
        self._stop_pending = False
        self._spawn_future = None
        self.log = logging.getLogger("test-user-delete")

    @property
    def pending(self) -> str | None:
        return "spawn" if self.state == "starting" else None

    @property
    def active(self) -> bool:
        return self.state != "stopped"


class _User:
    def __init__(self, states: dict[str, str], failing: set[str]) -> None:
        self.name = "ann"
        self.spawners = {n: _Spawner(self, n, s) for n, s in states.items()}
        self.failing = failing
        self.stopped: list[str] = []
        self.unrouted: list[str] = []
        user = self

        class _Proxy:
            async def delete_user(self, _user, name: str) -> None:
                user.unrouted.append(name)

        self.settings = {"proxy": _Proxy()}

    async def stop(self, name: str) -> None:
        if name in self.failing:
            raise RuntimeError(f"cannot stop {name}")
        self.spawners[name].state = "stopped"
        self.stopped.append(name)


# (case id, servers and their state, servers whose stop fails,
#  servers stopped, words of the error or None)
STOP_CASES = [
    ("two-running", {"": "stopped", "a": "running", "b": "running"}, set(), ["a", "b"], None),
    ("none-running", {"": "stopped", "a": "stopped"}, set(), [], None),
    ("start-finishes-then-stops", {"": "stopped", "a": "starting"}, set(), ["a"], None),
    ("start-never-ends", {"": "stopped", "a": "starting"}, set(), [], ["a", "nothing"]),
    (
        "one-never-starts-none-stopped",
        {"": "stopped", "a": "starting", "b": "running"},
        set(),
        [],
        ["a (spawn)", "nothing was stopped"],
    ),
    ("a-stop-fails", {"": "stopped", "a": "running", "b": "running"}, {"b"}, ["a"], ["b"]),
]


@pytest.mark.parametrize(
    ("states", "failing", "stopped", "words"),
    [pytest.param(s, f, t, w, id=i) for i, s, f, t, w in STOP_CASES],
)
async def test_stop_other_servers(monkeypatch, states, failing, stopped, words) -> None:
    user = _User(states, failing)
    if states.get("a") == "starting":
        spawner = user.spawners["a"]
        spawner._spawn_future = asyncio.get_running_loop().create_future()
        if words is None:  # the start in progress ends, and the server is running

            def started() -> None:
                spawner.state = "running"
                spawner._spawn_future.set_result(None)

            asyncio.get_running_loop().call_soon(started)
        else:
            monkeypatch.setattr(user_delete, "SETTLE_WAIT", 0.05)
    if words is None:
        await user_delete.stop_other_servers(user.spawners[""])
    else:
        with pytest.raises(user_delete.UserDeleteError) as info:
            await user_delete.stop_other_servers(user.spawners[""])
        for word in words:
            assert word in str(info.value), info.value
    assert sorted(user.stopped) == stopped
    assert all(name in user.unrouted for name in stopped)
