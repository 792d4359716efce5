"""A stand-in for the part of the hub's REST API that idle sweepers use.

For benchmarks and tests: ``GET /hub/api/`` (version), ``GET /hub/api/users``
(``state`` = active / ready / inactive, ``include_stopped_servers``,
``offset``/``limit`` with the hub's default 50 and cap 200, the paginated
model with ``next`` when asked for with the pagination Accept header, else a
plain list), ``DELETE /hub/api/users/{u}/server`` and ``.../servers/{s}``
(with ``{"remove": true}``) as idle-culler uses them, the lifecycle listing
``GET /hub/api/hubplugins/lifecycle/users`` (:mod:`hubplugins.lifecycle.listing`:
``after``, ``limit``, ``running``, ``stopped``, by user id), and the lifecycle
endpoint ``POST /hub/api/hubplugins/lifecycle/users/{u}/server(s/{s})`` with
the hub's own conditions (:mod:`hubplugins.policy.rules.as_planned`), each stop
taking ``stop_delay`` seconds as a spawner's would, concurrently. Every
request is counted; any token is taken. ``pages_by_servers`` pages the user
list as some JupyterHub versions did (by servers, users repeating across
pages), ``on_list`` changes the users before each page is answered.
"""

from __future__ import annotations

import asyncio
import json
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any
from urllib.parse import parse_qs, urlencode, urlparse

from tornado import web
from tornado.httpserver import HTTPServer
from tornado.netutil import bind_sockets

from hubplugins.lifecycle.endpoint import RULE_HEADER
from hubplugins.lifecycle.listing import parse_query
from hubplugins.policy.decision import Decision
from hubplugins.policy.rules.as_planned import ServerNow, read_request, refuse, still_as_planned

__all__ = ["StandinHub", "iso"]

PAGINATION = "application/jupyterhub-pagination+json"


def iso(when: datetime) -> str:
    return when.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


@dataclass
class StandinHub:
    """Users and servers in memory, served on 127.0.0.1 at a free port."""

    stop_delay: float = 0.0
    default_limit: int = 50
    max_limit: int = 200
    version: str = "5.5.0"
    # page by (user, server) rows as some JupyterHub versions did (jupyterhub#4789,
    # #5293): offset, limit and total count servers, a page shows those rows' users
    pages_by_servers: bool = False
    # called with the hub before each user list is answered: a test changes the list
    # between the pages a sweep reads
    on_list: Callable[[StandinHub], None] | None = None
    users: dict[str, dict[str, Any]] = field(default_factory=dict)
    requests: Counter[str] = field(default_factory=Counter)
    stopped: list[tuple[str, str]] = field(default_factory=list)
    removed: list[tuple[str, str]] = field(default_factory=list)
    changed: asyncio.Event = field(default_factory=asyncio.Event)
    first_request: float | None = None  # time.monotonic() of the first request
    url: str = ""
    _server: HTTPServer | None = None
    _last_id: int = 0

    def add_user(self, name: str, groups: list[str] | None = None) -> dict[str, Any]:
        self._last_id += 1
        user = {
            "kind": "user",
            "id": self._last_id,
            "name": name,
            "groups": list(groups or []),
            "servers": {},
        }
        self.users[name] = user
        return user

    def add_server(
        self, user: str, server: str = "", *, idle: float = 0.0, running: bool = True
    ) -> None:
        when = iso(datetime.now(UTC) - timedelta(seconds=idle))
        self.users[user]["servers"][server] = {
            "name": server,
            "last_activity": when,
            "started": when if running else None,
            "pending": None,
            "ready": running,
            "stopped": not running,
            "url": f"/user/{user}/{server}",
            "user_options": {},
        }

    @property
    def total_requests(self) -> int:
        return sum(self.requests.values())

    def start(self) -> StandinHub:
        app = web.Application(
            [
                (r"/hub/api/?", _VersionHandler, {"hub": self}),
                (r"/hub/api/users", _UsersHandler, {"hub": self}),
                (r"/hub/api/users/([^/]+)/server", _ServerHandler, {"hub": self}),
                (r"/hub/api/users/([^/]+)/servers/([^/]*)", _ServerHandler, {"hub": self}),
                (r"/hub/api/hubplugins/lifecycle/users", _Listing, {"hub": self}),
                (r"/hub/api/hubplugins/lifecycle/users/([^/]+)/server", _Lifecycle, {"hub": self}),
                (
                    r"/hub/api/hubplugins/lifecycle/users/([^/]+)/servers/([^/]*)",
                    _Lifecycle,
                    {"hub": self},
                ),
            ]
        )
        sockets = bind_sockets(0, "127.0.0.1")
        self._server = HTTPServer(app)
        self._server.add_sockets(sockets)
        self.url = f"http://127.0.0.1:{sockets[0].getsockname()[1]}/hub/api"
        return self

    async def stop(self) -> None:
        if self._server is not None:
            self._server.stop()
            await self._server.close_all_connections()
            self._server = None

    # -- what the handlers see -------------------------------------------------

    def user_model(self, user: dict[str, Any], include_stopped: bool) -> dict[str, Any]:
        servers = {
            name: dict(model)
            for name, model in user["servers"].items()
            if include_stopped or not model["stopped"]
        }
        return {**user, "servers": servers}


class _Base(web.RequestHandler):
    def initialize(self, hub: StandinHub) -> None:
        self.hub = hub

    def prepare(self) -> None:
        if self.hub.first_request is None:
            self.hub.first_request = time.monotonic()
        kind = f"{self.request.method} {self.__class__.__name__.strip('_')}"
        self.hub.requests[kind] += 1
        if not self.request.headers.get("Authorization", "").startswith("token "):
            raise web.HTTPError(403)

    def check_xsrf_cookie(self) -> None:
        pass


class _VersionHandler(_Base):
    def get(self) -> None:
        self.write({"version": self.hub.version})


class _UsersHandler(_Base):
    def get(self) -> None:
        state = self.get_argument("state", None)
        include = self.get_argument("include_stopped_servers", "0").lower() not in {"0", "false"}
        paginated = PAGINATION in self.request.headers.get("Accept", "")
        limit_arg = self.get_argument("limit", None)
        limit = int(limit_arg) if limit_arg else self.hub.default_limit
        if not paginated and not limit_arg:
            limit = self.hub.max_limit
        limit = max(1, min(limit, self.hub.max_limit))
        offset = int(self.get_argument("offset", "0"))

        def active(user: dict[str, Any]) -> bool:
            return any(not s["stopped"] for s in user["servers"].values())

        def ready(user: dict[str, Any]) -> bool:
            return any(s["ready"] for s in user["servers"].values())

        selected = {
            None: lambda u: True,
            "active": active,
            "ready": active,  # "ready" filters the page afterwards, as the hub does
            "inactive": lambda u: not active(u),
        }[state]
        if self.hub.on_list is not None:
            self.hub.on_list(self.hub)
        matching = [u for u in self.hub.users.values() if selected(u)]
        if self.hub.pages_by_servers:
            rows = [u for u in matching for _ in range(max(1, _rows(u, state)))]
            page = list({id(u): u for u in rows[offset : offset + limit]}.values())
            matching = rows
        else:
            page = matching[offset : offset + limit]
        if state == "ready":
            page = [u for u in page if ready(u)]
        items = [self.hub.user_model(u, include) for u in page]
        if not paginated:
            self.write(json.dumps(items))
            return
        following = None
        if offset + limit < len(matching):
            parsed = urlparse(self.request.full_url())
            query = {k: v[-1] for k, v in parse_qs(parsed.query).items()}
            query.update(offset=str(offset + limit), limit=str(limit))
            following = {
                "offset": offset + limit,
                "limit": limit,
                "url": parsed._replace(query=urlencode(query)).geturl(),
            }
        info = {"offset": offset, "limit": limit, "total": len(matching), "next": following}
        self.write(json.dumps({"items": items, "_pagination": info}))


class _Listing(_Base):
    def get(self) -> None:
        args = {k: self.get_argument(k) for k in self.request.arguments}
        parsed = parse_query(args)
        if isinstance(parsed, Decision):
            self.set_status(parsed.status)
            self.finish({"status": parsed.status, "message": parsed.message})
            return
        after, limit, running, stopped = parsed
        if self.hub.on_list is not None:
            self.hub.on_list(self.hub)
        rows = sorted(
            (
                u
                for u in self.hub.users.values()
                if u["id"] > after
                and (not running or any(not s["stopped"] for s in u["servers"].values()))
            ),
            key=lambda u: u["id"],
        )[:limit]
        items = [self.hub.user_model(u, stopped) for u in rows]
        following = rows[-1]["id"] if len(rows) == limit else None
        self.write(json.dumps({"items": items, "next": following}))


def _rows(user: dict[str, Any], state: str | None) -> int:
    """How many rows the user is in a list paged by servers."""
    servers = user["servers"].values()
    return sum(1 for s in servers if state is None or not s["stopped"])


class _ServerHandler(_Base):
    async def delete(self, user_name: str, server_name: str = "") -> None:
        user = self.hub.users.get(user_name)
        if user is None or server_name not in user["servers"]:
            raise web.HTTPError(404)
        body = json.loads(self.request.body or b"{}")
        remove = bool(body.get("remove"))
        if remove and not server_name:
            raise web.HTTPError(400, "Cannot delete the default server")
        await self.hub_act(user, user_name, server_name, remove)

    async def hub_act(
        self, user: dict[str, Any], user_name: str, server_name: str, remove: bool
    ) -> None:
        server = user["servers"][server_name]
        if not server["stopped"]:
            if self.hub.stop_delay:
                await asyncio.sleep(self.hub.stop_delay)
            server.update(stopped=True, ready=False, started=None)
            server["last_activity"] = iso(datetime.now(UTC))
            self.hub.stopped.append((user_name, server_name))
        if remove:
            user["servers"].pop(server_name, None)
            self.hub.removed.append((user_name, server_name))
        self.hub.changed.set()
        self.set_status(204)


class _Lifecycle(_ServerHandler):
    async def post(self, user_name: str, server_name: str = "") -> None:
        try:
            body = json.loads(self.request.body or b"null")
        except ValueError:
            raise web.HTTPError(400, "Invalid JSON in body of request") from None
        request = read_request(body, server_name)
        if isinstance(request, Decision):
            self._refuse(request)
            return
        user = self.hub.users.get(user_name)
        if user is None or server_name not in user["servers"]:
            self._refuse(refuse("lifecycle.gone", f"No server {server_name!r} of {user_name!r}."))
            return
        model = user["servers"][server_name]
        activity = model["last_activity"]
        now = ServerNow(
            pending=model["pending"],
            running=not model["stopped"],
            last_activity=datetime.fromisoformat(activity) if activity else None,
        )
        decision = still_as_planned(request, f"{user_name}/{server_name}", now)
        if not decision.allowed:
            self._refuse(decision)
            return
        await self.hub_act(user, user_name, server_name, request.action == "delete")

    def _refuse(self, decision: Decision) -> None:
        self.set_status(decision.status)
        self.set_header(RULE_HEADER, decision.rule)
        self.finish({"status": decision.status, "message": decision.message})
