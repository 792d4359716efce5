"""The Kubernetes core/v1 HTTP API, as tornado handlers over a Cluster."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path
from typing import TYPE_CHECKING, Any

from tornado.iostream import StreamClosedError
from tornado.web import RequestHandler

from .cluster import NAMESPACED, RESOURCES
from .errors import ApiError, status_object
from .schema import Decoding, warning_header
from .selectors import selector_matcher
from .validation import KINDS

if TYPE_CHECKING:
    from .server import DevCluster

WATCH_DEFAULT_TIMEOUT = 1800.0
_RES = "|".join(NAMESPACED)


class JSONHandler(RequestHandler):
    dev: DevCluster

    def initialize(self, dev: DevCluster, resource: str | None = None) -> None:
        self.dev = dev
        self.fixed_resource = resource
        # ?fieldValidation=, and what the schema check dropped, sent back as warnings
        self.decoding = Decoding(self.get_argument("fieldValidation", "Warn"))

    def check_xsrf_cookie(self) -> None:
        pass

    def send(self, body: Any, status: int = 200) -> None:
        for warning in self.decoding.warnings:
            self.add_header("Warning", warning_header(warning))
        self.set_status(status)
        self.set_header("Content-Type", "application/json")
        self.finish(json.dumps(body))

    def fail(self, error: ApiError) -> None:
        self.send(error.status(), error.code)

    def write_error(self, status_code: int, **kwargs: Any) -> None:
        exc = kwargs.get("exc_info", (None, None))[1]
        if isinstance(exc, ApiError):
            self.set_status(exc.code)
            self.finish(json.dumps(exc.status()))
            return
        self.set_header("Content-Type", "application/json")
        self.finish(json.dumps(status_object(status_code, self._reason)))

    def json_body(self, allow_empty: bool = False) -> Any:
        if not self.request.body:
            if allow_empty:
                return None
            raise ApiError(400, "the request body is empty", reason="BadRequest")
        try:
            return json.loads(self.request.body)
        except ValueError as e:
            raise ApiError(400, f"the request body is not JSON: {e}", reason="BadRequest") from e


class ApiHandler(JSONHandler):
    """Counts, faults and Status errors around every core/v1 request."""

    def resource(self, kwargs: dict[str, str]) -> str:
        return self.fixed_resource or kwargs["resource"]

    async def guarded(self, verb: str, resource: str, namespace: str | None, action: Any) -> None:
        try:
            await self.dev.control.observe(verb, resource, namespace)
            result = action()
            if asyncio.iscoroutine(result):
                await result
            elif result is not None:
                self.send(result[0], result[1]) if isinstance(result, tuple) else self.send(result)
        except ApiError as e:
            self.fail(e)


class CollectionHandler(ApiHandler):
    """``.../pods``: list, watch and create (cluster-wide: list and watch only)."""

    _watcher: Any = None

    async def get(self, resource: str | None = None, namespace: str | None = None) -> None:
        resource = self.fixed_resource or resource or ""
        watch = self.get_argument("watch", "").lower() in ("true", "1")
        labels = self.get_argument("labelSelector", "")
        fields = self.get_argument("fieldSelector", "")
        if watch:
            await self.guarded(
                "watch",
                resource,
                namespace,
                lambda: self._watch(resource, namespace, labels, fields),
            )
        else:
            await self.guarded(
                "list",
                resource,
                namespace,
                lambda: self.dev.cluster.list(resource, namespace, labels, fields),
            )

    async def post(self, resource: str | None = None, namespace: str | None = None) -> None:
        resource = self.fixed_resource or resource or ""
        if resource != "namespaces" and namespace is None:
            self.fail(ApiError(405, "create needs a namespace", reason="MethodNotAllowed"))
            return
        await self.guarded(
            "create",
            resource,
            namespace,
            lambda: (
                self.dev.cluster.create(resource, namespace, self.json_body(), self.decoding),
                201,
            ),
        )

    async def _watch(self, resource: str, namespace: str | None, labels: str, fields: str) -> None:
        store = self.dev.cluster.store
        matcher = selector_matcher(labels, fields)
        since = self.get_argument("resourceVersion", "")
        timeout_arg = self.get_argument("timeoutSeconds", "")
        timeout = float(timeout_arg) if timeout_arg else WATCH_DEFAULT_TIMEOUT
        bookmarks = self.get_argument("allowWatchBookmarks", "").lower() in ("true", "1")
        self.set_header("Content-Type", "application/json")
        try:
            watcher = store.watch(resource, namespace, matcher, since)
        except ApiError as e:
            if e.code != 410:
                raise
            self.finish(json.dumps({"type": "ERROR", "object": e.status()}) + "\n")
            return
        self._watcher = watcher
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout
        try:
            await self.flush()
            while not watcher.closed:
                remaining = deadline - loop.time()
                if remaining <= 0:
                    break
                lines = await watcher.next_batch(remaining)
                if lines:
                    self.write(b"".join(lines))
                    await self.flush()
            if bookmarks and not watcher.closed:
                mark = {
                    "type": "BOOKMARK",
                    "object": {
                        "kind": KINDS[resource],
                        "apiVersion": "v1",
                        "metadata": {"resourceVersion": str(store.rv)},
                    },
                }
                self.write(json.dumps(mark) + "\n")
            self.finish()
        except StreamClosedError:
            pass
        finally:
            store.unwatch(watcher)

    def on_connection_close(self) -> None:
        if self._watcher is not None:
            self._watcher.close()


class ObjectHandler(ApiHandler):
    """``.../pods/{name}``: get, replace, merge-patch, delete."""

    async def get(
        self, name: str, resource: str | None = None, namespace: str | None = None
    ) -> None:
        resource = self.fixed_resource or resource or ""
        await self.guarded(
            "get", resource, namespace, lambda: self.dev.cluster.get(resource, namespace, name)
        )

    async def put(
        self, name: str, resource: str | None = None, namespace: str | None = None
    ) -> None:
        resource = self.fixed_resource or resource or ""
        await self.guarded(
            "update",
            resource,
            namespace,
            lambda: self.dev.cluster.replace(
                resource, namespace, name, self.json_body(), self.decoding
            ),
        )

    async def patch(
        self, name: str, resource: str | None = None, namespace: str | None = None
    ) -> None:
        resource = self.fixed_resource or resource or ""
        ctype = self.request.headers.get("Content-Type", "")
        if "json-patch" in ctype:
            self.fail(ApiError(415, f"unsupported patch type {ctype}; use merge-patch+json"))
            return
        await self.guarded(
            "patch",
            resource,
            namespace,
            lambda: self.dev.cluster.patch(
                resource, namespace, name, self.json_body(), self.decoding
            ),
        )

    async def delete(
        self, name: str, resource: str | None = None, namespace: str | None = None
    ) -> None:
        resource = self.fixed_resource or resource or ""

        def action() -> Any:
            grace: int | None = None
            options = self.json_body(allow_empty=True) or {}
            if isinstance(options, dict) and options.get("gracePeriodSeconds") is not None:
                grace = int(options["gracePeriodSeconds"])
            query = self.get_argument("gracePeriodSeconds", "")
            if query:
                try:
                    grace = int(query)
                except ValueError as e:
                    raise ApiError(400, f"invalid gracePeriodSeconds {query!r}") from e
            return self.dev.cluster.delete(resource, namespace, name, grace)

        await self.guarded("delete", resource, namespace, action)


class LogHandler(ApiHandler):
    """``.../pods/{name}/log``: the pod's stdout and stderr."""

    async def get(self, namespace: str, name: str) -> None:
        def action() -> None:
            pod = self.dev.cluster.get("pods", namespace, name)
            rt = self.dev.kubelet.runtimes.get((namespace, name))
            path: Path | None = rt.fs.log_path if rt is not None and rt.fs is not None else None
            if path is None or not path.exists():
                raise ApiError(
                    400,
                    f'container "notebook" in pod "{pod["metadata"]["name"]}" is waiting to start',
                    reason="BadRequest",
                )
            text = path.read_bytes()
            tail = self.get_argument("tailLines", "")
            if tail:
                text = b"".join(text.splitlines(keepends=True)[-int(tail) :])
            self.set_header("Content-Type", "text/plain")
            self.finish(text)

        await self.guarded("get", "pods/log", namespace, action)


class DiscoveryHandler(JSONHandler):
    def get(self) -> None:
        path = self.request.path.rstrip("/")
        if path == "/version":
            self.send(
                {
                    "major": "1",
                    "minor": "30",
                    "gitVersion": "v1.30.0-devcluster",
                    "platform": "linux/amd64",
                }
            )
        elif path == "/api":
            host = self.request.host
            self.send(
                {
                    "kind": "APIVersions",
                    "versions": ["v1"],
                    "serverAddressByClientCIDRs": [
                        {"clientCIDR": "0.0.0.0/0", "serverAddress": host}
                    ],
                }
            )
        elif path == "/apis":
            self.send({"kind": "APIGroupList", "apiVersion": "v1", "groups": []})
        else:
            verbs = ["create", "delete", "get", "list", "patch", "update", "watch"]
            self.send(
                {
                    "kind": "APIResourceList",
                    "groupVersion": "v1",
                    "resources": [
                        {
                            "name": res,
                            "singularName": KINDS[res].lower(),
                            "namespaced": res != "namespaces",
                            "kind": KINDS[res],
                            "verbs": verbs,
                        }
                        for res in RESOURCES
                    ]
                    + [
                        {
                            "name": "pods/log",
                            "singularName": "",
                            "namespaced": True,
                            "kind": "Pod",
                            "verbs": ["get"],
                        }
                    ],
                }
            )


def api_routes(dev: DevCluster) -> list[tuple[str, type[RequestHandler], dict[str, Any]]]:
    d = {"dev": dev}
    ns = "(?P<namespace>[^/]+)"
    name = "(?P<name>[^/]+)"
    res = f"(?P<resource>{_RES})"
    return [
        (r"/(?:version|api|apis|api/v1)/?", DiscoveryHandler, d),
        (r"/api/v1/namespaces/?", CollectionHandler, {**d, "resource": "namespaces"}),
        (rf"/api/v1/namespaces/{name}", ObjectHandler, {**d, "resource": "namespaces"}),
        (rf"/api/v1/namespaces/{ns}/pods/{name}/log", LogHandler, d),
        (rf"/api/v1/namespaces/{ns}/{res}/?", CollectionHandler, d),
        (rf"/api/v1/namespaces/{ns}/{res}/{name}", ObjectHandler, d),
        (rf"/api/v1/{res}/?", CollectionHandler, d),
    ]
