"""Start a devcluster in a subprocess for tests and the demo."""

from __future__ import annotations

import asyncio
import contextlib
import os
import signal
import subprocess
import sys
import threading
from collections.abc import AsyncIterator
from pathlib import Path
from types import TracebackType
from typing import IO, Any

from .client import DevClusterControl

STARTUP_TIMEOUT = 30.0


def _capacity_arg(capacity: dict[str, Any] | None) -> list[str]:
    if not capacity:
        return []
    return ["--capacity", ",".join(f"{k}={v}" for k, v in capacity.items())]


def _child_env(extra_path: list[str] | None) -> dict[str, str]:
    """The kubelet's environment: this interpreter's scripts dir first on PATH."""
    env = dict(os.environ)
    paths = [*(extra_path or []), str(Path(sys.executable).parent)]
    env["PATH"] = os.pathsep.join([*paths, env.get("PATH", os.defpath)])
    return env


class DevClusterProcess:
    """A running ``python -m hubplugins_dev.devcluster``; a context manager that stops it."""

    def __init__(
        self,
        root: Path,
        capacity: dict[str, Any] | None = None,
        namespace: str = "default",
        extra_path: list[str] | None = None,
        log: IO[bytes] | int | None = None,
    ) -> None:
        self.root = Path(root)
        self.capacity = capacity
        self.namespace = namespace
        self.extra_path = extra_path
        self.log = log
        self.process: subprocess.Popen[bytes] | None = None
        self.url = ""
        self.kubeconfig = Path()
        self.control: DevClusterControl = DevClusterControl("http://127.0.0.1:1")

    def start(self) -> DevClusterProcess:
        argv = [sys.executable, "-m", "hubplugins_dev.devcluster", "--root", str(self.root)]
        argv += ["--namespace", self.namespace, *_capacity_arg(self.capacity)]
        self.process = subprocess.Popen(
            argv,
            stdout=subprocess.PIPE,
            stderr=self.log,
            env=_child_env(self.extra_path),
        )
        lines: list[bytes] = []

        def read() -> None:
            assert self.process is not None and self.process.stdout is not None
            for _ in range(2):
                lines.append(self.process.stdout.readline())

        reader = threading.Thread(target=read, daemon=True)
        reader.start()
        reader.join(STARTUP_TIMEOUT)
        if len(lines) < 2 or not lines[1].startswith(b"url="):
            self.stop()
            raise RuntimeError(f"devcluster did not start: {lines!r}")
        self.kubeconfig = Path(lines[0].decode().strip())
        self.url = lines[1].decode().strip().partition("=")[2]
        self.control = DevClusterControl(self.url)
        return self

    def stop(self, timeout: float = 15.0) -> int | None:
        """SIGTERM (the devcluster kills its pods), then wait; SIGKILL if it hangs."""
        proc = self.process
        if proc is None:
            return None
        if proc.poll() is None:
            proc.send_signal(signal.SIGTERM)
            try:
                proc.wait(timeout)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()
        if proc.stdout is not None:
            proc.stdout.close()
        self.process = None
        return proc.returncode

    def __enter__(self) -> DevClusterProcess:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()


def run_devcluster(
    root: Path,
    capacity: dict[str, Any] | None = None,
    namespace: str = "default",
    extra_path: list[str] | None = None,
) -> DevClusterProcess:
    """Start a devcluster subprocess rooted at ``root``; use as ``with run_devcluster(...)``."""
    return DevClusterProcess(root, capacity, namespace, extra_path).start()


@contextlib.asynccontextmanager
async def arun_devcluster(
    root: Path,
    capacity: dict[str, Any] | None = None,
    namespace: str = "default",
    extra_path: list[str] | None = None,
) -> AsyncIterator[DevClusterProcess]:
    """``async with arun_devcluster(root) as dev``: start and stop off the event loop."""
    dev = await asyncio.to_thread(run_devcluster, root, capacity, namespace, extra_path)
    try:
        yield dev
    finally:
        await asyncio.to_thread(dev.stop)
