"""Fixtures shared by every test: the real hub and the devcluster."""

from __future__ import annotations

import itertools
import os
import sys
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from pathlib import Path

import pytest
from harness.hub import Hub, start_hub

# Every JupyterHub series the package supports; end-to-end tests run on each.
JUPYTERHUB_SERIES = ["6", "5.5"]


@pytest.fixture(
    params=JUPYTERHUB_SERIES, ids=[f"jh{v.replace('.', '')}" for v in JUPYTERHUB_SERIES]
)
def jupyterhub_version(request: pytest.FixtureRequest) -> str:
    """The JupyterHub series a test's hub runs."""
    return str(request.param)


_hub_ids = itertools.count()


@pytest.fixture
async def make_hub(
    tmp_path: Path,
) -> AsyncIterator[Callable[..., Awaitable[Hub]]]:
    """Start real hubs: ``hub = await make_hub(config_text, jupyterhub="6")``.

    Keyword arguments go to :class:`harness.hub.Hub` (``kubeconfig=`` puts the
    hub on a devcluster with KubeSpawner defaults). Every hub is stopped at the
    end of the test.
    """
    hubs: list[Hub] = []

    async def _make(config: str = "", **kwargs: object) -> Hub:
        hub = await start_hub(tmp_path / f"hub{next(_hub_ids)}", config, **kwargs)
        hubs.append(hub)
        return hub

    yield _make
    for hub in hubs:
        await hub.stop()


def _devcluster(root: Path, **kwargs: object) -> Iterator[object]:
    from hubplugins_dev.devcluster.testing import run_devcluster

    env_path = os.environ.get("PATH", "")
    os.environ["PATH"] = os.pathsep.join([str(Path(sys.executable).parent), env_path])
    with run_devcluster(root, **kwargs) as cluster:  # type: ignore[arg-type]
        yield cluster


@pytest.fixture(scope="session")
def devcluster(tmp_path_factory: pytest.TempPathFactory) -> Iterator[object]:
    """One devcluster shared by the session: use user names unique to your test."""
    yield from _devcluster(tmp_path_factory.mktemp("devcluster"))


@pytest.fixture
def fresh_devcluster(tmp_path: Path) -> Iterator[object]:
    """A devcluster of this test's own, for fault injection and request counts."""
    yield from _devcluster(tmp_path / "devcluster")
