"""Fixtures for GitHub sign-in tests: a local GitHub and hubs that use it."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest

# the OpenLDAP of the directory tests, for GitHub + directory on one hub
from auth_directory.conftest import directory_tls, openldap  # noqa: F401
from auth_github.helpers import populate
from services.fake_github import FakeGitHub


@pytest.fixture
async def github() -> AsyncIterator[FakeGitHub]:
    server = await FakeGitHub().start()
    populate(server)
    yield server
    await server.stop()
