"""A synchronous client for the devcluster control API (tests wrap it in ``to_thread``)."""

from __future__ import annotations

import json
import urllib.error
import urllib.request
from pathlib import Path
from typing import Any

PREFIX = "/devcluster/v1"


class DevClusterError(Exception):
    """The control API answered with an error."""


class DevClusterControl:
    """Counts, faults, readiness delay and volume paths of one devcluster."""

    def __init__(self, url: str, timeout: float = 10.0) -> None:
        self.url = url.rstrip("/")
        self.timeout = timeout

    def _call(self, method: str, path: str, body: Any = None) -> Any:
        data = json.dumps(body).encode() if body is not None else None
        request = urllib.request.Request(
            f"{self.url}{PREFIX}/{path}",
            data=data,
            method=method,
            headers={"Content-Type": "application/json"} if data is not None else {},
        )
        try:
            with urllib.request.urlopen(request, timeout=self.timeout) as response:
                return json.loads(response.read() or b"null")
        except urllib.error.HTTPError as e:
            raise DevClusterError(f"{method} {path}: {e.code} {e.read().decode()}") from e

    def counts(self) -> dict[str, int]:
        """Requests per ``verb/resource`` since start or the last reset."""
        return dict(self._call("GET", "counts"))

    def count(self, verb: str, resource: str) -> int:
        return self.counts().get(f"{verb}/{resource}", 0)

    def reset_counts(self) -> None:
        self._call("POST", "counts/reset", {})

    def fail(
        self,
        verb: str,
        resource: str,
        status: int = 500,
        count: int = 1,
        delay: float = 0.0,
        namespace: str | None = None,
    ) -> None:
        """Delay the next ``count`` matching requests, then answer ``status`` (0: proceed)."""
        self._call(
            "POST",
            "faults",
            {
                "verb": verb,
                "resource": resource,
                "status": status,
                "count": count,
                "delay": delay,
                "namespace": namespace,
            },
        )

    def clear_faults(self) -> None:
        self._call("DELETE", "faults")

    def set_readiness_delay(self, seconds: float) -> None:
        """Pods started from now on turn ready ``seconds`` after their process starts."""
        self._call("POST", "readiness", {"delay": seconds})

    def volumes(self) -> dict[str, str]:
        """``{"<namespace>/<claim>": "<backing dir>"}`` for every PVC."""
        return dict(self._call("GET", "volumes"))

    def volume_path(self, namespace: str, claim: str) -> Path | None:
        path = self.volumes().get(f"{namespace}/{claim}")
        return Path(path) if path else None

    def objects(self, resource: str) -> list[dict[str, Any]]:
        """Every stored object of one kind (``pods``, ``persistentvolumeclaims``, ...)."""
        return list(self._call("GET", f"objects/{resource}"))

    def pod_rootfs(self, namespace: str, pod: str) -> Path | None:
        path = self._call("GET", f"rootfs/{namespace}/{pod}").get("rootfs")
        return Path(path) if path else None

    def info(self) -> dict[str, Any]:
        return dict(self._call("GET", "info"))
