"""The service side of retention notices: mark the server on the hub, then tell.

For each :class:`~.notices.Notice` of a sweep, :func:`send_notice` asks the
hub to record it (:mod:`hubplugins.lifecycle.notice_endpoint`). Only a notice
the hub recorded just now (201) becomes an event: one structured log line
``hubplugins {"event": "lifecycle-notice", ...}``, the
``hubplugins_lifecycle_delete_notices`` counter and, when a webhook is set, a
``POST`` of the same JSON body (``{"event": "delete-notice", "user", "server",
"delete_at", "rule", "group", ...}``) that a site can turn into an e-mail. A
notice the server already had (200), a kept server or activity since the
listing (409, 412) send nothing.
"""

from __future__ import annotations

import json
import logging
from typing import Any

from tornado.httpclient import AsyncHTTPClient, HTTPRequest

from hubplugins.lifecycle import metrics
from hubplugins.lifecycle.hubapi import HubAPI, HubAPIError
from hubplugins.policy.rules.notices import Notice

__all__ = ["WEBHOOK_TIMEOUT", "send_notice"]

log = logging.getLogger("hubplugins.lifecycle")

WEBHOOK_TIMEOUT = 10.0
"""Seconds a webhook may take to answer."""


def _emit(payload: dict[str, Any], level: int = logging.INFO) -> None:
    log.log(level, "hubplugins %s", json.dumps(payload, default=str, sort_keys=True))


async def _post_webhook(url: str, body: dict[str, Any]) -> str | None:
    """POST the event; the error text, or None when the webhook took it (2xx)."""
    client = AsyncHTTPClient()
    request = HTTPRequest(
        url,
        method="POST",
        headers={"Content-Type": "application/json"},
        body=json.dumps(body, sort_keys=True),
        request_timeout=WEBHOOK_TIMEOUT,
    )
    try:
        response = await client.fetch(request, raise_error=False)
    except Exception as exc:  # unreachable: counted and logged, the sweep goes on
        return repr(exc)
    if 200 <= response.code < 300:
        return None
    return f"HTTP {response.code}"


async def send_notice(
    api: HubAPI, notice: Notice, *, webhook: str = "", dry_run: bool = False
) -> str:
    """Mark one server and emit its event; the outcome (``noticed``, ``planned``, ...)."""
    event = {"event": "delete-notice", **notice.fields()}
    fields = {**event, "event": "lifecycle-notice", "dry_run": dry_run}
    if dry_run:
        metrics.NOTICES.labels(dry_run="true").inc()
        _emit({**fields, "outcome": "planned"})
        return "planned"
    try:
        code = await api.mark_notice(
            notice.user, notice.server, notice.last_activity, event["delete_at"]
        )
    except HubAPIError as exc:
        outcome = {"lifecycle.kept": "kept", "lifecycle.activity": "active"}.get(exc.rule)
        if outcome is None and exc.rule in ("lifecycle.busy", "lifecycle.gone"):
            outcome = exc.rule.split(".")[1]
        if outcome is not None:
            return outcome
        _emit({**fields, "outcome": "failed", "error": str(exc)}, logging.ERROR)
        return "failed"
    except Exception as exc:  # a connection error must not end the sweep
        _emit({**fields, "outcome": "failed", "error": repr(exc)}, logging.ERROR)
        return "failed"
    if code != 201:
        return "already"
    metrics.NOTICES.labels(dry_run="false").inc()
    outcome = "noticed"
    if webhook:
        error = await _post_webhook(webhook, event)
        if error is not None:
            metrics.WEBHOOK_FAILURES.inc()
            _emit({**fields, "outcome": "noticed", "webhook_error": error}, logging.ERROR)
            return outcome
    _emit({**fields, "outcome": outcome, "webhook": bool(webhook)})
    return outcome
