"""Fixtures: an in-process devcluster on the test loop and a JSON client for it."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from devcluster.devcluster_helpers import Api

from hubplugins_dev.devcluster.server import DevCluster


@pytest.fixture
async def dev(tmp_path: Path) -> AsyncIterator[DevCluster]:
    cluster = DevCluster(tmp_path / "devcluster", capacity={"nvidia.com/gpu": "2"})
    await cluster.start()
    yield cluster
    await cluster.stop()


@pytest.fixture
def api(dev: DevCluster) -> Api:
    return Api(dev.url)
