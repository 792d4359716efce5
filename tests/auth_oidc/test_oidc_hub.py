"""OpenID Connect sign-in through a real JupyterHub (5.5 and 6.x) and the local provider."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

import httpx
import pytest
from auth_github.helpers import crypt_env
from auth_oidc.helpers import GPU, JUPYTER, oidc_config, oidc_sign_in, populate
from harness.browser import chromium, have_chromium
from harness.hub import Hub, start_hub
from playwright.async_api import Browser
from services.fake_oidc import FakeOIDC

POLICY = {
    "defaults": {"profiles": ["cpu"]},
    "groups": {"gpu": {"profiles": ["*"]}},
}
PROFILES = [
    {"display_name": "CPU notebook", "slug": "cpu", "default": True},
    {"display_name": "GPU notebook", "slug": "gpu"},
]
SPAWNER = f"""
import hubplugins
c.JupyterHub.spawner_class = "hubplugins.PolicySpawner"
c.KubeSpawner.profile_list = {PROFILES!r}
c.HubPolicy.policy = {POLICY!r}
hubplugins.setup(c)
"""

# the series of the shared conftest's jupyterhub_version fixture
JUPYTERHUB_SERIES = ("6", "5.5")

# login -> status, groups, admin
SIGN_IN = [
    pytest.param("alice", 200, ["gpu", "jupyter"], False, id="gpu-entitlement"),
    pytest.param("bob", 200, ["jupyter"], False, id="jupyter-entitlement"),
    pytest.param("dave", 200, ["admins", "jupyter"], True, id="admin-entitlement"),
    pytest.param("carol", 403, None, None, id="no-jupyter-entitlement"),
]

# what is wrong with the ID token -> words on the 403 page
BAD_TOKENS = [
    pytest.param("forged", "signature", id="forged"),
    pytest.param("expired", "expired", id="expired"),
    pytest.param("audience", "audience must include", id="wrong-audience"),
    pytest.param("nonce", "nonce does not match", id="replayed-nonce"),
    pytest.param("issuer", "issuer must be", id="wrong-issuer"),
    pytest.param("unknown-key", "unknown key", id="unknown-key"),
    pytest.param("userinfo", "userinfo is about another subject", id="userinfo-of-another"),
]


@pytest.fixture(scope="module")
async def hubs(
    tmp_path_factory: pytest.TempPathFactory, devcluster
) -> AsyncIterator[dict[str, tuple[Hub, FakeOIDC]]]:
    """One local provider and one hub for each series, started at once."""
    providers = {v: await FakeOIDC().start() for v in JUPYTERHUB_SERIES}

    async def start(version: str) -> Hub:
        return await start_hub(
            tmp_path_factory.mktemp(f"oidchub{version}"),
            oidc_config(providers[version], SPAWNER),
            jupyterhub=version,
            env=crypt_env(),
            kubeconfig=devcluster.kubeconfig,
        )

    started = await asyncio.gather(*map(start, JUPYTERHUB_SERIES), return_exceptions=True)
    try:
        for result in started:
            if isinstance(result, BaseException):
                raise result
        yield {v: (hub, providers[v]) for v, hub in zip(JUPYTERHUB_SERIES, started, strict=True)}
    finally:
        for result in started:
            if isinstance(result, Hub):
                await result.stop()
        for provider in providers.values():
            await provider.stop()


@pytest.fixture
def shared(hubs: dict[str, tuple[Hub, FakeOIDC]], jupyterhub_version: str) -> tuple[Hub, FakeOIDC]:
    """The hub of the test's series and its provider."""
    return hubs[jupyterhub_version]


@pytest.fixture
async def world(shared: tuple[Hub, FakeOIDC]) -> tuple[Hub, FakeOIDC]:
    """The shared hub and provider, the provider's people as new."""
    hub, provider = shared
    provider.state.people.clear()
    populate(provider)
    return hub, provider


async def spawn_profiles(client: httpx.AsyncClient) -> list[str]:
    page = (await client.get("/hub/spawn")).text
    return [p["display_name"] for p in PROFILES if p["display_name"] in page]


async def test_sign_in_and_tiers(world: tuple[Hub, FakeOIDC]) -> None:
    """Every case of the table: groups and admin from entitlements, the tier on the spawn page."""
    hub, _ = world
    for case in SIGN_IN:
        login, status, groups, admin = case.values
        client = hub.client()
        resp = await oidc_sign_in(client, login)
        assert resp.status_code == status, (case.id, resp.text[:500])
        if status != 200:
            assert (await hub.api("GET", f"/users/{login}")).status_code == 404, case.id
            continue
        assert str(resp.url).endswith("/hub/home"), case.id
        model = (await hub.api("GET", f"/users/{login}")).json()
        assert sorted(model["groups"]) == groups, case.id
        assert model["admin"] is admin, case.id
        expected = ["CPU notebook", "GPU notebook"] if "gpu" in groups else ["CPU notebook"]
        assert await spawn_profiles(client) == expected, case.id


async def test_bad_id_tokens_are_refused(world: tuple[Hub, FakeOIDC]) -> None:
    """A forged, expired, mis-addressed or replayed ID token, or userinfo of another: 403."""
    hub, provider = world
    provider.add_person("mallory", entitlements=[JUPYTER])
    for case in BAD_TOKENS:
        kind, words = case.values
        if kind == "userinfo":
            provider.spoil_next_userinfo(sub="alice-0001")
        else:
            provider.spoil_next_id_token(kind)
        resp = await oidc_sign_in(hub.client(), "mallory")
        assert resp.status_code == 403, (case.id, resp.text[:500])
        assert "ID token was not accepted" in resp.text, case.id
        assert words in resp.text, case.id
        assert (await hub.api("GET", "/users/mallory")).status_code == 404, case.id
    # a made-up code (the provider refuses it) is a 403 too, never a 500
    client = hub.client()
    resp = await client.get("/hub/oauth_login", follow_redirects=False)
    authorize = httpx.URL(resp.headers["location"])
    callback = await client.get(
        "/hub/oauth_callback", params={"code": "made-up", "state": authorize.params["state"]}
    )
    assert callback.status_code == 403, callback.text[:500]
    assert "provider refused this sign-in" in callback.text

    # the provider down between its page and the hub's callback: 503, no account
    client = hub.client()
    resp = await client.get("/hub/oauth_login", follow_redirects=False)
    resp = await client.get(resp.headers["location"] + "&login=mallory")
    await provider.stop()
    try:
        callback = await client.get(resp.headers["location"])
    finally:
        await provider.start()
    assert callback.status_code == 503, callback.text[:500]
    assert "sign-in provider cannot be reached" in callback.text
    assert (await hub.api("GET", "/users/mallory")).status_code == 404
    assert " 500 " not in hub.log_text()


async def test_key_rotation(world: tuple[Hub, FakeOIDC]) -> None:
    """New signing keys: the hub reads the JWKS once more and signs people in."""
    hub, provider = world
    assert (await oidc_sign_in(hub.client(), "alice")).status_code == 200
    before = provider.state.requests["/oidc/jwks"]
    provider.rotate_keys()
    assert (await oidc_sign_in(hub.client(), "alice")).status_code == 200
    assert (await oidc_sign_in(hub.client(), "bob")).status_code == 200
    assert provider.state.requests["/oidc/jwks"] == before + 1


async def _poll(check, what: str, timeout: float = 30) -> None:  # type: ignore[no-untyped-def]
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    while not await check():
        assert loop.time() < deadline, what
        await asyncio.sleep(0.2)


async def test_entitlement_changes_take_effect(world: tuple[Hub, FakeOIDC]) -> None:
    """Refresh reads the claims again: a tier gained, lost, then access lost."""
    hub, provider = world
    client = hub.client()
    assert (await oidc_sign_in(client, "bob")).status_code == 200

    async def groups_are(expected: list[str]) -> bool:
        assert (await client.get("/hub/home")).status_code == 200
        return sorted((await hub.api("GET", "/users/bob")).json()["groups"]) == expected

    # renamed at the provider, and gained GPU (read with the access token): the
    # account keeps its name
    provider.set_claims("bob", preferred_username="robert", eduperson_entitlement=[JUPYTER, GPU])
    await _poll(lambda: groups_are(["gpu", "jupyter"]), "GPU tier never granted")
    assert await spawn_profiles(client) == ["CPU notebook", "GPU notebook"]
    assert "bob is now 'robert' at the provider" in hub.log_text()

    # lost GPU, with an expired access token: the refresh token gets a new one
    provider.expire_access_tokens("bob")
    provider.set_claims("bob", eduperson_entitlement=[JUPYTER])
    await _poll(lambda: groups_are(["jupyter"]), "GPU tier never removed")
    assert await spawn_profiles(client) == ["CPU notebook"]

    # lost the entitlement the hub requires: signed out, and refused at sign-in
    provider.set_claims("bob", eduperson_entitlement=[])

    async def signed_out() -> bool:
        resp = await client.get("/hub/home", follow_redirects=False)
        return resp.status_code == 302 and "/hub/login" in resp.headers["location"]

    await _poll(signed_out, "the hub never asked for a new sign-in")
    assert (await oidc_sign_in(hub.client(), "bob")).status_code == 403
    assert (await hub.api("GET", "/users/robert")).status_code == 404
    assert " 500 " not in hub.log_text()


async def test_freed_username_is_not_inherited(world: tuple[Hub, FakeOIDC]) -> None:
    """Another ``sub`` with a freed ``preferred_username`` does not get the account."""
    hub, provider = world
    rita = provider.add_person("rita", entitlements=[JUPYTER])
    assert (await oidc_sign_in(hub.client(), "rita")).status_code == 200
    bound = (await hub.api("GET", "/hubplugins/identities/rita")).json()
    assert (bound["provider"], bound["subject"]) == ("oidc", f"{provider.issuer} {rita.sub}")

    # an account bound by an earlier version to the bare sub still signs its person in
    legacy = {"provider": "oidc", "subject": rita.sub}
    assert (await hub.api("PUT", "/hubplugins/identities/rita", json=legacy)).status_code == 200
    assert (await oidc_sign_in(hub.client(), "rita")).status_code == 200

    # rita leaves, a newcomer gets the name at the provider: refused, the account kept
    provider.remove_person("rita")
    newcomer = provider.add_person("rita-new", username="rita", entitlements=[JUPYTER])
    resp = await oidc_sign_in(hub.client(), "rita-new")
    assert resp.status_code == 403, resp.text[:500]
    assert "belongs to another oidc account" in resp.text
    assert newcomer.sub in hub.log_text()  # the admin's log line names both identities
    bound = (await hub.api("GET", "/hubplugins/identities/rita")).json()
    assert bound["subject"] == rita.sub


@pytest.fixture(scope="module")
async def browser() -> AsyncIterator[Browser]:
    if not have_chromium():
        pytest.skip("Debian's chromium is not installed")
    async with chromium() as browser:
        yield browser


@pytest.mark.browser
async def test_sign_in_pages(world: tuple[Hub, FakeOIDC], browser: Browser) -> None:
    """Chromium: the provider's page, the hub's home; a forged ID token's 403 page."""
    hub, provider = world
    for login, spoil in [("alice", None), ("bob", "forged")]:
        context = await browser.new_context()
        page = await context.new_page()
        await page.goto(f"{hub.url}/hub/login")
        if spoil:
            provider.spoil_next_id_token(spoil)
        await page.get_by_role("button", name="Sign in with").click()
        await page.get_by_role("button", name=f"Sign in as {login}").click()
        if spoil is None:
            await page.wait_for_url(f"{hub.url}/hub/home")
            assert login in await page.content()
        else:
            await page.get_by_text("ID token was not accepted (signature)").wait_for()
        await context.close()
