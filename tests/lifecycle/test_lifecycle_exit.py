"""The managed lifecycle service stops once the hub that started it is gone.

A hub killed with SIGKILL cannot stop its managed services; the next hub would
start a second one beside the first.
"""

from __future__ import annotations

import asyncio
import os
import signal
import sys
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
        f"hubplugins lifecycle: the hub that started it (pid {hub_pid}) is gone; stopping"
        in hub.log_text()
    )


HUB = """\
import os, subprocess, sys
child = subprocess.Popen(
    [sys.executable, "-m", "hubplugins.lifecycle", "--url", "http://127.0.0.1:1/hub/api",
     "--policy-file", sys.argv[1], "--interval", "1", f"--parent-pid={os.getpid()}"],
    stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
)
print(child.pid, flush=True)
"""  # a hub that starts the service and dies at once, before the service has started


async def test_the_service_stops_when_its_hub_died_before_it_started(tmp_path: Path) -> None:
    policy = tmp_path / "policy.yaml"
    policy.write_text("defaults: {servers: {max_named: 2}}\n", encoding="utf-8")
    env = {**os.environ, "JUPYTERHUB_API_TOKEN": "x"}
    hub = await asyncio.create_subprocess_exec(
        sys.executable, "-c", HUB, str(policy), env=env, stdout=asyncio.subprocess.PIPE
    )
    out, _ = await hub.communicate()
    service = int(out.split()[0])
    try:
        assert await _until(lambda: not _running(service))
    finally:
        if _running(service):
            os.kill(service, signal.SIGKILL)
