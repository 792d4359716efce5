"""The few calls the lifecycle service makes to the hub's REST API, on tornado.

- :meth:`HubAPI.list_users`: the paginated user list (JupyterHub 2+ with the
  ``application/jupyterhub-pagination+json`` Accept header). The first page
  gives the total; the other pages are then fetched at once (bounded by the
  client's connection limit), all before any action, so that stopping servers
  cannot shift the offsets of pages not yet read.
- :meth:`HubAPI.act`: ``POST /hubplugins/lifecycle/users/{u}/server(s/{s})``
  (:mod:`hubplugins.lifecycle.endpoint`): stop or delete a server only if it
  is still as the plan saw it (running or stopped, with the same last
  activity), checked and begun by the hub in one step; a delete runs the
  spawner's own delete path (and its volume rules). A refusal names its rule
  in :attr:`HubAPIError.rule`.
- :meth:`HubAPI.send_metrics`: ``PUT /hubplugins/lifecycle/metrics`` after a
  sweep (:mod:`hubplugins.lifecycle.hub_metrics`).
"""

from __future__ import annotations

import asyncio
import json
from typing import Any
from urllib.parse import quote, urlencode

from tornado.httpclient import AsyncHTTPClient, HTTPClientError, HTTPRequest, HTTPResponse
from tornado.netutil import DefaultLoopResolver, Resolver

from .endpoint import RULE_HEADER

__all__ = ["HubAPI", "HubAPIError"]

PAGINATION = "application/jupyterhub-pagination+json"


class HubAPIError(RuntimeError):
    """The hub answered a request with an unexpected status."""

    def __init__(self, method: str, url: str, status: int, body: str, rule: str = "") -> None:
        super().__init__(f"{method} {url} -> {status}: {body[:300]}")
        self.status = status
        self.rule = rule  # the lifecycle endpoint's refusal rule, e.g. "lifecycle.started"
        try:
            message = json.loads(body).get("message")
        except (ValueError, AttributeError):
            message = None
        self.message = str(message) if message else body[:300]


class _CachingResolver(Resolver):
    """Resolve the hub's name once per sweep, not once per request (a thread each)."""

    def initialize(self) -> None:
        self._resolver = DefaultLoopResolver()
        self._cache: dict[tuple[str, int, int], list[tuple[int, Any]]] = {}

    async def resolve(self, host: str, port: int, family: int = 0) -> list[tuple[int, Any]]:
        key = (host, port, int(family))
        if key not in self._cache:
            self._cache[key] = await self._resolver.resolve(host, port, family)
        return self._cache[key]

    def forget(self) -> None:
        self._cache.clear()


class HubAPI:
    """A client of one hub's REST API (``url`` ends in ``/hub/api``)."""

    def __init__(
        self, url: str, token: str, *, concurrency: int = 10, request_timeout: float = 120
    ) -> None:
        self.url = url.rstrip("/")
        self._headers = {"Authorization": f"token {token}", "Accept": "application/json"}
        self._timeout = request_timeout
        self._resolver = _CachingResolver()
        self._client = AsyncHTTPClient(
            force_instance=True, max_clients=max(1, concurrency), resolver=self._resolver
        )
        self.requests = 0

    def forget_addresses(self) -> None:
        """Resolve the hub's name again on the next request (called at each sweep)."""
        self._resolver.forget()

    def close(self) -> None:
        self._client.close()
        self._resolver.close()

    async def _fetch(
        self, method: str, path: str, *, body: Any = None, accept: str | None = None
    ) -> HTTPResponse:
        headers = dict(self._headers)
        if accept:
            headers["Accept"] = accept
        data = None
        if body is not None:
            data = json.dumps(body)
            headers["Content-Type"] = "application/json"
        request = HTTPRequest(
            f"{self.url}{path}",
            method=method,
            headers=headers,
            body=data,
            allow_nonstandard_methods=True,
            request_timeout=self._timeout,
        )
        self.requests += 1
        try:
            return await self._client.fetch(request)
        except HTTPClientError as exc:
            response = exc.response
            text = response.body.decode("utf-8", "replace") if response else str(exc)
            rule = response.headers.get(RULE_HEADER, "") if response else ""
            raise HubAPIError(method, path, exc.code, text, rule) from None

    async def list_users(
        self, *, state: str | None, include_stopped: bool, page_size: int = 200
    ) -> list[dict[str, Any]]:
        """Every user of the list (``state``: ``active``, ``inactive`` or None = all)."""
        params: dict[str, str] = {"limit": str(page_size)}
        if state:
            params["state"] = state
        if include_stopped:
            params["include_stopped_servers"] = "1"

        async def page(offset: int) -> Any:
            query = urlencode({**params, "offset": str(offset)})
            resp = await self._fetch("GET", f"/users?{query}", accept=PAGINATION)
            return json.loads(resp.body)

        first = await page(0)
        if isinstance(first, list):  # a hub without pagination
            return first
        items: list[dict[str, Any]] = list(first["items"])
        info = first["_pagination"]
        limit, total = int(info["limit"]) or page_size, int(info["total"])
        if total <= limit:
            return items
        rest = await asyncio.gather(*(page(o) for o in range(limit, total, limit)))
        seen = {user["name"] for user in items}
        for data in rest:
            for user in data["items"]:
                if user["name"] not in seen:
                    seen.add(user["name"])
                    items.append(user)
        return items

    async def act(
        self, user: str, server: str, action: str, last_activity: str | None, running: bool
    ) -> int:
        """Stop or delete a server if it is as seen; 204 = done, 202 = stopping."""
        path = f"/hubplugins/lifecycle/users/{quote(user, safe='')}"
        path += f"/servers/{quote(server, safe='')}" if server else "/server"
        body = {"action": action, "last_activity": last_activity, "running": running}
        return (await self._fetch("POST", path, body=body)).code

    async def send_metrics(self, text: str) -> None:
        """Give the hub the service's metrics to serve in ``/hub/metrics``
        (:mod:`hubplugins.lifecycle.hub_metrics`)."""
        await self._fetch("PUT", "/hubplugins/lifecycle/metrics", body={"metrics": text})
