"""The one place where a policy refusal becomes an HTTP answer.

The pure core raises :class:`~hubplugins.policy.errors.PolicyRefusal`; the hub-side
adapters call :func:`http_error` to turn it into what JupyterHub relays to the
user: a ``SpawnException`` (JupyterHub 6.x, counted as a policy failure in the
spawn metrics) or a ``tornado.web.HTTPError`` (5.5), both with the decision's
4xx status and message.
"""

from __future__ import annotations

import json
import logging
from typing import Any

from tornado import web

from hubplugins.hub.failure_count import NOT_A_FAILURE
from hubplugins.policy.errors import PolicyRefusal

try:  # JupyterHub 6.x
    from jupyterhub.spawner import SpawnException as _SpawnException
except ImportError:  # JupyterHub 5.5
    _SpawnException = None


def http_error(refusal: PolicyRefusal) -> web.HTTPError:
    """The HTTP error for ``refusal``: its 4xx status and user-facing message."""
    decision = refusal.decision
    status = decision.status if 400 <= decision.status < 500 else 400
    message = decision.message  # no args: tornado does not %-format it
    if _SpawnException is not None:
        error: web.HTTPError = _SpawnException(message, reason=decision.rule, status_code=status)
    else:
        error = web.HTTPError(status, message)
        error.reason = decision.rule
    # what JupyterHub's pages show (the spawn form, the pending page)
    error.jupyterhub_message = message  # type: ignore[attr-defined]
    # a refusal, whatever status a caller gives it later (e.g. 503 when a
    # sign-in provider is down): never a failed start (see failure_count)
    setattr(error, NOT_A_FAILURE, True)
    return error


def log_decision(
    log: logging.Logger | logging.LoggerAdapter[Any],
    event: str,
    refusal_or_details: PolicyRefusal | dict[str, Any],
    **fields: Any,
) -> None:
    """One structured log line for a policy decision (``key=value`` JSON payload)."""
    if isinstance(refusal_or_details, PolicyRefusal):
        d = refusal_or_details.decision
        payload: dict[str, Any] = {
            "event": event,
            "outcome": "refused",
            "rule": d.rule,
            "status": d.status,
            "limit": _plain(d.limit),
            "usage": _plain(d.usage),
            "message": d.message,
        }
    else:
        payload = {"event": event, "outcome": "allowed", **refusal_or_details}
    payload.update(fields)
    log.info("hubplugins %s", json.dumps(payload, default=str, sort_keys=True))


def _plain(value: Any) -> Any:
    if isinstance(value, (str, int, float, bool)) or value is None:
        return value
    return str(value)
