"""A hub per JupyterHub series with GitHub sign-in and PolicySpawner on the devcluster."""

from __future__ import annotations

import secrets
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import pytest

# the OpenLDAP of the directory tests
from auth_directory.conftest import directory_tls, openldap  # noqa: F401
from auth_github.helpers import crypt_env, github_config
from harness.hub import Hub, start_hub
from jupyterhub import crypto
from services.fake_github import FakeGitHub

POLICY = {
    "defaults": {
        "storage": {"capacity": "1Gi", "scope": "server", "delete_with_user": True},
        "ssh_keys": True,
        "quota": {"cpu": None, "memory": None},
    },
    # members of the GitHub team (group_map) keep their volumes when deleted
    "groups": {"gpu-beta": {"storage": {"delete_with_user": False}}},
}

PROFILES = [
    {"display_name": "Notebook", "slug": "notebook", "default": True},
    {"display_name": "Stub", "slug": "stub", "kubespawner_override": {"image": "devcluster/stub"}},
]

SPAWNER = f"""
import hubplugins
c.JupyterHub.allow_named_servers = True
c.JupyterHub.spawner_class = "hubplugins.PolicySpawner"
c.KubeSpawner.image = "quay.io/jupyter/base-notebook:latest"
c.KubeSpawner.profile_list = {PROFILES!r}
c.HubPolicy.policy = {POLICY!r}
hubplugins.setup(c)
"""


@pytest.fixture
def keeper() -> Iterator[Any]:
    """JupyterHub's key for auth_state, a fresh one for the test's while (``keeper.keys``
    replaced makes what was saved before unreadable)."""
    ck = crypto.CryptKeeper.instance()
    before = list(ck.keys)
    ck.keys = [secrets.token_bytes(32)]
    yield ck
    ck.keys = before


@pytest.fixture(scope="module")
async def github() -> AsyncIterator[FakeGitHub]:
    server = await FakeGitHub().start()
    yield server
    await server.stop()


@pytest.fixture(scope="module", params=["6", "5.5"], ids=["jh6", "jh55"])
async def identity_hub(
    request: pytest.FixtureRequest,
    devcluster,
    github: FakeGitHub,
    tmp_path_factory: pytest.TempPathFactory,
) -> AsyncIterator[Hub]:
    workdir: Path = tmp_path_factory.mktemp(f"identityhub{request.param}")
    config = github_config(github) + SPAWNER
    hub = await start_hub(
        workdir,
        config,
        jupyterhub=request.param,
        kubeconfig=devcluster.kubeconfig,
        env=crypt_env(),
    )
    yield hub
    await hub.stop()
