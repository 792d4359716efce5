"""The home page's usage panel and a retention notice in headless Chromium, light and dark."""

from __future__ import annotations

import json
import os
import tempfile
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from harness.browser import chromium, have_chromium

from hubplugins.lifecycle import HubAPI, LifecycleService, PolicySource

from .conftest import LIFECYCLE_TOKEN, POLICY
from .test_usage_hub import join, make_users, remove, stopped_server

pytestmark = [
    pytest.mark.browser,
    pytest.mark.skipif(not have_chromium(), reason="Debian's chromium is not installed"),
]

SCREENSHOTS = Path(os.environ.get("HUBPLUGINS_SCREENSHOTS") or tempfile.mkdtemp(prefix="usage-"))

# the panel's text and background: (r, g, b) luminance of each, per theme
LUMINANCE = """(sel) => {
  const el = document.querySelector(sel);
  const lum = (c) => { const [r, g, b] = c.match(/[\\d.]+/g).map(Number);
                       return (0.2126 * r + 0.7152 * g + 0.0722 * b) / 255; };
  let bg = el, color = getComputedStyle(el).backgroundColor;
  while (bg && (color === "rgba(0, 0, 0, 0)" || color === "transparent")) {
    bg = bg.parentElement; color = bg ? getComputedStyle(bg).backgroundColor : "rgb(255,255,255)";
  }
  return [lum(getComputedStyle(el).color), lum(color)];
}"""


async def test_home_page_panel_notice_and_keep(usage_hub):
    hub = usage_hub
    user = f"ub{hub.version.replace('.', '')}"
    await make_users(hub, [user], "keepers")
    await join(hub, [user], "gpu-users")
    api = HubAPI(hub.hub_api, LIFECYCLE_TOKEN, concurrency=2)
    try:
        await stopped_server(hub, user, "analysis")
        service = LifecycleService(
            api,
            PolicySource(text=json.dumps(POLICY)),
            clock=lambda: datetime.now(UTC) + timedelta(days=6.5),
        )
        result = await service.sweep()
        assert (user, "analysis", "noticed") in {(n.user, n.server, o) for n, o in result.notices}

        async with chromium() as browser:
            for theme in ("light", "dark"):
                context = await browser.new_context(color_scheme=theme)
                page = await context.new_page()
                errors: list[str] = []
                page.on("pageerror", lambda e, errors=errors: errors.append(str(e)))
                page.on(
                    "console",
                    lambda m, errors=errors: errors.append(m.text) if m.type == "error" else None,
                )
                await page.goto(f"{hub.url}/hub/login")
                await page.fill("input[name=username]", user)
                await page.fill("input[name=password]", "pw")
                async with page.expect_navigation():
                    await page.click("input[type=submit], button[type=submit]")
                await page.goto(f"{hub.url}/hub/home")
                panel = page.locator("#hubplugins-usage")
                text = await panel.inner_text()
                assert "1 of 5 named servers" in text and "GPU pool 0 of 4" in text, text
                assert "Limits for your groups: gpu-users, keepers" in text
                notice = await page.locator(".hubplugins-notice").inner_text()
                assert notice.startswith("Will be deleted on ") and "unless you start it" in notice
                assert "Deleted after 7 days idle: on " in text
                fg, bg = await page.evaluate(LUMINANCE, "#hubplugins-usage .hubplugins-summary")
                assert abs(fg - bg) > 0.5, (theme, fg, bg)  # readable in either theme
                assert (bg < 0.5) is (theme == "dark"), (theme, bg)
                await panel.screenshot(path=str(SCREENSHOTS / f"usage-panel-{theme}.png"))
                await page.screenshot(
                    path=str(SCREENSHOTS / f"usage-home-{user}-{theme}.png"), full_page=True
                )
                if theme == "dark":
                    # keep it: the page says so, and retention leaves it
                    await page.click(".hubplugins-keep")
                    await page.wait_for_selector(".hubplugins-kept")
                    assert await page.locator(".hubplugins-notice").count() == 0
                    # the spawn form states the tier's caps before the user asks
                    await page.goto(f"{hub.url}/hub/spawn/{user}/more")
                    caps = await page.locator(".hubplugins-caps").inner_text()
                    assert caps.startswith("Your limits (gpu-users, keepers): each server up to")
                    assert "2 GPUs" in caps and "5 named servers" in caps, caps
                assert not errors, errors
                await context.close()
        later = await LifecycleService(
            api,
            PolicySource(text=json.dumps(POLICY)),
            clock=lambda: datetime.now(UTC) + timedelta(days=8),
        ).sweep()
        assert (user, "analysis", "kept") in {(a.user, a.server, o) for a, o in later.done}
        servers = (await hub.api("GET", f"/users/{user}?include_stopped_servers=1")).json()
        assert "analysis" in servers["servers"]
    finally:
        api.close()
        await remove(hub, user)
