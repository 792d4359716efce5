"""Fixtures shared by every test: the real hub, the devcluster, the leaked-task guard."""

from __future__ import annotations

import asyncio
import itertools
import os
import re
import sys
from collections.abc import AsyncIterator, Awaitable, Callable, Iterable, Iterator
from pathlib import Path
from typing import Any

import pytest
import pytest_asyncio
from harness.hub import Hub, start_hub


@pytest.hookimpl(optionalhook=True)
def pytest_xdist_make_scheduler(config: pytest.Config, log: object) -> object:
    """``--dist loadgroup`` (``./dev test``): a module's tests run on one worker, so its
    module-scoped hubs start once; the modules of one ``xdist_group`` mark (those of an
    expensive session server such as Samba) share a worker too."""
    if config.getvalue("dist") != "loadgroup":
        return None
    from xdist.scheduler import LoadGroupScheduling

    class ModuleOrGroupScheduling(LoadGroupScheduling):
        ordered = False

        def _split_scope(self, nodeid: str) -> str:
            if nodeid.rfind("@") > nodeid.rfind("]"):  # a group, as --dist loadgroup writes it
                return nodeid.rsplit("@", 1)[-1]
            return nodeid.split("::", 1)[0]

        def _assign_work_unit(self, node: Any) -> None:
            # the costliest units first, so that no long module is left for the end:
            # a test through a hub (id naming a series) costs far more than a pure one
            if not self.ordered:
                self.ordered = True
                units = sorted(self.workqueue.items(), key=lambda unit: -_cost(unit[1]))
                self.workqueue.clear()
                self.workqueue.update(units)
            super()._assign_work_unit(node)

    return ModuleOrGroupScheduling(config, log)


def _cost(nodeids: Iterable[str]) -> float:
    return sum(1.0 if re.search(r"\bjh(6|55)\b", n) else 0.05 for n in nodeids)


# Every JupyterHub series the package supports; end-to-end tests run on each.
JUPYTERHUB_SERIES = ["6", "5.5"]


@pytest.fixture(
    params=JUPYTERHUB_SERIES, ids=[f"jh{v.replace('.', '')}" for v in JUPYTERHUB_SERIES]
)
def jupyterhub_version(request: pytest.FixtureRequest) -> str:
    """The JupyterHub series a test's hub runs."""
    return str(request.param)


# Long-lived tasks that session- or module-scoped fixtures start on purpose, by their
# coroutine's qualified name, each with the fixture that owns it. Such a task may begin
# in the first test that uses the fixture's object, yet it is not that test's.
LONG_LIVED_TASKS: dict[str, str] = {
    # the reader of a directory worker process: the authenticators of
    # ``shared_authenticators`` (tests/auth_directory) start their workers at their first
    # sign-in and keep them for the session, which closes them at its end
    "_Worker._read": "shared_authenticators",
    # a connection to a fake provider (tests/services/fake_oidc.py, fake_github.py) served in
    # this process by a module or session fixture: the hub under test keeps it open (HTTP
    # keep-alive) from one test to the next; the provider's stop() closes it
    "HTTP1ServerConnection._server_request_loop": "the fake providers' fixtures",
    # KubeSpawner's shared Kubernetes client (kubespawner/clients.py): its first use starts
    # the task that closes the client when the loop shuts down, by design for the process
    "shared_client.<locals>.close_client_task": "KubeSpawner's shared client",
}


def _describe(task: asyncio.Task[Any]) -> str:
    coro = task.get_coro()
    name = getattr(coro, "__qualname__", repr(coro))
    frame = getattr(coro, "cr_frame", None) or getattr(coro, "gi_frame", None)
    where = f" waiting at {frame.f_code.co_filename}:{frame.f_lineno}" if frame else ""
    return f"{name} (task {task.get_name()!r}){where}"


@pytest_asyncio.fixture(autouse=True, loop_scope="session")
async def _no_leaked_tasks(request: pytest.FixtureRequest) -> AsyncIterator[None]:
    """Fail a test that leaves asyncio tasks of its own running on the session loop.

    The tasks running when the test's function-scoped fixtures start (those of session and
    module fixtures among them) are not the test's; a task still running beyond them once
    its fixtures are torn down was forgotten: it would run on into later tests, and its
    exceptions would surface there or never.
    """
    before = asyncio.all_tasks()
    yield
    # a task cancelled at the end of the test finishes within a few turns of the loop
    for _ in range(3):
        await asyncio.sleep(0)
    leaked = sorted(
        _describe(task)
        for task in asyncio.all_tasks() - before
        if task is not asyncio.current_task()
        and not task.done()
        and getattr(task.get_coro(), "__qualname__", None) not in LONG_LIVED_TASKS
    )
    if leaked:
        pytest.fail(
            f"{request.node.nodeid} left {len(leaked)} asyncio task(s) running:\n  "
            + "\n  ".join(leaked),
            pytrace=False,
        )


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
