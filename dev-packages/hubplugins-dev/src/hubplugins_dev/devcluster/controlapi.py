"""``/devcluster/v1/``: the control API tests use (counts, faults, readiness, volumes)."""

from __future__ import annotations

import ipaddress
from typing import TYPE_CHECKING, Any

from tornado.web import RequestHandler

from .api import JSONHandler
from .cluster import RESOURCES
from .errors import ApiError

if TYPE_CHECKING:
    from .server import DevCluster

PREFIX = "/devcluster/v1"


class ControlHandler(JSONHandler):
    def prepare(self) -> None:
        try:
            loopback = ipaddress.ip_address(self.request.remote_ip or "").is_loopback
        except ValueError:
            loopback = False
        if not loopback:
            self.fail(ApiError(403, "the control API answers loopback clients only"))

    def run(self, action: Any) -> None:
        try:
            self.send(action())
        except ApiError as e:
            self.fail(e)


class CountsHandler(ControlHandler):
    def get(self) -> None:
        self.send(dict(self.dev.control.counts))


class ResetCountsHandler(ControlHandler):
    def post(self) -> None:
        self.dev.control.counts.clear()
        self.send({})


class FaultsHandler(ControlHandler):
    def get(self) -> None:
        self.send([vars(f) for f in self.dev.control.faults if f.count > 0])

    def post(self) -> None:
        self.run(lambda: vars(self.dev.control.add_fault(self.json_body())))

    def delete(self) -> None:
        self.dev.control.faults.clear()
        self.send({})


class ReadinessHandler(ControlHandler):
    def post(self) -> None:
        def action() -> dict[str, float]:
            body = self.json_body()
            try:
                self.dev.kubelet.readiness_delay = max(float(body["delay"]), 0.0)
            except (KeyError, TypeError, ValueError) as e:
                raise ApiError(400, 'expected {"delay": SECONDS}') from e
            return {"delay": self.dev.kubelet.readiness_delay}

        self.run(action)


class VolumesHandler(ControlHandler):
    def get(self) -> None:
        cluster = self.dev.cluster
        self.send(
            {
                f"{ns}/{name}": str(cluster.volume_path(ns, name))
                for ns, name in cluster.store.objects.get("persistentvolumeclaims", {})
            }
        )


class ObjectsHandler(ControlHandler):
    def get(self, resource: str) -> None:
        if resource not in RESOURCES:
            self.fail(ApiError(404, f"unknown resource {resource!r}"))
            return
        self.send(list(self.dev.cluster.store.iter(resource)))


class RootfsHandler(ControlHandler):
    def get(self, namespace: str, name: str) -> None:
        rt = self.dev.kubelet.runtimes.get((namespace, name))
        fs = rt.fs if rt is not None else None
        self.send({"rootfs": str(fs.rootfs) if fs is not None else None})


class InfoHandler(ControlHandler):
    def get(self) -> None:
        kubelet = self.dev.kubelet
        self.send(
            {
                "root": str(self.dev.cluster.root),
                "namespace": self.dev.cluster.default_namespace,
                "capacity": {k: str(v) for k, v in kubelet.capacity.items()},
                "podNetwork": f"127.{kubelet.ip_prefix}.0.0/16",
                "readinessDelay": kubelet.readiness_delay,
            }
        )


def control_routes(dev: DevCluster) -> list[tuple[str, type[RequestHandler], dict[str, Any]]]:
    d = {"dev": dev}
    return [
        (f"{PREFIX}/counts", CountsHandler, d),
        (f"{PREFIX}/counts/reset", ResetCountsHandler, d),
        (f"{PREFIX}/faults", FaultsHandler, d),
        (f"{PREFIX}/readiness", ReadinessHandler, d),
        (f"{PREFIX}/volumes", VolumesHandler, d),
        (f"{PREFIX}/objects/([^/]+)", ObjectsHandler, d),
        (f"{PREFIX}/rootfs/([^/]+)/([^/]+)", RootfsHandler, d),
        (f"{PREFIX}/info", InfoHandler, d),
    ]
