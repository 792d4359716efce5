"""Who becomes whom, through the real hub, the local GitHub and the devcluster.

Each test says who is signed in, what each pod mounts (volumes and the SSH
key Secret, from the devcluster's copy of the pod) and, where refused, the
4xx and its message.
"""

from __future__ import annotations

import asyncio
from typing import Any

import pytest
from auth_github.helpers import ORG, TEAM, oauth_sign_in
from volumes.session import NS, Session, create_claim, set_spawner_state

from hubplugins.policy.rules.identity import OWNER_LABEL, owner_for
from hubplugins.spawner import volume_names

pytestmark = pytest.mark.slow


def _suffix(hub: Any) -> str:
    return hub.version.replace(".", "")


def mounts(devcluster: Any, pod: str) -> tuple[list[str], list[str]]:
    """(volume claims, secrets) a live pod mounts."""
    for obj in devcluster.control.objects("pods"):
        meta = obj["metadata"]
        if meta["name"] == pod and not meta.get("deletionTimestamp"):
            volumes = obj["spec"].get("volumes") or []
            claims = [
                v["persistentVolumeClaim"]["claimName"]
                for v in volumes
                if "persistentVolumeClaim" in v
            ]
            secrets = [v["secret"]["secretName"] for v in volumes if "secret" in v]
            return claims, secrets
    raise AssertionError(f"no pod {pod}")


def owner_label(devcluster: Any, resource: str, name: str) -> str | None:
    for obj in devcluster.control.objects(resource):
        if obj["metadata"]["name"] == name:
            return (obj["metadata"].get("labels") or {}).get(OWNER_LABEL)
    raise AssertionError(f"no {resource} {name}")


async def start(hub: Any, user: str, server: str = "", profile: str = "stub") -> dict[str, Any]:
    resp = await hub.api("POST", f"/users/{user}/servers/{server}", json={"profile": profile})
    assert resp.status_code in (201, 202), resp.text
    return await hub.wait_for_server(user, server)


async def stop(hub: Any, user: str, server: str = "") -> None:
    resp = await hub.api("DELETE", f"/users/{user}/servers/{server}")
    assert resp.status_code in (202, 204), resp.text
    await hub.wait_for_server(user, server, ready=False)


async def delete_user(hub: Any, user: str) -> None:
    resp = await hub.api("DELETE", f"/users/{user}")
    assert resp.status_code == 204, resp.text
    loop = asyncio.get_running_loop()
    deadline = loop.time() + 60
    while (await hub.api("GET", f"/users/{user}")).status_code != 404:
        assert loop.time() < deadline, f"{user} never deleted"
        await asyncio.sleep(0.1)


def github_user(github: Any, login: str, user_id: int, **kwargs: Any) -> None:
    """A member of the organization with a chosen numeric id."""
    github.add_user(login, orgs=[ORG], **kwargs)
    github.state.users[login]["id"] = user_id


def hand_over_login(github: Any, old: str, new: str, newcomer_id: int) -> None:
    """The owner of ``old`` renames their GitHub login to ``new``; someone else takes ``old``."""
    github.state.users[new] = {**github.state.users.pop(old), "login": new}
    github.add_to_org(new, ORG)
    for token in github.state.tokens.values():
        if token.login == old:
            token.login = new
    github_user(github, old, newcomer_id)


async def signed_in_as(client: Any) -> str:
    """The name of the account a browser's cookies sign in as."""
    resp = await client.get("/hub/api/user")
    assert resp.status_code == 200, resp.text
    return str(resp.json()["name"])


async def test_rename_then_a_new_person_with_the_old_name(identity_hub, devcluster, github) -> None:
    hub, n = identity_hub, _suffix(identity_hub)
    old, new = f"rita{n}", f"rita{n}b"
    github_user(github, old, 6000 + int(n))
    rita = hub.client()
    assert (await oauth_sign_in(rita, old)).status_code == 200
    await start(hub, old)
    claim, secret = volume_names.server_claim(old), volume_names.ssh_secret(old)
    assert mounts(devcluster, f"jupyter-{old}") == ([claim], [secret])
    (devcluster.control.volume_path(NS, claim) / "diary.txt").write_text("rita's")
    rita_owner = owner_label(devcluster, "persistentvolumeclaims", claim)
    assert rita_owner == owner_for("github", str(6000 + int(n)))
    assert owner_label(devcluster, "secrets", secret) == rita_owner
    await stop(hub, old)

    # rita renames her GitHub login, the admin renames her account to match,
    # and a new person takes the freed login
    resp = await hub.api("PATCH", f"/users/{old}", json={"name": new})
    assert resp.status_code == 200, resp.text
    hand_over_login(github, old, new, 6100 + int(n))

    # the newcomer gets an account, a volume and a key of their own
    newcomer = hub.client()
    assert (await oauth_sign_in(newcomer, old)).status_code == 200
    assert await signed_in_as(newcomer) == old
    await start(hub, old)
    claims, secrets = mounts(devcluster, f"jupyter-{old}")
    assert claims == [f"{claim}-2"] and secrets == [f"{secret}-2"]
    assert not (devcluster.control.volume_path(NS, f"{claim}-2") / "diary.txt").exists()
    assert owner_label(devcluster, "persistentvolumeclaims", f"{claim}-2") == owner_for(
        "github", str(6100 + int(n))
    )

    # rita signs in under her new name, keeps her data and key, and her
    # server works under the new name
    again = hub.client()
    assert (await oauth_sign_in(again, new)).status_code == 200
    assert await signed_in_as(again) == new
    renamed = await Session.open(hub, new)
    model = await start(hub, new, profile="notebook")
    assert model["url"] == f"/user/{new}/"
    assert mounts(devcluster, f"jupyter-{new}") == ([claim], [secret])
    assert await renamed.read("", "diary.txt") == "rita's"
    key = await renamed.hub_get("/hubplugins/sshkey")
    assert key.status_code == 200 and key.json()["secret"] == secret

    # deleting the newcomer (whose policy deletes volumes) never takes rita's
    await stop(hub, old)
    await delete_user(hub, old)
    assert devcluster.control.volume_path(NS, f"{claim}-2") is None
    assert devcluster.control.volume_path(NS, claim) is not None
    assert owner_label(devcluster, "secrets", secret) == rita_owner
    await stop(hub, new)


async def test_deleted_user_comes_back_only_with_the_same_identity(
    identity_hub, devcluster, github
) -> None:
    hub, n = identity_hub, _suffix(identity_hub)
    login = f"sam{n}"
    github_user(github, login, 7000 + int(n), teams=[TEAM])  # the team keeps volumes
    claim = volume_names.server_claim(login)

    async def sign_in_and_start() -> list[str]:
        client = hub.client()
        assert (await oauth_sign_in(client, login)).status_code == 200
        assert await signed_in_as(client) == login
        await start(hub, login)
        claims, _ = mounts(devcluster, f"jupyter-{login}")
        await stop(hub, login)
        return claims

    assert await sign_in_and_start() == [claim]
    (devcluster.control.volume_path(NS, claim) / "notes.txt").write_text("sam's")
    assert owner_label(devcluster, "persistentvolumeclaims", claim) == owner_for(
        "github", str(7000 + int(n))
    )
    await delete_user(hub, login)  # the policy keeps the volume

    # the same GitHub account comes back: its kept volume is re-attached
    assert await sign_in_and_start() == [claim]
    assert (devcluster.control.volume_path(NS, claim) / "notes.txt").read_text() == "sam's"
    await delete_user(hub, login)

    # someone else has the login now: a volume of their own
    github.state.users[login]["id"] = 8000 + int(n)
    assert await sign_in_and_start() == [f"{claim}-2"]
    assert (devcluster.control.volume_path(NS, claim) / "notes.txt").read_text() == "sam's"


async def test_freed_github_login_taken_by_another_id_is_refused_until_relinked(
    identity_hub, github
) -> None:
    hub, n = identity_hub, _suffix(identity_hub)
    login = f"fay{n}"
    github_user(github, login, 9000 + int(n))
    first = hub.client()
    assert (await oauth_sign_in(first, login)).status_code == 200
    assert await signed_in_as(first) == login
    bound = (await hub.api("GET", f"/hubplugins/identities/{login}")).json()
    assert (bound["provider"], bound["subject"]) == ("github", str(9000 + int(n)))

    # the login is freed on GitHub and taken by another account
    github.state.users[login]["id"] = 9100 + int(n)
    other = hub.client()
    resp = await oauth_sign_in(other, login)
    assert resp.status_code == 403
    assert "belongs to another github account" in resp.text
    assert "Ask the hub administrators" in resp.text
    assert str(9100 + int(n)) in resp.text
    assert (await other.get("/hub/home", follow_redirects=False)).status_code == 302

    # a user cannot re-link themselves; the admin can
    token = await _user_token(hub, login)
    body = {"provider": "github", "subject": str(9100 + int(n))}
    resp = await hub.api("PUT", f"/hubplugins/identities/{login}", json=body, token=token)
    assert resp.status_code == 403
    resp = await hub.api("PUT", f"/hubplugins/identities/{login}", json={"subject": []})
    assert resp.status_code == 400
    resp = await hub.api("PUT", f"/hubplugins/identities/{login}", json=body)
    assert resp.status_code == 200, resp.text
    assert resp.json()["owner"] == bound["owner"]  # the data stays with the account
    again = hub.client()
    assert (await oauth_sign_in(again, login)).status_code == 200
    assert await signed_in_as(again) == login


async def _user_token(hub: Any, user: str) -> str:
    resp = await hub.api("POST", f"/users/{user}/tokens", json={"expires_in": 600})
    assert resp.status_code == 201, resp.text
    return str(resp.json()["token"])


async def test_legacy_unlabelled_volume_adopted_once_by_its_saved_owner(
    identity_hub, devcluster, github
) -> None:
    hub, n = identity_hub, _suffix(identity_hub)
    user, new = f"leg{n}", f"leg{n}y"
    github_user(github, user, 5000 + int(n))
    assert (await oauth_sign_in(hub.client(), user)).status_code == 200
    legacy = volume_names.server_claim(user)
    await create_claim(devcluster, legacy)  # as an older hub made it: no owner label
    (devcluster.control.volume_path(NS, legacy) / "old.txt").write_text("from before")
    await hub.stop()
    set_spawner_state(hub, user, "", {"pvc_name": legacy})
    await hub.start()
    adoptions = hub.log_text().count('"event": "object_adopted"')

    await start(hub, user)
    assert mounts(devcluster, f"jupyter-{user}")[0] == [legacy]
    assert hub.log_text().count('"event": "object_adopted"') == adoptions + 1
    assert owner_label(devcluster, "persistentvolumeclaims", legacy) is None
    await stop(hub, user)
    await start(hub, user)  # adopted once: the record stands, no second adoption
    assert mounts(devcluster, f"jupyter-{user}")[0] == [legacy]
    assert hub.log_text().count('"event": "object_adopted"') == adoptions + 1
    await stop(hub, user)

    # renamed: a new account of the old name never gets the adopted volume
    resp = await hub.api("PATCH", f"/users/{user}", json={"name": new})
    assert resp.status_code == 200, resp.text
    hand_over_login(github, user, new, 5100 + int(n))
    newcomer = hub.client()
    assert (await oauth_sign_in(newcomer, user)).status_code == 200
    assert await signed_in_as(newcomer) == user
    await start(hub, user)
    assert mounts(devcluster, f"jupyter-{user}")[0] == [f"{legacy}-2"]
    await stop(hub, user)
    await start(hub, new)
    assert mounts(devcluster, f"jupyter-{new}")[0] == [legacy]
    await stop(hub, new)


async def test_new_person_starting_right_after_the_rename_of_a_running_account(
    identity_hub, devcluster, github
) -> None:
    """The rename stops the renamed account's server; the newcomer, starting right
    away, never gets its pod, volume or key."""
    hub, n = identity_hub, _suffix(identity_hub)
    old, new = f"pia{n}", f"pia{n}b"
    github_user(github, old, 4000 + int(n))
    assert (await oauth_sign_in(hub.client(), old)).status_code == 200
    await start(hub, old)
    claim, secret = volume_names.server_claim(old), volume_names.ssh_secret(old)
    # the stop the rename begins is still under way when the newcomer starts
    devcluster.control.fail("delete", "pods", status=0, count=1, delay=3)
    resp = await hub.api("PATCH", f"/users/{old}", json={"name": new})
    assert resp.status_code == 200, resp.text
    hand_over_login(github, old, new, 4100 + int(n))

    newcomer = hub.client()
    assert (await oauth_sign_in(newcomer, old)).status_code == 200
    assert await signed_in_as(newcomer) == old
    model = await start(hub, old)
    claims, secrets = mounts(devcluster, model["state"]["pod_name"])
    assert claims == [f"{claim}-2"] and secrets == [f"{secret}-2"]
    # the renamed account's server is stopped, its volume kept
    renamed = (await hub.api("GET", f"/users/{new}")).json()["servers"]
    assert not renamed.get("", {}).get("ready"), renamed
    assert devcluster.control.volume_path(NS, claim) is not None
    await stop(hub, old)


async def test_rename_stops_the_running_servers(identity_hub, devcluster, github) -> None:
    """A server running through a rename would go on answering under the old name."""
    hub, n = identity_hub, _suffix(identity_hub)
    old, new = f"rosa{n}", f"rosa{n}b"
    github_user(github, old, 6500 + int(n))
    assert (await oauth_sign_in(hub.client(), old)).status_code == 200
    await start(hub, old)
    claim = volume_names.server_claim(old)
    assert devcluster.control.volume_path(NS, claim) is not None

    resp = await hub.api("PATCH", f"/users/{old}", json={"name": new})
    assert resp.status_code == 200, resp.text
    model = await hub.wait_for_server(new, ready=False)
    assert not model.get("ready") and not model.get("pending"), model
    pods = [p["metadata"]["name"] for p in devcluster.control.objects("pods")]
    assert f"jupyter-{old}" not in pods
    assert '"event": "rename_stops_server"' in hub.log_text()
    # the volume stays with the account
    assert devcluster.control.volume_path(NS, claim) is not None
    # the proxy no longer routes the old name's URL to a server
    resp = await hub.client().get(f"/user/{old}/api/status", follow_redirects=False)
    assert resp.status_code != 200
    model = await start(hub, new, profile="notebook")
    assert model["url"] == f"/user/{new}/"
    await stop(hub, new)
