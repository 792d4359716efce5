"""The ``devcluster/stub`` image: a tiny HTTP responder instead of a process."""

from __future__ import annotations

import asyncio
import json
from urllib.parse import urlparse

STUB_IMAGE = "devcluster/stub"


def is_stub_image(image: str | None) -> bool:
    return bool(image) and (image == STUB_IMAGE or image.startswith(STUB_IMAGE + ":"))


def service_port(container: dict) -> int:
    """The port a notebook server would listen on, as KubeSpawner configured it."""
    for env in container.get("env") or []:
        if env.get("name") == "JUPYTERHUB_SERVICE_URL" and env.get("value"):
            port = urlparse(env["value"]).port
            if port:
                return port
    for port in container.get("ports") or []:
        if port.get("containerPort"):
            return int(port["containerPort"])
    return 8888


class StubResponder:
    """Answers 200 with a small JSON body on every path, with keep-alive."""

    def __init__(self, pod_name: str) -> None:
        self.body = json.dumps({"status": "ok", "devcluster": "stub", "pod": pod_name}).encode()
        self.server: asyncio.Server | None = None
        self._conns: set[asyncio.StreamWriter] = set()

    async def start(self, host: str, port: int) -> None:
        self.server = await asyncio.start_server(self._serve, host, port)

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self._conns.add(writer)
        try:
            while True:
                head = await reader.readuntil(b"\r\n\r\n")
                lines = head.decode("latin-1").split("\r\n")
                headers = {}
                for line in lines[1:]:
                    name, _, value = line.partition(":")
                    headers[name.strip().lower()] = value.strip()
                length = int(headers.get("content-length") or 0)
                if length:
                    await reader.readexactly(length)
                close = headers.get("connection", "").lower() == "close" or lines[0].endswith(
                    "HTTP/1.0"
                )
                writer.write(
                    b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\n"
                    + f"Content-Length: {len(self.body)}\r\n".encode()
                    + (b"Connection: close\r\n" if close else b"")
                    + b"\r\n"
                    + self.body
                )
                await writer.drain()
                if close:
                    break
        except (asyncio.IncompleteReadError, ConnectionError, asyncio.LimitOverrunError):
            pass
        finally:
            self._conns.discard(writer)
            writer.close()

    async def stop(self) -> None:
        if self.server is not None:
            self.server.close()
            for writer in list(self._conns):
                writer.close()
            await self.server.wait_closed()
            self.server = None
