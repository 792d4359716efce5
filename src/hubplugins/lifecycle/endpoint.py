"""The hub side of the lifecycle service: stop or delete a server only if it is as planned.

``POST /hub/api/hubplugins/lifecycle/users/{user}/servers/{server}`` (and
``.../users/{user}/server`` for the default server) with a JSON body
``{"action": "stop" | "delete", "last_activity": <the server's last_activity as
the plan saw it, or null>, "running": <whether it was running>}``.

The hub checks the server as it is now against that
(:func:`~hubplugins.policy.rules.as_planned.still_as_planned`) and, with no await
between the check and the mark, marks the server as stopping, so that a start
asked for meanwhile is refused by JupyterHub (it is "pending stop") instead of
being cancelled. Then:

- ``stop``: JupyterHub's own stop (``stop_single_user``: proxy route, spawner
  stop, activity), 204 when stopped, 202 while still stopping;
- ``delete``: a running server is stopped that way first, then checked again;
  then the spawner's ``delete_forever`` (the volume rules of
  :mod:`hubplugins.spawner.storage`) and the removal of its record, as JupyterHub's
  ``DELETE /users/{user}/servers/{server}`` with ``remove`` does it; 204.

Answers: 400 malformed body, 403 without ``delete:servers`` on the server (or
for the server's owner: owners delete through JupyterHub's own API), 404
unknown user or server, 409 started or stopped since the plan, or (delete)
kept by its owner (a running kept server is stopped by the idle rule instead),
412 activity since the plan; every refusal names its rule in the JSON message and the
``X-Hubplugins-Rule`` header, and is logged as one ``lifecycle-request`` line.
Each stop and delete records the rule and the group that set it, for the
owner's page (:mod:`hubplugins.lifecycle.notice_endpoint`).
"""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime
from typing import Any

from hubplugins._lazy import lazy_classes
from hubplugins.policy.decision import Decision
from hubplugins.policy.rules.as_planned import (
    LifecycleRequest,
    ServerNow,
    not_kept,
    read_request,
    refuse,
    still_as_planned,
)

__all__ = ["ENDPOINT", "RULE_HEADER", "handlers", "setup_endpoint"]

ENDPOINT = "/api/hubplugins/lifecycle/users"
"""Below the hub's prefix (``/hub``): ``{ENDPOINT}/{user}/server(s/{server})``."""
RULE_HEADER = "X-Hubplugins-Rule"


def _aware(value: datetime | None) -> datetime | None:
    """The hub's naive UTC database time as an aware one."""
    if value is None:
        return None
    return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


def server_now(spawner: Any) -> ServerNow:
    """The server as the hub has it now (no await)."""
    orm = spawner.orm_spawner
    return ServerNow(
        pending=spawner.pending or None,
        running=spawner.server is not None or orm.server is not None,
        last_activity=_aware(orm.last_activity),
    )


def _handler_class() -> type:
    from jupyterhub.apihandlers.base import APIHandler
    from jupyterhub.scopes import needs_scope
    from jupyterhub.utils import maybe_future

    from hubplugins.hub import refusals
    from hubplugins.hub.refusals import log_decision
    from hubplugins.lifecycle import notice_endpoint as notes

    class LifecycleServerHandler(APIHandler):
        """Stop or delete one server for the lifecycle service, if it is as planned."""

        def _refuse(self, decision: Decision, **fields: Any) -> Exception:
            error = refusals.refuse(self.log, "lifecycle-request", decision, **fields)
            error.headers = {RULE_HEADER: decision.rule}  # type: ignore[attr-defined]
            return error

        @needs_scope("delete:servers")
        async def post(self, user_name: str, server_name: str = "") -> None:
            requester = self.current_user
            fields = {
                "user": user_name,
                "server": server_name,
                "requester": getattr(requester, "name", None),
            }
            # a body that is not JSON: JupyterHub's own 400
            request = read_request(self.get_json_body(), server_name)
            if isinstance(request, Decision):
                raise self._refuse(request, **fields)
            fields["action"] = request.action
            if getattr(requester, "kind", "") == "user" and requester.name == user_name:
                decision = Decision.refuse(
                    "lifecycle.owner",
                    "This endpoint is for the lifecycle service; stop or delete your own "
                    f"servers with DELETE /hub/api/users/{user_name}/servers/{{name}}.",
                    status=403,
                )
                raise self._refuse(decision, **fields)
            user = self.find_user(user_name)
            if user is None or server_name not in user.orm_spawners:
                gone = refuse("lifecycle.gone", f"No server {server_name!r} of user {user_name!r}.")
                raise self._refuse(gone, **fields)
            spawner = user.spawners[server_name]
            label = (
                f"server {server_name!r} of {user_name}"
                if server_name
                else f"{user_name}'s default server"
            )
            decision = still_as_planned(request, label, server_now(spawner))
            if decision.allowed:
                kept = not_kept(request, label, notes.is_kept(self, user, spawner))
                if not kept.allowed and request.running:
                    # kept from retention, not from the idle stop its idle time is past
                    future = await self.stop_single_user(user, server_name)
                    notes.acted(self, user, spawner, "stop", future)
                decision = kept
            if not decision.allowed:
                raise self._refuse(decision, **fields)
            # no await since the check: the server is marked before anything else runs
            if request.action == "stop" or request.running:
                future = await self.stop_single_user(user, server_name)
                if request.action == "stop":
                    notes.acted(self, user, spawner, "stop", future)
                    stopping = bool(spawner._stop_pending)
                    outcome = "stopping" if stopping else "stopped"
                    log_decision(self.log, "lifecycle-request", {"outcome": outcome}, **fields)
                    self.set_status(202 if stopping else 204)
                    return
                await future
                # stopped: look again (a start may have been asked for the moment it ended)
                after = LifecycleRequest("delete", _aware(spawner.orm_spawner.last_activity), False)
                decision = still_as_planned(after, label, server_now(spawner))
                if not decision.allowed:
                    raise self._refuse(decision, **fields)
            await self._delete(user, spawner, server_name)
            notes.acted(self, user, spawner, "delete")
            log_decision(self.log, "lifecycle-request", {"outcome": "deleted"}, **fields)
            self.set_status(204)

        async def _delete(self, user: Any, spawner: Any, server_name: str) -> None:
            """JupyterHub's remove (``User._delete_spawner`` and the record), marked stopping.

            ``User._delete_spawner`` refuses an active spawner, and the mark
            makes it one; so this calls the same ``delete_forever`` and logs
            its failure the same way, then removes the record as the API does.
            """
            spawner._stop_pending = True
            # a DELETE with remove asked meanwhile waits on this, then does nothing
            marker = spawner._stop_future = asyncio.get_running_loop().create_future()
            try:
                try:
                    await maybe_future(spawner.delete_forever())
                except Exception:
                    user.log.exception(
                        f"Error cleaning up persistent resources on {spawner._log_name}"
                    )
                self.log.info("Deleting spawner %s (lifecycle)", spawner._log_name)
                self.db.delete(spawner.orm_spawner)
                user.spawners.pop(server_name, None)
                self.db.commit()
            finally:
                spawner._stop_pending = False
                if spawner._stop_future is marker:
                    spawner._stop_future = None
                marker.cancel()

    return LifecycleServerHandler


# the handler classes, built on first use (see hubplugins._lazy)
__getattr__ = lazy_classes(__name__, _handler_class, "LifecycleServerHandler")


def handlers() -> list[tuple[str, Any]]:
    """Entries for ``c.JupyterHub.extra_handlers``: the default server and named ones."""
    from hubplugins.lifecycle.listing import handlers as listing_handlers
    from hubplugins.lifecycle.notice_endpoint import handlers as notice_handlers

    cls = __getattr__("LifecycleServerHandler")
    return [
        *listing_handlers(),
        (rf"{ENDPOINT}/([^/]+)/server", cls),
        (rf"{ENDPOINT}/([^/]+)/servers/([^/]*)", cls),
        *notice_handlers(),
    ]


def setup_endpoint(c: Any) -> None:
    """Serve :func:`handlers` from the hub (kept once when called again)."""
    existing = list(c.JupyterHub.extra_handlers) if "extra_handlers" in c.JupyterHub else []
    paths = {entry[0] for entry in existing}
    c.JupyterHub.extra_handlers = [*existing, *(h for h in handlers() if h[0] not in paths)]
