"""Entry point of one directory worker process: JSON lines on stdin, JSON lines on stdout.

Started by ``ldap_pool.WorkerPool`` as ``python -m hubplugins.auth.ldap_worker``.
The first line is ``{"op": "configure", "settings": {...}}``; after that each line
is ``{"id": N, "op": "login"|"lookup"|"ping", "args": {...}}`` and is answered,
in any order, by ``{"id": N, "result": {...}}`` or ``{"id": N, "error": "..."}``.
Requests run on a thread pool, so one process serves many sign-ins at once.
The process ends when its stdin closes (the hub went away).
"""

from __future__ import annotations

import json
import os
import sys
import threading
from concurrent.futures import ThreadPoolExecutor
from typing import Any

from hubplugins.auth.ldap_directory import Directory, Settings, Unavailable


def _handle(directory: Directory, request: dict[str, Any]) -> dict[str, Any]:
    op, args = request.get("op"), request.get("args") or {}
    try:
        if op == "login":
            result = directory.login(args["login"], args["password"])
        elif op == "lookup":
            result = directory.lookup(
                str(args.get("login") or ""), args.get("dn"), args.get("entry_id")
            )
        elif op == "ping":
            result = {"outcome": "ok"}
        else:
            return {"id": request.get("id"), "error": f"unknown op {op!r}"}
    except Unavailable as exc:
        result = {"outcome": "unavailable", "detail": str(exc)}
    except Exception as exc:  # report, never crash the worker
        result = {"outcome": "unavailable", "detail": f"{type(exc).__name__}: {exc}"}
    return {"id": request.get("id"), "result": result}


def main() -> None:
    out_lock = threading.Lock()
    stdin, stdout = sys.stdin.buffer, sys.stdout.buffer

    def reply(message: dict[str, Any]) -> None:
        data = json.dumps(message).encode() + b"\n"
        with out_lock:
            stdout.write(data)
            stdout.flush()

    first = json.loads(stdin.readline() or b"{}")
    if first.get("op") != "configure":
        return
    settings = Settings(**first["settings"])
    if settings.nice > 0 and hasattr(os, "nice"):
        os.nice(settings.nice)  # the hub's event loop gets the CPU first
    directory = Directory(settings)
    directory.refill_spares()
    pool = ThreadPoolExecutor(settings.threads, thread_name_prefix="ldap")
    reply({"id": 0, "result": {"outcome": "ready"}})
    for line in stdin:
        request = json.loads(line)
        pool.submit(lambda r=request: reply(_handle(directory, r)))
    pool.shutdown(wait=False, cancel_futures=True)
    directory.close()


if __name__ == "__main__":
    main()
