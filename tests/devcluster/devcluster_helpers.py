"""Helpers for the devcluster tests: a JSON HTTP client, manifests, waiting on the store."""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlencode

from tornado.httpclient import AsyncHTTPClient, HTTPRequest

from hubplugins_dev.devcluster.server import DevCluster


@dataclass
class Api:
    """JSON calls against one devcluster; answers (status code, decoded body)."""

    url: str

    async def call(
        self, method: str, path: str, body: Any = None, timeout: float = 30, **query: Any
    ) -> tuple[int, Any]:
        qs = f"?{urlencode(query)}" if query else ""
        request = HTTPRequest(
            f"{self.url}{path}{qs}",
            method=method,
            body=json.dumps(body)
            if body is not None
            else (b"" if method in ("POST", "PUT", "PATCH") else None),
            headers={
                "Content-Type": "application/merge-patch+json"
                if method == "PATCH"
                else "application/json"
            },
            allow_nonstandard_methods=True,
            request_timeout=timeout,
        )
        response = await AsyncHTTPClient().fetch(request, raise_error=False)
        text = response.body or b""
        try:
            return response.code, json.loads(text)
        except ValueError:
            return response.code, text.decode()

    async def watch(self, path: str, **query: Any) -> list[dict[str, Any]]:
        """Run a watch until the server ends it (pass timeoutSeconds) and return its events."""
        code, text = await self.call("GET", path, watch="true", **query)
        assert code == 200, text
        if isinstance(text, dict):
            return [text]
        return [json.loads(line) for line in text.splitlines() if line.strip()]


def pod(name: str, image: str = "devcluster/stub", **extra: Any) -> dict[str, Any]:
    """A minimal pod manifest; ``extra`` goes into the first container."""
    container = {"name": "notebook", "image": image, **extra}
    return {"metadata": {"name": name, "labels": {"app": "t"}}, "spec": {"containers": [container]}}


def pvc(name: str, size: str = "1Gi") -> dict[str, Any]:
    return {
        "metadata": {"name": name},
        "spec": {"accessModes": ["ReadWriteOnce"], "resources": {"requests": {"storage": size}}},
    }


async def wait_for(
    dev: DevCluster,
    resource: str,
    name: str,
    predicate: Any,
    namespace: str = "default",
    timeout: float = 30,
) -> Any:
    """Wait, woken by store changes, until ``predicate(object or None)`` holds; return it."""
    import asyncio

    store = dev.cluster.store
    watcher = store.watch(resource, namespace, lambda o: o["metadata"]["name"] == name, None)
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    try:
        while True:
            obj = store.get(resource, namespace, name)
            if predicate(obj):
                return obj
            if loop.time() > deadline:
                raise TimeoutError(f"{resource}/{name}: condition not reached; now {obj}")
            await watcher.next_batch(deadline - loop.time())
    finally:
        store.unwatch(watcher)


def is_ready(obj: Any) -> bool:
    return bool(
        obj
        and obj["status"].get("phase") == "Running"
        and all(cs["ready"] for cs in obj["status"].get("containerStatuses", []))
    )
