"""DirectoryAuthenticator inside a real JupyterHub (6.x and 5.5), through the login form."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from pathlib import Path

import pytest
from auth_directory.directory_data import PASSWORDS, DirectoryUnderTest, closed_port_url
from harness.hub import Hub, start_hub

from hubplugins.auth.directory import UNAVAILABLE_MESSAGE
from hubplugins.policy.rules.sign_in import account_recheck_refused

# under ./dev test these modules share one worker, so Samba starts once
pytestmark = pytest.mark.xdist_group("samba")

REFRESH_AGE = 1  # seconds; JupyterHub's smallest auth_refresh_age


def hub_config(directory: DirectoryUnderTest, **overrides: object) -> str:
    traits = {
        **directory.config,
        "allowed_groups": {"staff"},
        "admin_groups": {"admins"},
        "worker_processes": 1,
        **overrides,
    }
    lines = [
        'c.JupyterHub.authenticator_class = "directory"',
        "c.Authenticator.allow_all = False",
        "c.Authenticator.manage_groups = True",
        "c.Authenticator.enable_auth_state = True",
        f"c.Authenticator.auth_refresh_age = {REFRESH_AGE}",
    ]
    lines += [f"c.DirectoryAuthenticator.{k} = {v!r}" for k, v in traits.items()]
    return "\n".join(lines) + "\n"


CRYPT_ENV = {"JUPYTERHUB_CRYPT_KEY": "ab" * 32}


@pytest.fixture(scope="module")
async def directory_hubs(
    tmp_path_factory: pytest.TempPathFactory,
) -> AsyncIterator[Callable[..., Awaitable[Hub]]]:
    """``await directory_hubs(directory, version, variant="normal")``: one hub per key."""
    hubs: dict[tuple[str, str, str], Hub] = {}
    locks: dict[tuple[str, str, str], asyncio.Lock] = {}

    async def get(
        directory: DirectoryUnderTest,
        version: str,
        variant: str = "normal",
        kubeconfig: Path | None = None,
    ) -> Hub:
        key = (directory.kind, version, variant)
        async with locks.setdefault(key, asyncio.Lock()):
            if key not in hubs:
                overrides: dict[str, object] = {}
                if variant == "failover":
                    overrides["server_urls"] = [closed_port_url(), *directory.config["server_urls"]]
                elif variant == "down":
                    overrides["server_urls"] = [closed_port_url(), closed_port_url("ldap")]
                workdir = tmp_path_factory.mktemp(f"hub-{'-'.join(key)}")
                config = hub_config(directory, **overrides)
                if kubeconfig is not None:  # pods of the shared devcluster: one name per hub
                    prefix = f"dir-{directory.kind}-{version.replace('.', '')}"
                    config += f'c.KubeSpawner.pod_name_template = "{prefix}-{{user_server}}"\n'
                hubs[key] = await start_hub(
                    workdir, config, jupyterhub=version, env=CRYPT_ENV, kubeconfig=kubeconfig
                )
            return hubs[key]

    yield get
    await asyncio.gather(*(hub.stop() for hub in hubs.values()))


async def sign_in(hub: Hub, username: str, password: str):
    client = await hub.login(username, password)
    return client, client.login_response


SIGN_IN_CASES = {
    # case: (typed, password, expected: JupyterHub name, or an HTTP status)
    "plain": ("alice", PASSWORDS["alice"], "alice"),
    "uppercase": ("ALICE", PASSWORDS["alice"], "alice"),
    "upn": ("alice@{dns}", PASSWORDS["alice"], "alice"),
    "netbios": ("{nb}\\alice", PASSWORDS["alice"], "alice"),
    "nested-group-member": ("carol", PASSWORDS["carol"], "carol"),
    "wrong-password": ("alice", "Wrong-Passw0rd!", 403),
    "empty-password": ("alice", "", 403),
    "not-in-allowed-group": ("dave", PASSWORDS["dave"], 403),
    "unknown-domain": ("alice@evil.example.com", PASSWORDS["alice"], 403),
    "disabled-account": ("erin", PASSWORDS["erin"], 403),
}
# what the login page says for a refusal, by case and directory
REFUSAL_TEXT = {("disabled-account", "samba"): "This account is disabled in the directory"}


@pytest.mark.parametrize("case", SIGN_IN_CASES)
async def test_sign_in_through_hub(case, directory, jupyterhub_version, directory_hubs):
    typed, password, expected = SIGN_IN_CASES[case]
    dns, nb = directory.domains
    hub = await directory_hubs(directory, jupyterhub_version)
    _, resp = await sign_in(hub, typed.format(dns=dns, nb=nb), password)
    if isinstance(expected, int):
        assert resp.status_code == expected
        text = REFUSAL_TEXT.get((case, directory.kind), "Invalid username or password")
        assert text in resp.text
        return
    assert resp.status_code == 302, hub.log_tail()
    model = (await hub.api("GET", f"/users/{expected}")).json()
    assert model["name"] == expected


GROUP_CASES = {
    # case: (user, admin, JupyterHub groups that must be there)
    "admin-with-direct-groups": ("alice", True, {"staff", "admins"}),
    "nested-once": ("bob", False, {"staff", "team-a", "gpu-beta"}),
    "nested-twice": ("carol", False, {"staff", "team-a", "team-a-sub"}),
}


@pytest.mark.parametrize("case", GROUP_CASES)
async def test_groups_and_admin_synced(case, directory, jupyterhub_version, directory_hubs):
    user, admin, groups = GROUP_CASES[case]
    hub = await directory_hubs(directory, jupyterhub_version)
    _, resp = await sign_in(hub, user, PASSWORDS[user])
    assert resp.status_code == 302
    model = (await hub.api("GET", f"/users/{user}")).json()
    assert model["admin"] is admin
    assert groups <= set(model["groups"])
    members = (await hub.api("GET", "/groups/team-a")).json()["users"]
    if "team-a" in groups:
        assert user in members


# the full table runs against the authenticator directly (test_authenticator.py)
INJECTIONS = {
    "star": "*",
    "or-objectclass": "*)(|(objectClass=*",
    "backslash": "\\",
    "nul": "alice\x00",
    "fullwidth": "\uff41lice",
}


@pytest.mark.parametrize("case", INJECTIONS)
async def test_injection_through_hub(case, directory, jupyterhub_version, directory_hubs):
    hub = await directory_hubs(directory, jupyterhub_version)
    # tornado drops control characters: "alice\0" arrives as "alice", so not with her password
    passwords = ["*", PASSWORDS["bob"] if case == "nul" else PASSWORDS["alice"]]
    for password in passwords:
        _, resp = await sign_in(hub, INJECTIONS[case], password)
        assert resp.status_code == 403


async def _wait_refresh_age(since: float) -> None:
    """Let JupyterHub's refresh interval pass: refresh is time-based by design."""
    await asyncio.sleep(max(0.0, since + REFRESH_AGE + 0.1 - time.monotonic()))


async def test_refresh_applies_group_changes(directory, jupyterhub_version, directory_hubs):
    hub = await directory_hubs(directory, jupyterhub_version)
    client, resp = await sign_in(hub, "frank", PASSWORDS["frank"])
    signed_in = time.monotonic()
    assert resp.status_code == 302
    assert "gpu-beta" not in (await hub.api("GET", "/users/frank")).json()["groups"]
    await directory.add_member("gpu-beta", "frank")
    try:
        await _wait_refresh_age(signed_in)
        assert (await client.get("/hub/home")).status_code == 200
        assert "gpu-beta" in (await hub.api("GET", "/users/frank")).json()["groups"]
    finally:
        await directory.remove_member("gpu-beta", "frank")
    await directory.remove_member("staff", "frank")
    try:
        await _wait_refresh_age(time.monotonic())
        resp = await client.get("/hub/home")
        assert resp.status_code == 302 and "/login" in resp.headers["location"]
    finally:
        await directory.add_member("staff", "frank")


async def test_refresh_after_disabling(samba, jupyterhub_version, directory_hubs):
    hub = await directory_hubs(samba, jupyterhub_version)
    client, resp = await sign_in(hub, "gina", PASSWORDS["gina"])
    signed_in = time.monotonic()
    assert resp.status_code == 302
    await samba.set_disabled("gina", True)
    try:
        await _wait_refresh_age(signed_in)
        resp = await client.get("/hub/home")
        assert resp.status_code == 302 and "/login" in resp.headers["location"]
        _, again = await sign_in(hub, "gina", PASSWORDS["gina"])
        assert again.status_code == 403
    finally:
        await samba.set_disabled("gina", False)


async def test_failover_first_server_down(openldap, jupyterhub_version, directory_hubs):
    hub = await directory_hubs(openldap, jupyterhub_version, "failover")
    for user in ("alice", "bob"):
        _, resp = await sign_in(hub, user, PASSWORDS[user])
        assert resp.status_code == 302


async def test_all_servers_down_shows_unavailable_page(
    openldap, jupyterhub_version, directory_hubs
):
    hub = await directory_hubs(openldap, jupyterhub_version, "down")
    _, resp = await sign_in(hub, "alice", PASSWORDS["alice"])
    assert resp.status_code == 503
    assert UNAVAILABLE_MESSAGE in resp.text
    assert "Invalid username or password" not in resp.text
    assert 'name="password"' in resp.text  # the login form, to try again
    log = hub.log_text()
    assert "outcome=unavailable" in log
    assert PASSWORDS["alice"] not in log


async def _poll_status(call: Callable[[], Awaitable], status: int, timeout: float = 30):
    """Repeat ``call`` until it answers ``status`` (refresh is time-based by design)."""
    deadline = time.monotonic() + timeout
    while True:
        resp = await call()
        if resp.status_code == status or time.monotonic() > deadline:
            return resp
        await asyncio.sleep(0.2)


async def test_revoked_account_loses_tokens_and_servers(
    directory, jupyterhub_version, directory_hubs, devcluster
):
    """Disabled in the directory: an API token made before stops working for the API
    and for starts, and the running server is stopped."""
    user = "ivan"
    hub = await directory_hubs(directory, jupyterhub_version, "spawn", devcluster.kubeconfig)
    _, resp = await sign_in(hub, user, PASSWORDS[user])
    assert resp.status_code == 302, hub.log_tail()
    made = await hub.api("POST", f"/users/{user}/tokens", json={"expires_in": 600})
    token = made.json()["token"]
    started = await hub.api("POST", f"/users/{user}/server", token=token)
    assert started.status_code in (201, 202), started.text
    await hub.wait_for_server(user)
    await directory.set_disabled(user, True)
    try:
        refused = await _poll_status(lambda: hub.api("GET", "/user", token=token), 403)
        assert refused.status_code == 403, refused.text
        start = await hub.api("POST", f"/users/{user}/servers/second", token=token)
        assert start.status_code == 403, start.text  # the token no longer signs in
        # an admin's start: the rule's message, for what this directory says of the account
        revoked = {account_recheck_refused(user, o).message for o in ("disabled", "not_found")}
        await hub.wait_for_server(user, ready=False)
        log = hub.log_text()
        assert f"stopping server '' of {user}: the account " in log
        admin_start = await hub.api("POST", f"/users/{user}/server")  # an admin's start too
        assert admin_start.status_code == 403, admin_start.text
        assert admin_start.json()["message"] in revoked, admin_start.text
        model = (await hub.api("GET", f"/users/{user}?include_stopped_servers=1")).json()
        assert "second" not in model["servers"]  # the refused start left no record
    finally:
        await directory.set_disabled(user, False)
        await hub.api("DELETE", f"/users/{user}/server")
        await hub.wait_for_server(user, ready=False)
    assert (await hub.api("GET", "/user", token=token)).status_code == 200
