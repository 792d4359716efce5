"""The spawn form in headless Chromium: the tier's profiles, and a refusal on the page."""

from __future__ import annotations

import os
import tempfile
from pathlib import Path

import pytest
from harness.browser import chromium, have_chromium

pytestmark = pytest.mark.browser

SCREENSHOTS = Path(os.environ.get("HUBPLUGINS_SCREENSHOTS") or tempfile.mkdtemp(prefix="spawn-"))


@pytest.mark.skipif(not have_chromium(), reason="Debian's chromium is not installed")
async def test_spawn_form_shows_the_tier_and_its_refusals(policy_hub):
    user = f"browse{policy_hub.version.replace('.', '')}"
    await policy_hub.api("POST", f"/users/{user}")
    await policy_hub.api("POST", "/groups/authenticated/users", json={"users": [user]})
    async with chromium() as browser:
        page = await browser.new_page()
        await page.goto(f"{policy_hub.url}/hub/login")
        await page.fill("input[name=username]", user)
        await page.fill("input[name=password]", "pw")
        await page.click("input[type=submit], button[type=submit]")
        await page.wait_for_url("**/hub/**")

        await page.goto(f"{policy_hub.url}/hub/spawn/{user}/lab")
        text = await page.inner_text("form")
        # defaults + authenticated: the CPU and Test profiles only
        assert "CPU" in text and "Test" in text
        assert "GPU" not in text and "Big" not in text
        # the tier's limits are stated on the form
        assert "up to 8" in text and "up to 16G" in text
        await page.screenshot(path=str(SCREENSHOTS / f"spawn-form-{user}.png"), full_page=True)

        await page.fill("input[name=cpu]", "12")
        await page.click("form#spawn_form [type=submit]")
        await page.wait_for_load_state()
        body = await page.inner_text("body")
        await page.screenshot(path=str(SCREENSHOTS / f"spawn-refused-{user}.png"), full_page=True)
        assert "12" in body and "8" in body, body[:1000]
        assert "cpu" in body.lower()
        assert "SpawnException" not in body and "HTTP 403" not in body
    model = (await policy_hub.api("GET", f"/users/{user}?include_stopped_servers=1")).json()
    assert "lab" not in model["servers"]
