"""The README's demo command: the demo hub serves sign-in, and a stop leaves nothing running."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import httpx
from harness.ports import free_port


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    # a zombie has exited: its parent has not read its status yet
    stat = Path(f"/proc/{pid}/stat")
    return stat.exists() and stat.read_text().split(") ", 1)[1][0] != "Z"


def _descendants(pid: int) -> set[int]:
    parents: dict[int, int] = {}
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(") ", 1)[1].split()
        except OSError:
            continue  # exited meanwhile
        parents[int(stat.parent.name)] = int(fields[1])
    found: set[int] = set()
    todo = [pid]
    while todo:
        parent = todo.pop()
        children = {child for child, ppid in parents.items() if ppid == parent}
        todo.extend(children - found)
        found |= children
    return found


def test_demo_serves_sign_in_and_stops_everything(tmp_path: Path) -> None:
    port = free_port()
    demo = Path(sys.executable).parent / "hubplugins-demo"
    proc = subprocess.Popen(
        [str(demo), "--port", str(port), "--state-dir", str(tmp_path / "demo")],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )
    started: set[int] = set()
    try:
        deadline = time.monotonic() + 120
        while True:
            assert proc.poll() is None, proc.stdout.read().decode() if proc.stdout else ""
            started |= _descendants(proc.pid)
            try:
                resp = httpx.get(f"http://127.0.0.1:{port}/hub/login", timeout=2)
                if resp.status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            assert time.monotonic() < deadline, "the demo hub never served its login page"
            time.sleep(0.5)
        assert "password" in resp.text.lower()
        started |= _descendants(proc.pid)
        # the hub, the proxy (in a session of its own) and the devcluster at least
        assert len(started) >= 3, started
        proxy_pid = int((tmp_path / "demo" / "proxy.pid").read_text())
        started.add(proxy_pid)
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(60) == 0
        deadline = time.monotonic() + 30
        while left := {pid for pid in started if _alive(pid)}:
            assert time.monotonic() < deadline, f"still running after the demo stopped: {left}"
            time.sleep(0.2)
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()
        if proc.stdout is not None:
            proc.stdout.close()
