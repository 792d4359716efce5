"""One policy hub per JupyterHub series, shared by the spawner tests of a module.

Every test uses user names of its own, so sharing the hub and the devcluster
is safe; tests that count Kubernetes requests compare counts before and after.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from harness.hub import Hub, start_hub

from .policy_config import CONFIG


@pytest.fixture(scope="module", params=["6", "5.5"], ids=["jh6", "jh55"])
async def policy_hub(
    request: pytest.FixtureRequest, devcluster, tmp_path_factory: pytest.TempPathFactory
) -> AsyncIterator[Hub]:
    workdir: Path = tmp_path_factory.mktemp(f"policyhub{request.param}")
    hub = await start_hub(
        workdir, CONFIG, jupyterhub=request.param, kubeconfig=devcluster.kubeconfig
    )
    yield hub
    await hub.stop()
