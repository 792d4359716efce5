"""Is a server still as the sweep's plan saw it? Pure: no I/O, no clock.

The lifecycle service plans from a listing of the hub's users and acts a
moment later; meanwhile an owner may start, stop or use a server. So it asks
the hub to act only on a condition: the hub endpoint
(:mod:`hubplugins.lifecycle.endpoint`) reads the request with
:func:`read_request`, looks at the server as it is now, asks
:func:`still_as_planned` and acts only when that allows it, with no await in
between. A refusal is a :class:`~hubplugins.policy.decision.Decision`:

- ``lifecycle.request`` (400): a malformed request;
- ``lifecycle.gone`` (404): no such user or server;
- ``lifecycle.started`` (409): the server is starting, or running where the
  plan saw it stopped;
- ``lifecycle.busy`` (409): the server is stopping or being renamed;
- ``lifecycle.stopped`` (409): the server stopped where the plan saw it running;
- ``lifecycle.activity`` (412): its last activity is not the one the plan saw;
- ``lifecycle.kept`` (409): its owner keeps it (``idle.allow_keep``): never deleted
  by retention.

JupyterHub records the start and the stop of a server as activity, so a start
and a stop since the plan (even a failed start) also change the activity.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, Literal

from hubplugins.policy.decision import Decision
from hubplugins.policy.text import echo

__all__ = [
    "RULES",
    "LifecycleRequest",
    "ServerNow",
    "not_kept",
    "read_request",
    "still_as_planned",
]

RULES = {
    "lifecycle.request": 400,
    "lifecycle.gone": 404,
    "lifecycle.started": 409,
    "lifecycle.busy": 409,
    "lifecycle.stopped": 409,
    "lifecycle.activity": 412,
    "lifecycle.kept": 409,
}
FIELDS = ("action", "last_activity", "running")


@dataclass(frozen=True)
class LifecycleRequest:
    """What the service asks: stop or delete, and the server as its plan saw it."""

    action: Literal["stop", "delete"]
    last_activity: datetime | None  # aware UTC; None: the plan saw none
    running: bool


@dataclass(frozen=True)
class ServerNow:
    """The server as the hub has it now."""

    pending: str | None  # "spawn", "stop", "check", "rename" or None
    running: bool  # it has a server (started and not stopped)
    last_activity: datetime | None  # aware UTC


def refuse(rule: str, message: str, **details: Any) -> Decision:
    return Decision.refuse(rule, message, status=RULES[rule], **details)


def _time(value: Any) -> datetime | None:
    """An ISO 8601 time from a request body as aware UTC, or None for null; ValueError for
    anything else, a time outside what ``datetime`` holds in UTC among them."""
    if value is None:
        return None
    if not isinstance(value, str) or len(value) > 40:
        raise ValueError
    parsed = datetime.fromisoformat(value)
    if parsed.tzinfo is None:
        parsed = parsed.replace(tzinfo=UTC)
    try:
        return parsed.astimezone(UTC)
    except OverflowError:  # 0001-01-01T00:00+01:00, 9999-12-31T23:59-01:00
        raise ValueError(value) from None


def read_request(body: Any, server: str) -> LifecycleRequest | Decision:
    """The request in ``body`` (decoded JSON) for ``server`` ("" = default), or a 400."""
    example = (
        '{"action": "delete", "last_activity": "2025-01-31T12:00:00.000000Z", "running": false}'
    )
    if not isinstance(body, Mapping):
        return refuse("lifecycle.request", f"The body must be a JSON object like {example}.")
    unknown = sorted(str(k) for k in body if k not in FIELDS)
    if unknown:
        return refuse(
            "lifecycle.request",
            f"Unknown field {echo(unknown[0])}: the body takes {', '.join(FIELDS)}.",
        )
    missing = [k for k in FIELDS if k not in body]
    if missing:
        return refuse(
            "lifecycle.request",
            f"Missing field {missing[0]!r}: the body must be like {example}.",
        )
    action = body["action"]
    if action not in ("stop", "delete"):
        return refuse(
            "lifecycle.request", f'"action" must be "stop" or "delete", not {echo(str(action))}.'
        )
    if action == "delete" and not server:
        return refuse("lifecycle.request", "The default server is never deleted, only stopped.")
    running = body["running"]
    if not isinstance(running, bool):
        return refuse("lifecycle.request", '"running" must be true or false.')
    if action == "stop" and not running:
        return refuse("lifecycle.request", "Only a running server is stopped.")
    try:
        last_activity = _time(body["last_activity"])
    except ValueError:
        return refuse(
            "lifecycle.request",
            f'"last_activity" must be an ISO 8601 time as the hub gives it '
            f"(e.g. 2025-01-31T12:00:00.000000Z) or null, not "
            f"{echo(str(body['last_activity']))}.",
        )
    return LifecycleRequest(action, last_activity, running)


def not_kept(request: LifecycleRequest, name: str, kept: bool) -> Decision:
    """Retention never deletes a server its owner keeps; stops still apply."""
    if kept and request.action == "delete":
        return refuse(
            "lifecycle.kept",
            f"Not deleted: {name} is kept by its owner (idle.allow_keep).",
            usage="kept",
        )
    return Decision.allow("lifecycle.kept")


def _when(value: datetime | None) -> str:
    return value.isoformat().replace("+00:00", "Z") if value else "none"


def still_as_planned(request: LifecycleRequest, name: str, now: ServerNow) -> Decision:
    """Allow the action only if the server ``name`` is as the plan saw it."""
    rule = "idle.delete_after" if request.action == "delete" else "idle.stop_after"
    what = f"Not {'deleted' if request.action == 'delete' else 'stopped'}"
    seen = "running" if request.running else "stopped"
    if now.pending == "spawn":
        return refuse("lifecycle.started", f"{what}: {name} is starting.", usage="starting")
    if now.pending:
        return refuse("lifecycle.busy", f"{what}: {name} is pending {now.pending}.", usage="busy")
    if now.running and not request.running:
        return refuse(
            "lifecycle.started", f"{what}: {name} was started since it was seen stopped.",
            usage="running",
        )  # fmt: skip
    if request.running and not now.running:
        return refuse(
            "lifecycle.stopped", f"{what}: {name} stopped since it was seen running.",
            usage="stopped",
        )  # fmt: skip
    if now.last_activity != request.last_activity:
        return refuse(
            "lifecycle.activity",
            f"{what}: {name} has activity at {_when(now.last_activity)} since it was seen "
            f"{seen} with activity at {_when(request.last_activity)}.",
            limit=_when(request.last_activity),
            usage=_when(now.last_activity),
        )
    return Decision.allow(rule, usage=seen)
