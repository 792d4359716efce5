"""Fixtures for GitHub sign-in tests: a local GitHub and hubs that use it."""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable

import pytest
from auth_github.helpers import crypt_env, github_config, populate
from harness.hub import Hub
from services.fake_github import FakeGitHub


@pytest.fixture
async def github() -> AsyncIterator[FakeGitHub]:
    server = await FakeGitHub().start()
    populate(server)
    yield server
    await server.stop()


@pytest.fixture
def github_hub(
    make_hub: Callable[..., Awaitable[Hub]], github: FakeGitHub, jupyterhub_version: str
) -> Callable[..., Awaitable[Hub]]:
    """``hub = await github_hub(extra_config)``: a hub signing in with the local GitHub."""

    async def _make(extra: str = "") -> Hub:
        return await make_hub(
            github_config(github, extra), jupyterhub=jupyterhub_version, env=crypt_env()
        )

    return _make
