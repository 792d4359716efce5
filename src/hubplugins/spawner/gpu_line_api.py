"""The GPU line's endpoints: where a user stands, and leaving the line.

- ``GET /hub/api/hubplugins/gpu-queue/{user}``: the user's places and last
  messages (scope ``read:servers`` on that user).
- ``DELETE /hub/api/hubplugins/gpu-queue/{user}/{server}``: leave the line
  (scope ``servers`` on that server: its owner or an admin).

The line itself is :mod:`hubplugins.spawner.gpu_line`'s.
"""

from __future__ import annotations

from typing import Any

from hubplugins._lazy import lazy_classes
from hubplugins.policy.decision import Decision
from hubplugins.policy.rules.gpu_queue import QUEUE_RULE, ordinal
from hubplugins.spawner import line_store
from hubplugins.spawner.gpu_line import _LINES, _db, _holdings, _left, _same_account

__all__ = ["LINE_PATH", "PLACE_PATH", "handlers", "line_report"]

LINE_PATH = r"/api/hubplugins/gpu-queue/([^/]+)"
PLACE_PATH = r"/api/hubplugins/gpu-queue/([^/]+)/([^/]*)"


def line_report(user_name: str, server_name: str | None = None, user: Any = None) -> dict[str, Any]:
    """The places of ``user_name`` (or one server) in every line, and their last word;
    with ``user`` (its account), not those an earlier account of that name took."""
    places: list[dict[str, Any]] = []
    ended: list[dict[str, Any]] = []
    for hub in _LINES.values():
        for server_id, place in hub.line.places.items():
            if place.user != user_name or server_name not in (None, place.server):
                continue
            if user is not None and not _same_account(hub, server_id, user):
                continue
            held = _holdings(hub.pool) or {}
            position = hub.line.position(server_id) or 0
            n = place.demand.get(place.resource, 0)
            in_use, size = hub.pool.in_use(place.resource, held), hub.pool.size(place.resource)
            places.append(
                {
                    "server": place.server,
                    "position": position,
                    "resource": place.resource,
                    "gpus": n,
                    "in_use": in_use,
                    "size": size,
                    "starting": place.serving,
                    "max_wait": place.deadline - place.asked,
                    "text": (
                        f"{ordinal(position)} in line for {'1 GPU' if n == 1 else f'{n} GPUs'}; "
                        f"{in_use} of {size} in use" + ("; starting now" if place.serving else "")
                    ),
                }
            )
        for server_id, message in hub.line.ended.items():
            owner, _, server = server_id.partition("/")
            if owner == user_name and server_name in (None, server):
                ended.append({"server": server, "message": message})
    return {"user": user_name, "places": places, "ended": ended}


def _leave(user_name: str, server_name: str) -> bool:
    server_id = f"{user_name}/{server_name}"
    left = False
    for hub in _LINES.values():
        place = hub.line.places.get(server_id)
        if place is not None and place.serving:
            continue  # its start is under way: stop the server instead
        if _left(hub, server_id):
            left = True
        elif hub.line.ended.pop(server_id, None) is not None:
            db = _db()
            if db is not None:
                line_store.drop(db, hub.key, server_id)
    return left


def _handler_classes() -> tuple[type, type]:
    from jupyterhub.apihandlers.base import APIHandler
    from jupyterhub.scopes import needs_scope
    from tornado import web

    from hubplugins.hub import refusals
    from hubplugins.hub.refusals import log_decision

    class LineHandler(APIHandler):
        """``GET``: a user's places in the GPU line."""

        @needs_scope("read:servers")
        async def get(self, user_name: str) -> None:
            user = self.find_user(user_name)
            if user is None:
                raise web.HTTPError(404, f"No such user: {user_name[:64]}")
            self.finish(line_report(user_name, user=user))

    class PlaceHandler(APIHandler):
        """``GET`` one server's place; ``DELETE``: leave the line."""

        @needs_scope("read:servers")
        async def get(self, user_name: str, server_name: str) -> None:
            user = self.find_user(user_name)
            if user is None:
                raise web.HTTPError(404, f"No such user: {user_name[:64]}")
            self.finish(line_report(user_name, server_name, user))

        @needs_scope("servers")
        async def delete(self, user_name: str, server_name: str) -> None:
            if self.find_user(user_name) is None:
                raise web.HTTPError(404, f"No such user: {user_name[:64]}")
            fields = {"user": user_name, "server": server_name}
            if not _leave(user_name, server_name):
                decision = Decision.refuse(
                    QUEUE_RULE,
                    f"Server {server_name[:64]!r} of {user_name[:64]} has no place in the "
                    "GPU line (never queued, already started or gave up).",
                    status=404,
                )
                raise refusals.refuse(self.log, "gpu-queue-leave", decision, **fields)
            log_decision(self.log, "gpu-queue-leave", {"outcome": "left"}, **fields)
            self.set_status(204)
            self.finish()

    return LineHandler, PlaceHandler


# the handler classes, built on first use (see hubplugins._lazy)
__getattr__ = lazy_classes(__name__, _handler_classes, "LineHandler", "PlaceHandler")


def handlers() -> list[tuple[str, Any]]:
    return [(LINE_PATH, __getattr__("LineHandler")), (PLACE_PATH, __getattr__("PlaceHandler"))]
