"""The node: schedules pods against its capacity and runs each as a local process."""

from __future__ import annotations

import asyncio
import contextlib
import ctypes
import json
import logging
import os
import signal
from collections.abc import Callable
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

from . import rootfs
from .cluster import Cluster
from .container import LaunchError, build_launch
from .ipclaim import IpBlock
from .podstatus import (
    container_status,
    set_condition,
)
from .quantity import parse_quantity
from .scheduler import Key, Scheduler
from .store import now_rfc3339
from .stub import StubResponder, is_stub_image, service_port

log = logging.getLogger("devcluster.kubelet")

DEFAULT_CAPACITY = {"cpu": "8", "memory": "32Gi", "nvidia.com/gpu": "4", "pods": "110"}


def _die_with_parent() -> None:
    """In the child: get SIGKILL if the devcluster dies without cleaning up (Linux)."""
    with contextlib.suppress(OSError, AttributeError):
        libc = ctypes.CDLL(None, use_errno=True)
        libc.prctl(1, signal.SIGKILL)  # PR_SET_PDEATHSIG


@dataclass(eq=False)
class PodRuntime:
    key: Key
    uid: str
    ip: str
    requests: dict[str, Decimal]
    fs: rootfs.PodFS | None = None
    process: asyncio.subprocess.Process | None = None
    stub: StubResponder | None = None
    task: asyncio.Task[None] | None = None
    stopped: asyncio.Event = field(default_factory=asyncio.Event)
    terminate_event: asyncio.Event = field(default_factory=asyncio.Event)
    terminating: bool = False
    kill_handle: asyncio.TimerHandle | None = None
    released: bool = False


class Kubelet(Scheduler):
    """Scheduler and kubelet of the one node of a devcluster."""

    def __init__(
        self, cluster: Cluster, capacity: dict[str, Any] | None = None, path: str | None = None
    ) -> None:
        super().__init__()
        self.cluster = cluster
        cluster.kubelet = self
        merged = {**DEFAULT_CAPACITY, **(capacity or {})}
        self.capacity = {name: parse_quantity(value) for name, value in merged.items()}
        self.path = path or os.environ.get("PATH", os.defpath)
        self.readiness_delay = 0.0
        self.ip_block = IpBlock()  # pod addresses no other devcluster hands out
        self.ip_prefix = self.ip_block.prefix
        self._next_ip = 0
        self.runtimes: dict[Key, PodRuntime] = {}
        self.jupyter_config_dir: str | None = None
        if hasattr(os, "geteuid") and os.geteuid() == 0:
            conf = cluster.root / "kubelet" / "jupyter-config"
            conf.mkdir(parents=True, exist_ok=True)
            (conf / "jupyter_server_config.json").write_text(
                json.dumps({"ServerApp": {"allow_root": True}})
            )
            self.jupyter_config_dir = str(conf)

    def _allocated(self) -> tuple[dict[str, Decimal], int]:
        total: dict[str, Decimal] = {}
        count = 0
        for rt in self.runtimes.values():
            if rt.released:
                continue
            count += 1
            for name, value in rt.requests.items():
                total[name] = total.get(name, Decimal(0)) + value
        return total, count

    def _new_ip(self) -> str:
        n = self._next_ip % (254 * 254)
        self._next_ip += 1
        return f"127.{self.ip_prefix}.{n // 254 + 1}.{n % 254 + 1}"

    def _bind(self, key: Key, pod: dict[str, Any], requests: dict[str, Decimal]) -> None:
        rt = PodRuntime(key=key, uid=pod["metadata"]["uid"], ip=self._new_ip(), requests=requests)
        self.runtimes[key] = rt
        rt.task = asyncio.get_running_loop().create_task(self._run(rt))

    # running

    async def _run(self, rt: PodRuntime) -> None:
        try:
            await self._run_inner(rt)
        except Exception:
            log.exception("pod %s/%s failed in the kubelet", *rt.key)
        finally:
            rt.stopped.set()

    def _lookup(self, namespace: str) -> Callable[[str, str], dict[str, Any] | None]:
        return lambda resource, name: self.cluster.store.get(resource, namespace, name)

    async def _run_inner(self, rt: PodRuntime) -> None:
        key = rt.key
        pod = self.cluster.store.get("pods", *key)
        if pod is None or rt.terminating:
            self._finish(rt)
            return
        ns = key[0]
        container = pod["spec"]["containers"][0]

        def with_ip(p: dict[str, Any]) -> None:
            st = p["status"]
            st.update(
                podIP=rt.ip,
                podIPs=[{"ip": rt.ip}],
                hostIP="127.0.0.1",
                hostIPs=[{"ip": "127.0.0.1"}],
                startTime=now_rfc3339(),
            )
            set_condition(st, "Initialized", True)
            set_condition(st, "ContainersReady", False, "ContainersNotReady")
            set_condition(st, "Ready", False, "ContainersNotReady")
            waiting = {"waiting": {"reason": "ContainerCreating"}}
            st["containerStatuses"] = [
                container_status(c, rt.uid, waiting, False) for c in p["spec"]["containers"]
            ]

        pod = self._update(key, with_ip)
        if pod is None:
            return
        try:
            rt.fs = rootfs.prepare(
                self.cluster.root, pod, self._lookup(ns), lambda c: self.cluster.volume_path(ns, c)
            )
            rt.fs.log_path.touch()
            if is_stub_image(container.get("image")):
                rt.stub = StubResponder(key[1])
                await rt.stub.start(rt.ip, service_port(container))
            else:
                launch = build_launch(
                    pod, rt.fs, self._lookup(ns), self.path, self.jupyter_config_dir
                )
                out = os.open(rt.fs.log_path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)
                try:
                    rt.process = await asyncio.create_subprocess_exec(
                        *launch.argv,
                        env=launch.env,
                        cwd=launch.cwd,
                        stdin=asyncio.subprocess.DEVNULL,
                        stdout=out,
                        stderr=asyncio.subprocess.STDOUT,
                        start_new_session=True,
                        preexec_fn=_die_with_parent,
                    )
                finally:
                    os.close(out)
        except (rootfs.MountError, LaunchError, OSError) as e:
            reason = getattr(
                e, "reason", "FailedMount" if isinstance(e, rootfs.MountError) else "StartError"
            )
            self._failed_to_start(rt, reason, str(e))
            return
        if rt.terminating:
            await self._terminate_now(rt)
        started = now_rfc3339()

        def running(p: dict[str, Any]) -> None:
            st = p["status"]
            st["phase"] = "Running"
            state = {"running": {"startedAt": started}}
            st["containerStatuses"] = [
                container_status(c, rt.uid, state, i > 0)
                for i, c in enumerate(p["spec"]["containers"])
            ]

        pod = self._update(key, running)
        self._event(pod, "Started", f"Started container {container['name']}")
        delay = self.readiness_delay
        exit_code = await self._wait_ready_then_exit(rt, delay)
        if rt.terminating:
            self._finish(rt)
            return
        finished = now_rfc3339()

        def terminated(p: dict[str, Any]) -> None:
            st = p["status"]
            st["phase"] = "Succeeded" if exit_code == 0 else "Failed"
            state = {
                "terminated": {
                    "exitCode": exit_code,
                    "reason": "Completed" if exit_code == 0 else "Error",
                    "startedAt": started,
                    "finishedAt": finished,
                }
            }
            st["containerStatuses"] = [
                container_status(c, rt.uid, state, False) for c in p["spec"]["containers"]
            ]
            set_condition(st, "ContainersReady", False, "PodCompleted")
            set_condition(st, "Ready", False, "PodCompleted")

        self._release(rt)
        self._update(key, terminated)
        self.cluster.release_claims(ns)

    async def _wait_ready_then_exit(self, rt: PodRuntime, delay: float) -> int:
        exited = asyncio.ensure_future(self._wait_exit(rt))
        try:
            if delay > 0:
                await asyncio.wait([exited], timeout=delay)
            if not exited.done() and not rt.terminating:

                def ready(p: dict[str, Any]) -> None:
                    st = p["status"]
                    for cs in st.get("containerStatuses") or []:
                        cs["ready"] = True
                    set_condition(st, "ContainersReady", True)
                    set_condition(st, "Ready", True)

                self._update(rt.key, ready)
            return await exited
        finally:
            exited.cancel()

    async def _wait_exit(self, rt: PodRuntime) -> int:
        if rt.process is not None:
            code = await rt.process.wait()
            return code if code >= 0 else 128 - code
        await rt.terminate_event.wait()
        if rt.stub is not None:
            await rt.stub.stop()
        return 0

    def _failed_to_start(self, rt: PodRuntime, reason: str, message: str) -> None:
        """A missing secret or volume leaves the pod waiting; a bad command fails it."""
        failed = reason == "StartError"

        def waiting(p: dict[str, Any]) -> None:
            if failed:
                stamp = now_rfc3339()
                state: dict[str, Any] = {
                    "terminated": {
                        "exitCode": 128,
                        "reason": reason,
                        "message": message,
                        "startedAt": stamp,
                        "finishedAt": stamp,
                    }
                }
                p["status"]["phase"] = "Failed"
            else:
                state = {"waiting": {"reason": reason, "message": message}}
            p["status"]["containerStatuses"] = [
                container_status(c, rt.uid, state, False) for c in p["spec"]["containers"]
            ]

        if failed:
            self._release(rt)
        pod = self._update(rt.key, waiting)
        if failed:
            self.cluster.release_claims(rt.key[0])
        self._event(
            pod, "FailedMount" if reason == "FailedMount" else "Failed", message, type_="Warning"
        )
        if rt.terminating:
            self._finish(rt)

    # stopping

    def _release(self, rt: PodRuntime) -> None:
        if not rt.released:
            rt.released = True
            if rt.fs is not None:
                rootfs.release_mounts(rt.fs)
            self.kick()

    def _finish(self, rt: PodRuntime) -> None:
        self._release(rt)
        if rt.kill_handle is not None:
            rt.kill_handle.cancel()
        if rt.fs is not None:
            rootfs.remove(rt.fs)
        self.runtimes.pop(rt.key, None)
        self.cluster.finalize("pods", *rt.key)
        self.kick()

    def _signal(self, rt: PodRuntime, sig: int) -> None:
        if rt.process is not None and rt.process.returncode is None:
            with contextlib.suppress(ProcessLookupError, PermissionError):
                os.killpg(rt.process.pid, sig)

    async def _terminate_now(self, rt: PodRuntime) -> None:
        self._signal(rt, signal.SIGKILL)

    def delete_pod(self, pod: dict[str, Any], grace: int | None) -> dict[str, Any]:
        """Start deleting a pod: at once if nothing runs, else SIGTERM then SIGKILL."""
        key = (pod["metadata"]["namespace"], pod["metadata"]["name"])
        rt = self.runtimes.get(key)
        if grace is None:
            grace = int(pod["spec"].get("terminationGracePeriodSeconds", 30))
        if rt is None:
            self.pending.pop(key, None)
            return self.cluster.finalize("pods", *key) or pod
        if rt.released or (rt.task is not None and rt.task.done()):
            self._finish(rt)
            return pod
        if not rt.terminating:
            rt.terminating = True

            def deleting(p: dict[str, Any]) -> None:
                p["metadata"]["deletionTimestamp"] = now_rfc3339()
                p["metadata"]["deletionGracePeriodSeconds"] = grace

            pod = self._update(key, deleting) or pod
            self._signal(rt, signal.SIGTERM)
            rt.terminate_event.set()
        if rt.kill_handle is not None:
            rt.kill_handle.cancel()
        loop = asyncio.get_running_loop()
        rt.kill_handle = loop.call_later(max(grace, 0), self._signal, rt, signal.SIGKILL)
        if grace <= 0:
            self._signal(rt, signal.SIGKILL)
        return pod

    async def shutdown(self) -> None:
        """Kill every pod process and undo their mounts (the server is going away)."""
        for rt in list(self.runtimes.values()):
            rt.terminating = True
            self._signal(rt, signal.SIGKILL)
            if rt.stub is not None:
                await rt.stub.stop()
            if rt.task is not None:
                rt.task.cancel()
        for rt in list(self.runtimes.values()):
            if rt.process is not None:
                with contextlib.suppress(Exception):
                    await asyncio.wait_for(rt.process.wait(), 5)
            if rt.fs is not None:
                rootfs.release_mounts(rt.fs)
        self.ip_block.release()
