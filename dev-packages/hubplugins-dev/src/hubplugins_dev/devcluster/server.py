"""One devcluster: the store, the kubelet and the HTTP server, started and stopped together."""

from __future__ import annotations

import json
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from tornado.httpserver import HTTPServer
from tornado.netutil import bind_sockets
from tornado.web import Application

from .api import api_routes
from .cluster import Cluster
from .control import Control
from .controlapi import control_routes
from .kubelet import Kubelet
from .schema import DEFAULT_VERSIONS

TOKEN = "devcluster-token"


def kubeconfig(url: str, namespace: str) -> dict[str, Any]:
    return {
        "apiVersion": "v1",
        "kind": "Config",
        "clusters": [{"name": "devcluster", "cluster": {"server": url}}],
        "users": [{"name": "devcluster", "user": {"token": TOKEN}}],
        "contexts": [
            {
                "name": "devcluster",
                "context": {"cluster": "devcluster", "user": "devcluster", "namespace": namespace},
            }
        ],
        "current-context": "devcluster",
        "preferences": {},
    }


class DevCluster:
    """A local Kubernetes API server and kubelet rooted at one directory."""

    def __init__(
        self,
        root: Path,
        namespace: str = "default",
        capacity: dict[str, Any] | None = None,
        path: str | None = None,
        kubernetes_versions: Sequence[str] = DEFAULT_VERSIONS,
    ) -> None:
        self.root = Path(root)
        self.root.mkdir(parents=True, exist_ok=True)
        self.cluster = Cluster(self.root, namespace, kubernetes_versions=kubernetes_versions)
        self.kubelet = Kubelet(self.cluster, capacity, path)
        self.control = Control()
        self.app = Application(api_routes(self) + control_routes(self))
        self.server: HTTPServer | None = None
        self.url = ""

    async def start(self, host: str = "127.0.0.1", port: int = 0) -> str:
        """Listen (port 0: a free one) and return the URL."""
        sockets = bind_sockets(port, host)
        self.server = HTTPServer(self.app)
        self.server.add_sockets(sockets)
        bound = sockets[0].getsockname()[1]
        shown = f"[{host}]" if ":" in host else host
        self.url = f"http://{shown}:{bound}"
        return self.url

    def write_kubeconfig(self, path: Path | None = None) -> Path:
        path = path or self.root / "kubeconfig"
        path.write_text(json.dumps(kubeconfig(self.url, self.cluster.default_namespace), indent=2))
        path.chmod(0o600)
        return path

    async def stop(self) -> None:
        await self.kubelet.shutdown()
        self.cluster.store.close_watchers()
        if self.server is not None:
            self.server.stop()
            await self.server.close_all_connections()
            self.server = None
