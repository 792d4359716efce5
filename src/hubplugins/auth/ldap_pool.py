"""A small bounded pool of directory worker processes, driven from the hub's event loop.

Why processes and not ``ProcessPoolExecutor``: an executor process runs one call
at a time, while a sign-in is mostly waiting on the network. Each worker here is a
``python -m hubplugins.auth.ldap_worker`` child that serves many requests at once
on its own threads and keeps its connections between requests; the hub talks to
it over pipes with asyncio, so nothing in the hub's process blocks or holds the
GIL for ldap3. A worker that dies is replaced on the next request.
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import json
import logging
import sys
from dataclasses import asdict
from typing import Any

from hubplugins.auth.ldap_directory import Settings

UNAVAILABLE = "unavailable"


class _Worker:
    def __init__(self, settings: Settings, log: logging.Logger) -> None:
        self.settings = settings
        self.log = log
        self.proc: asyncio.subprocess.Process | None = None
        self.pending: dict[int, asyncio.Future[dict[str, Any]]] = {}
        self.ids = itertools.count(1)
        self.reader: asyncio.Task[None] | None = None
        self.lock = asyncio.Lock()
        self.ready = False

    @property
    def alive(self) -> bool:
        return self.proc is not None and self.proc.returncode is None

    async def start(self) -> None:
        async with self.lock:
            if self.ready and self.alive:
                return
            self.ready = False
            loop = asyncio.get_running_loop()
            self.proc = await asyncio.create_subprocess_exec(
                sys.executable,
                "-m",
                "hubplugins.auth.ldap_worker",
                stdin=asyncio.subprocess.PIPE,
                stdout=asyncio.subprocess.PIPE,
                limit=1 << 22,
            )
            self.pending = {0: loop.create_future()}
            self.reader = asyncio.create_task(self._read(self.proc, self.pending))
            await self._send({"op": "configure", "settings": asdict(self.settings)})
            await self.pending[0]
            self.ready = True

    async def _send(self, message: dict[str, Any]) -> None:
        assert self.proc is not None and self.proc.stdin is not None
        self.proc.stdin.write(json.dumps(message).encode() + b"\n")
        await self.proc.stdin.drain()

    async def _read(
        self, proc: asyncio.subprocess.Process, pending: dict[int, asyncio.Future[dict[str, Any]]]
    ) -> None:
        assert proc.stdout is not None
        try:
            while line := await proc.stdout.readline():
                message = json.loads(line)
                future = pending.pop(message.get("id"), None)
                if future is not None and not future.done():
                    if "error" in message:
                        future.set_exception(RuntimeError(message["error"]))
                    else:
                        future.set_result(message["result"])
        finally:
            gone = ConnectionError("directory worker exited")
            for future in pending.values():
                if not future.done():
                    future.set_exception(gone)
            pending.clear()

    async def call(self, op: str, args: dict[str, Any]) -> dict[str, Any]:
        await self.start()
        request_id = next(self.ids)
        future: asyncio.Future[dict[str, Any]] = asyncio.get_running_loop().create_future()
        self.pending[request_id] = future
        try:
            await self._send({"id": request_id, "op": op, "args": args})
            return await future
        finally:
            self.pending.pop(request_id, None)

    async def close(self) -> None:
        proc, self.proc = self.proc, None
        if proc is None:
            return
        if proc.stdin is not None:
            proc.stdin.close()
        try:
            await asyncio.wait_for(proc.wait(), 5)
        except TimeoutError:
            proc.kill()
            await proc.wait()
        if self.reader is not None:
            with contextlib.suppress(asyncio.CancelledError):
                await self.reader


class WorkerPool:
    """``await pool.call("login", {...})`` -> the worker's result dict, never an exception.

    A timeout, a dead worker or an unreachable directory all come back as
    ``{"outcome": "unavailable", "detail": ...}``.
    """

    def __init__(self, settings: Settings, size: int, timeout: float, log: logging.Logger):
        self.workers = [_Worker(settings, log) for _ in range(max(1, size))]
        self.timeout = timeout
        self.log = log

    async def start(self) -> None:
        await asyncio.gather(*(w.start() for w in self.workers))

    async def call(self, op: str, args: dict[str, Any]) -> dict[str, Any]:
        worker = min(self.workers, key=lambda w: (not w.alive, len(w.pending)))
        try:
            return await asyncio.wait_for(worker.call(op, args), self.timeout)
        except TimeoutError:
            return {"outcome": UNAVAILABLE, "detail": f"no answer within {self.timeout:g} s"}
        except (ConnectionError, RuntimeError, OSError) as exc:
            return {"outcome": UNAVAILABLE, "detail": f"worker: {exc}"}

    async def close(self) -> None:
        await asyncio.gather(*(w.close() for w in self.workers))
