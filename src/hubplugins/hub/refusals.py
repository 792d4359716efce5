"""The one place where a refused decision becomes an HTTP answer: :func:`refuse`.

The policy's rules return a :class:`~hubplugins.policy.decision.Decision`; an
adapter that is refused one (a start, a sign-in, a request to an endpoint of
the package) calls :func:`refuse` (or :func:`enforce`), which counts the
refusal in ``hubplugins_policy_refusals_total{rule}``, writes the decision's
structured log line and gives the error to raise: a ``SpawnException``
(JupyterHub 6.x, counted as a policy failure in the spawn metrics) or a
``tornado.web.HTTPError`` (5.5), both with the decision's 4xx status and
message, as JupyterHub's pages and REST API show it.
"""

from __future__ import annotations

import json
import logging
from typing import Any

from tornado import web

from hubplugins.hub import metrics
from hubplugins.hub.failure_count import NOT_A_FAILURE
from hubplugins.policy.decision import Decision
from hubplugins.policy.errors import PolicyRefusal

Log = logging.Logger | logging.LoggerAdapter[Any]

try:  # JupyterHub 6.x
    from jupyterhub.spawner import SpawnException as _SpawnException
except ImportError:  # JupyterHub 5.5
    _SpawnException = None


def refuse(log: Log, event: str, refused: Decision | PolicyRefusal, **fields: Any) -> web.HTTPError:
    """Count and log a refused decision; the HTTP error to raise for it.

    ``event`` names what was refused (``spawn``, ``sign-in``, ``rename``, ...)
    in the log line, and ``fields`` (``user=``, ``server=``, ...) are added to
    it. The caller raises the result: ``raise refuse(self.log, "spawn", d) from None``.
    """
    return http_error(record(log, event, refused, **fields))


def record(log: Log, event: str, refused: Decision | PolicyRefusal, **fields: Any) -> PolicyRefusal:
    """Count and log a refused decision that has no HTTP answer of its own.

    A sign-in refresh the policy refuses, for one, sends the user to sign in
    again rather than answering an error; :func:`refuse` calls this too.
    """
    refusal = refused if isinstance(refused, PolicyRefusal) else PolicyRefusal(refused)
    metrics.record_refusal(refusal.decision.rule)
    log_decision(log, event, refusal, **fields)
    return refusal


def enforce(log: Log, event: str, decision: Decision, **fields: Any) -> Decision:
    """``decision`` when it allows; else raise :func:`refuse`'s error for it."""
    if not decision.allowed:
        raise refuse(log, event, decision, **fields)
    return decision


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
    log: Log,
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
