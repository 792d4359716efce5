"""Run a server inside a fresh network namespace and relay host-loopback ports to it.

Started as ``unshare --net python netns_relay.py --listen FD:PORT ... -- server-cmd``
with listening sockets (FD) that were opened in the host's namespace and inherited;
a socket keeps the namespace it was created in. Inside the new namespace this
script brings ``lo`` up, starts the server, waits until every PORT accepts on
127.0.0.1 there, prints ``ready`` and relays each accepted host connection to its
PORT. When its stdin closes (the test ended) it stops the server and exits.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import socket
import subprocess
import sys


async def _pipe(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    try:
        while data := await reader.read(65536):
            writer.write(data)
            await writer.drain()
    except (ConnectionError, OSError):
        pass
    finally:
        with contextlib.suppress(Exception):
            writer.close()


def _handler(port: int):
    async def handle(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            up_reader, up_writer = await asyncio.open_connection("127.0.0.1", port)
        except OSError:
            writer.close()
            return
        with contextlib.suppress(asyncio.CancelledError):
            await asyncio.gather(_pipe(reader, up_writer), _pipe(up_reader, writer))

    return handle


async def _wait_listening(port: int, server: subprocess.Popen) -> None:
    delay = 0.02
    while True:
        if server.poll() is not None:
            raise SystemExit(f"server exited with {server.returncode}")
        try:
            _, writer = await asyncio.open_connection("127.0.0.1", port)
            writer.close()
            return
        except OSError:
            await asyncio.sleep(delay)
            delay = min(delay * 2, 0.25)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--listen", action="append", default=[], help="FD:PORT")
    parser.add_argument("--log", required=True)
    parser.add_argument("command", nargs="+")
    args = parser.parse_args()
    subprocess.run(["ip", "link", "set", "lo", "up"], check=True)
    with open(args.log, "ab") as log:
        server = subprocess.Popen(args.command, stdin=subprocess.PIPE, stdout=log, stderr=log)
    pairs = [(int(fd), int(port)) for fd, port in (i.split(":") for i in args.listen)]
    try:
        asyncio.run(relay(server, pairs))
    finally:
        if server.stdin is not None:
            server.stdin.close()  # `samba -i` exits when its stdin closes
        try:
            server.wait(10)
        except subprocess.TimeoutExpired:
            server.kill()
            server.wait()


async def relay(server: subprocess.Popen, pairs: list[tuple[int, int]]) -> None:
    for _, port in pairs:
        await asyncio.wait_for(_wait_listening(port, server), 60)
    servers = [
        await asyncio.start_server(_handler(port), sock=socket.socket(fileno=fd))
        for fd, port in pairs
    ]
    sys.stdout.write("ready\n")
    sys.stdout.flush()
    loop = asyncio.get_running_loop()
    await loop.run_in_executor(None, sys.stdin.buffer.read)  # until the parent closes it
    for s in servers:
        s.close()


if __name__ == "__main__":
    main()
