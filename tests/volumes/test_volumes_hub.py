"""Volumes and SSH keys through the real hub, proxy and PolicySpawner on the devcluster.

Files are written and read through each server's Jupyter contents API; the
devcluster shows which volumes and secrets exist and what they hold.
"""

from __future__ import annotations

import pytest

from hubplugins.spawner import volume_names

from .hubconfig import CONFIG
from .session import (
    NS,
    Session,
    claims_of,
    create_claim,
    pod_file,
    secrets_named,
    set_spawner_state,
)

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
async def volume_hub(devcluster, tmp_path_factory: pytest.TempPathFactory):
    from harness.hub import start_hub

    hub = await start_hub(
        tmp_path_factory.mktemp("volumehub"), CONFIG, kubeconfig=devcluster.kubeconfig
    )
    yield hub
    await hub.stop()


async def test_server_volume_survives_restarts_and_goes_with_the_server(volume_hub, devcluster):
    user, server = "srv1", "lab"
    s = await Session.open(volume_hub, user)
    await s.start(server)
    claim = volume_names.server_claim(user, server)
    await s.write(server, "kept.txt", "still here")
    assert (devcluster.control.volume_path(NS, claim) / "kept.txt").read_text() == "still here"

    await s.stop(server)
    assert devcluster.control.volume_path(NS, claim) is not None

    # meanwhile: a server whose state predates KubeSpawner 7, with a volume by the old name
    old_user, legacy = "old.user", volume_names.legacy_server_claim("old.user", "lab")
    assert legacy != volume_names.server_claim(old_user, "lab")
    await Session.open(volume_hub, old_user)
    resp = await volume_hub.api("PUT", f"/users/{old_user}/servers/lab", json={})
    assert resp.status_code in (200, 201), resp.text
    await create_claim(devcluster, legacy)
    (devcluster.control.volume_path(NS, legacy) / "old.txt").write_text("from before")

    await volume_hub.stop()
    set_spawner_state(volume_hub, old_user, "lab", {"pod_name": "jupyter-old-2euser--lab"})
    await volume_hub.start()
    await s.start(server)
    assert await s.read(server, "kept.txt") == "still here"

    # the old volume is found and kept, not orphaned
    await volume_hub.api("POST", f"/users/{old_user}/servers/lab", json={"profile": "stub"})
    await volume_hub.wait_for_server(old_user, "lab")
    pod = f"jupyter-{volume_names.user_server(old_user, 'lab')}"
    assert claims_of(devcluster, pod) == [legacy]
    assert pod_file(devcluster, pod, "/home/jovyan/old.txt") == "from before"
    assert devcluster.control.volume_path(NS, volume_names.server_claim(old_user, "lab")) is None

    await s.stop(server, remove=True)
    assert devcluster.control.volume_path(NS, claim) is None


async def test_keep_policy_keeps_the_volume_of_a_deleted_server(volume_hub, devcluster):
    user, server = "keep1", "lab"
    s = await Session.open(volume_hub, user)
    await s.start(server, profile="stub")
    claim = volume_names.server_claim(user, server)
    volume = devcluster.control.volume_path(NS, claim)
    assert volume is not None
    (volume / "kept.txt").write_text("keep me")
    await s.stop(server, remove=True)
    # a new server of the same name finds the kept volume
    await s.start(server, profile="stub")
    assert devcluster.control.volume_path(NS, claim) == volume
    await s.stop(server)
    resp = await volume_hub.api("DELETE", f"/users/{user}")
    assert resp.status_code == 204, resp.text
    assert (volume / "kept.txt").read_text() == "keep me"
    assert devcluster.control.volume_path(NS, claim) == volume


async def test_user_volume_is_shared_and_outlives_servers_with_one_ssh_key(volume_hub, devcluster):
    user = "shared1"
    s = await Session.open(volume_hub, user)
    claim = volume_names.user_claim(user)
    secret = volume_names.ssh_secret(user)
    await s.start("a")
    await s.write("a", "shared.txt", "from a")
    await s.start("b")
    assert await s.read("b", "shared.txt") == "from a"

    # one key Secret, mounted read-only in both servers, served by the hub
    assert len(secrets_named(devcluster, secret)) == 1
    resp = await s.hub_get("/hubplugins/sshkey")
    assert resp.status_code == 200, resp.text
    key = resp.json()["public_key"]
    assert key.startswith("ssh-ed25519 ")
    for server in ("a", "b"):
        pod = f"jupyter-{volume_names.user_server(user, server)}"
        assert pod_file(devcluster, pod, "/home/jovyan/.ssh/id_ed25519.pub").strip() == key
        assert "PRIVATE KEY" in pod_file(devcluster, pod, "/home/jovyan/.ssh/id_ed25519")

    # deleting every server keeps the user's volume
    await s.stop("a", remove=True)
    await s.stop("b", remove=True)
    volume = devcluster.control.volume_path(NS, claim)
    assert volume is not None and (volume / "shared.txt").read_text() == "from a"

    # stable across a hub restart: same volume, same key
    await volume_hub.restart()
    await s.start("c", profile="stub")
    pod = f"jupyter-{volume_names.user_server(user, 'c')}"
    assert claims_of(devcluster, pod) == [claim]
    assert pod_file(devcluster, pod, "/home/jovyan/shared.txt") == "from a"
    assert pod_file(devcluster, pod, "/home/jovyan/.ssh/id_ed25519.pub").strip() == key
    assert (await s.hub_get("/hubplugins/sshkey")).json()["public_key"] == key
    assert len(secrets_named(devcluster, secret)) == 1
    await s.stop("c")

    # deleting the user deletes the volume (delete_with_user) and the key
    resp = await volume_hub.api("DELETE", f"/users/{user}")
    assert resp.status_code == 204, resp.text
    assert devcluster.control.volume_path(NS, claim) is None
    assert secrets_named(devcluster, secret) == []


async def test_renamed_server_keeps_its_volume(volume_hub, devcluster):
    """JupyterHub 6 renames a stopped server; its volume follows by the saved name."""
    user = "ren1"
    s = await Session.open(volume_hub, user)
    await s.start("old", profile="stub")
    claim = volume_names.server_claim(user, "old")
    (devcluster.control.volume_path(NS, claim) / "kept.txt").write_text("renamed")
    await s.stop("old")
    resp = await volume_hub.api("PATCH", f"/users/{user}/servers/old", json={"name": "new"})
    assert resp.status_code == 200, resp.text
    await s.start("new", profile="stub")
    pod = f"jupyter-{volume_names.user_server(user, 'new')}"
    assert claims_of(devcluster, pod) == [claim]
    assert pod_file(devcluster, pod, "/home/jovyan/kept.txt") == "renamed"
    # deleting the renamed server deletes the volume it mounts
    await s.stop("new", remove=True)
    assert devcluster.control.volume_path(NS, claim) is None


async def test_a_new_server_with_a_renamed_servers_old_name_gets_its_own_volume(
    volume_hub, devcluster
):
    """The old name's volume stays with the renamed server, never with a newcomer."""
    user = "ren2"
    s = await Session.open(volume_hub, user)
    await s.start("old", profile="stub")
    claim = volume_names.server_claim(user, "old")
    (devcluster.control.volume_path(NS, claim) / "mine.txt").write_text("renamed server's")
    await s.stop("old")
    resp = await volume_hub.api("PATCH", f"/users/{user}/servers/old", json={"name": "new"})
    assert resp.status_code == 200, resp.text
    # a new server under the old name, never started, deleted: nothing of "new" goes
    resp = await volume_hub.api("POST", f"/users/{user}/servers/old", json={"profile": "stub"})
    assert resp.status_code in (201, 202), resp.text
    await volume_hub.wait_for_server(user, "old")
    pod = f"jupyter-{volume_names.user_server(user, 'old')}"
    assert claims_of(devcluster, pod) == [f"{claim}-2"]
    await s.stop("old", remove=True)
    assert (devcluster.control.volume_path(NS, claim) / "mine.txt").read_text() == (
        "renamed server's"
    )
    await s.start("new", profile="stub")
    pod = f"jupyter-{volume_names.user_server(user, 'new')}"
    assert claims_of(devcluster, pod) == [claim]
    await s.stop("new", remove=True)
    assert devcluster.control.volume_path(NS, claim) is None


async def test_no_ssh_key_without_the_policy(volume_hub):
    s = await Session.open(volume_hub, "nokey1")
    resp = await s.hub_get("/hubplugins/sshkey")
    assert resp.status_code == 404, resp.text
