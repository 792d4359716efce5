"""Headless Chromium through the real sign-in pages: GitHub alone, then GitHub + password.

The shared page offers GitHub and the DirectoryAuthenticator (against the
OpenLDAP of the directory tests).
"""

from __future__ import annotations

import asyncio
import os
import tempfile
from collections.abc import AsyncIterator, Awaitable, Callable
from pathlib import Path

import pytest
from auth_directory.directory_data import PASSWORDS, DirectoryUnderTest
from auth_github.helpers import crypt_env, github_config, with_directory
from harness.browser import chromium, have_chromium
from harness.hub import Hub
from playwright.async_api import Browser, Page
from services.fake_github import FakeGitHub

pytestmark = pytest.mark.browser


POLICY = {
    "defaults": {"profiles": ["cpu", "test"]},
    "groups": {"gpu-beta": {"profiles": ["*"]}},
}
PROFILES = [
    {"display_name": "CPU notebook", "slug": "cpu", "default": True},
    {"display_name": "Test notebook", "slug": "test"},
    {"display_name": "GPU notebook", "slug": "gpu"},
]
SPAWNER_CONFIG = f"""
import hubplugins
c.JupyterHub.spawner_class = "hubplugins.PolicySpawner"
c.KubeSpawner.profile_list = {PROFILES!r}
c.HubPolicy.policy = {POLICY!r}
hubplugins.setup(c)
"""

SCREENSHOTS = Path(os.environ.get("HUBPLUGINS_SCREENSHOTS") or tempfile.mkdtemp(prefix="gh-"))


@pytest.fixture(scope="module")
async def browser() -> AsyncIterator[Browser]:
    if not have_chromium():
        pytest.skip("Debian's chromium is not installed")
    async with chromium() as browser:
        yield browser


async def sign_in_with_github(page: Page, hub: Hub, login: str) -> None:
    await page.goto(f"{hub.url}/hub/login")
    await page.get_by_role("button", name="Sign in with GitHub").click()
    await page.get_by_role("button", name=f"Authorize as {login}").click()
    await page.wait_for_url(f"{hub.url}/hub/home")


async def spawn_page_profiles(page: Page, hub: Hub) -> list[str]:
    await page.goto(f"{hub.url}/hub/spawn")
    names = await page.locator(".profile .display_name, .profile h3").all_inner_texts()
    if not names:
        names = await page.locator("form#spawn_form label").all_inner_texts()
    return [n.strip() for n in names if n.strip()]


async def test_sign_in_pages(
    make_hub: Callable[..., Awaitable[Hub]],
    github: FakeGitHub,
    devcluster,
    openldap: DirectoryUnderTest,
    browser: Browser,
) -> None:
    """GitHub alone (with the PolicySpawner's spawn page), then GitHub + password."""
    alone, both = await asyncio.gather(
        make_hub(
            github_config(github, SPAWNER_CONFIG),
            jupyterhub="6",
            env=crypt_env(),
            kubeconfig=devcluster.kubeconfig,
        ),
        make_hub(
            github_config(github, with_directory(openldap.config)),
            jupyterhub="6",
            env=crypt_env(),
        ),
    )
    await github_alone(alone, browser)
    await github_and_password(both, browser)


async def github_alone(hub: Hub, browser: Browser) -> None:
    # each tier sees exactly its profiles on the spawn page
    expected = {
        "alice": ["CPU notebook", "Test notebook", "GPU notebook"],
        "bob": ["CPU notebook", "Test notebook"],
    }
    for login, profiles in expected.items():
        context = await browser.new_context()
        page = await context.new_page()
        await sign_in_with_github(page, hub, login)
        assert login in await page.content()
        listed = await spawn_page_profiles(page, hub)
        assert [p for p in listed if "notebook" in p] == profiles, listed
        await page.screenshot(path=str(SCREENSHOTS / f"spawn-{login}.png"), full_page=True)
        await context.close()

    # an outsider sees why
    context = await browser.new_context()
    page = await context.new_page()
    await page.goto(f"{hub.url}/hub/login")
    await page.get_by_role("button", name="Sign in with GitHub").click()
    await page.get_by_role("button", name="Authorize as carol").click()
    await page.get_by_role("paragraph").filter(has_text="is not a member").wait_for()
    await page.screenshot(path=str(SCREENSHOTS / "refused.png"), full_page=True)
    await context.close()


async def github_and_password(hub: Hub, browser: Browser) -> None:
    context = await browser.new_context()
    page = await context.new_page()
    await page.goto(f"{hub.url}/hub/login")
    await page.screenshot(path=str(SCREENSHOTS / "login-both.png"), full_page=True)
    await page.get_by_role("button", name="Sign in with GitHub").click()
    await page.get_by_role("button", name="Authorize as alice").click()
    await page.wait_for_url(f"{hub.url}/hub/home")
    assert "gh-alice" in await page.content()
    await context.close()

    context = await browser.new_context()
    page = await context.new_page()
    await page.goto(f"{hub.url}/hub/login")
    await page.fill("#directory-username", "bob")
    await page.fill("#directory-password", PASSWORDS["bob"])
    await page.click("#directory-submit")
    await page.wait_for_url(f"{hub.url}/hub/home")
    assert "bob" in await page.content()
    await context.close()
