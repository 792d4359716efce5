"""The few calls the lifecycle service makes to the hub's REST API, on tornado.

- :meth:`HubAPI.pages`: the paginated user list (JupyterHub 2+ with the
  ``application/jupyterhub-pagination+json`` Accept header), one page at a
  time, each user once even when the list moves while it is read or the
  hub's paging counts servers instead of users.
- :meth:`HubAPI.listing`: ``GET /hubplugins/lifecycle/users``
  (:mod:`hubplugins.lifecycle.listing`): every user (or those with a running
  server) in user id order, a page read on after the last id, so no user is
  read twice or missed; a few queries a page on the hub, where JupyterHub's
  own list costs several per user. What the sweeps read.
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

import json
from collections.abc import AsyncIterator
from typing import Any
from urllib.parse import quote, urlencode

from tornado.httpclient import AsyncHTTPClient, HTTPClientError, HTTPRequest, HTTPResponse
from tornado.netutil import DefaultLoopResolver, Resolver

from hubplugins.lifecycle.endpoint import RULE_HEADER

__all__ = ["HubAPI", "HubAPIError"]

PAGINATION = "application/jupyterhub-pagination+json"
OVERLAP = 5  # users each full page (200) shares with the one before; 1 on pages under 40
MAX_BACKUPS = 100  # pages read again in one listing before giving up on a list that moves


def overlap(limit: int) -> int:
    """Users a page of ``limit`` shares with the page before it."""
    return max(1, min(OVERLAP, limit // 40))


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
        self.pages_read = 0

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

    async def pages(
        self, *, state: str | None, include_stopped: bool, page_size: int = 200
    ) -> AsyncIterator[list[dict[str, Any]]]:
        """The user list (``state``: ``active``, ``inactive`` or None = all), a page at a time.

        One request at a time, so that a sweep never queues more than one page
        on the hub. Every user listed from the first page to the last comes
        once: consecutive pages overlap by a few users (:data:`OVERLAP`), a
        page is read on from the last user the previous page showed, and a
        page that shows none of the previous page's users (the list moved down
        by more than the overlap since it was read) is read again from one
        page earlier. None of this trusts the hub's ``total``, which counts
        servers rather than users on some JupyterHub versions (jupyterhub#4789,
        #5293): the list ends at a page with no next page, or an empty one.
        """
        params: dict[str, str] = {"limit": str(page_size)}
        if state:
            params["state"] = state
        if include_stopped:
            params["include_stopped_servers"] = "1"
        seen: set[str] = set()
        previous: set[str] = set()
        offset = backups = 0
        empty_at = -1
        while True:
            query = urlencode({**params, "offset": str(offset)})
            resp = await self._fetch("GET", f"/users?{query}", accept=PAGINATION)
            self.pages_read += 1
            data = json.loads(resp.body)
            if isinstance(data, list):  # a hub without pagination: one answer is all
                yield [u for u in data if u["name"] not in seen]
                return
            items: list[dict[str, Any]] = data["items"]
            limit = int(data["_pagination"].get("limit") or page_size)
            step = max(1, limit - overlap(limit))
            names = [u["name"] for u in items]
            start = max((i + 1 for i, n in enumerate(names) if n in previous), default=0)
            if previous and start == 0 and offset > 0 and (items or offset != empty_at):
                # none of the previous page's users: some may have moved past unseen
                # (an empty page read again right after that is the end of the list)
                if not items:
                    empty_at = offset
                backups += 1
                if backups > MAX_BACKUPS:
                    raise HubAPIError("GET", "/users", 409, "the user list kept moving while read")
                offset = max(0, offset - step)
                continue
            fresh = [u for u in items[start:] if u["name"] not in seen]
            seen.update(u["name"] for u in fresh)
            if fresh:
                yield fresh
            if not items or not data["_pagination"].get("next"):
                return
            previous = set(names)
            offset += max(1, min(step, len(items) - overlap(limit)))

    async def listing(
        self, *, running: bool, stopped: bool, page_size: int = 500
    ) -> AsyncIterator[list[dict[str, Any]]]:
        """Users in id order (``running``: only those with a running server;
        ``stopped``: with their stopped servers), a page at a time, one request at a time."""
        after: int | None = 0
        while after is not None:
            query = urlencode(
                {
                    "after": str(after),
                    "limit": str(page_size),
                    "running": "1" if running else "0",
                    "stopped": "1" if stopped else "0",
                }
            )
            resp = await self._fetch("GET", f"/hubplugins/lifecycle/users?{query}")
            self.pages_read += 1
            data = json.loads(resp.body)
            if data["items"]:
                yield data["items"]
            following = data.get("next")
            after = int(following) if following is not None and following > after else None

    async def list_users(
        self, *, state: str | None, include_stopped: bool, page_size: int = 200
    ) -> list[dict[str, Any]]:
        """Every user of the list at once (see :meth:`pages`)."""
        users: list[dict[str, Any]] = []
        async for page in self.pages(
            state=state, include_stopped=include_stopped, page_size=page_size
        ):
            users.extend(page)
        return users

    async def act(
        self, user: str, server: str, action: str, last_activity: str | None, running: bool
    ) -> int:
        """Stop or delete a server if it is as seen; 204 = done, 202 = stopping."""
        path = f"/hubplugins/lifecycle/users/{quote(user, safe='')}"
        path += f"/servers/{quote(server, safe='')}" if server else "/server"
        body = {"action": action, "last_activity": last_activity, "running": running}
        return (await self._fetch("POST", path, body=body)).code

    async def mark_notice(
        self, user: str, server: str, last_activity: str | None, delete_at: str
    ) -> int:
        """Mark a server as told it will be deleted at ``delete_at`` if it is still idle
        since ``last_activity``; 201 = marked now, 200 = marked before
        (:mod:`hubplugins.lifecycle.notice_endpoint`)."""
        path = f"/hubplugins/lifecycle/notices/{quote(user, safe='')}"
        path += f"/servers/{quote(server, safe='')}"
        body = {"last_activity": last_activity, "delete_at": delete_at}
        return (await self._fetch("POST", path, body=body)).code

    async def send_metrics(self, text: str) -> None:
        """Give the hub the service's metrics to serve in ``/hub/metrics``
        (:mod:`hubplugins.lifecycle.hub_metrics`)."""
        await self._fetch("PUT", "/hubplugins/lifecycle/metrics", body={"metrics": text})
