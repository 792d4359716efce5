"""The managed lifecycle service stops once the hub that started it is gone.

A hub killed with SIGKILL cannot stop its managed services; the next hub would
start a second one beside the first.
"""

from __future__ import annotations

import asyncio
import time
from pathlib import Path

import pytest

pytestmark = pytest.mark.slow

CONFIG = """
c.HubPolicy.policy = {"defaults": {"idle": {"stop_after": "1h"}}}
from hubplugins.lifecycle import configure
configure(c, interval=1, dry_run=True)
"""


def _running(pid: int) -> bool:
    """``pid`` exists and is not a zombie (a gone child whose parent has not reaped it)."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except FileNotFoundError:
        return False
    return stat.rpartition(")")[2].split()[0] != "Z"


def _children(parent: int, marker: str) -> list[int]:
    found = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
            cmdline = (entry / "cmdline").read_bytes().replace(b"\0", b" ").decode()
        except OSError:
            continue
        if int(stat.rpartition(")")[2].split()[1]) == parent and marker in cmdline:
            found.append(int(entry.name))
    return found


async def _until(check, seconds: float = 60) -> bool:
    deadline = time.monotonic() + seconds
    while not check():
        if time.monotonic() > deadline:
            return False
        await asyncio.sleep(0.1)
    return True


async def test_the_service_stops_once_its_hub_is_killed(make_hub, jupyterhub_version) -> None:
    hub = await make_hub(CONFIG, jupyterhub=jupyterhub_version)
    # it sweeps: it runs, started by the hub
    assert await _until(lambda: '"event": "lifecycle-sweep"' in hub.log_text()), hub.log_tail()
    hub_pid = hub._proc.pid  # the harness's process handle
    (service,) = _children(hub_pid, "hubplugins.lifecycle")
    await hub.kill_only_the_hub()
    assert await _until(lambda: not _running(service)), hub.log_tail()
    assert (
        f"hubplugins lifecycle: the process that started it (pid {hub_pid}) is gone; stopping"
        in hub.log_text()
    )
