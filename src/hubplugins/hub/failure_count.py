"""Refused starts stay out of JupyterHub's consecutive-failure count.

JupyterHub exits after ``Spawner.consecutive_failure_limit`` failed starts in
a row, so that a broken hub is restarted by Kubernetes; the
Zero-to-JupyterHub chart sets 5 (``hub.consecutiveFailureLimit``). JupyterHub
5.5 counts every start whose future fails, and 6.x every one that fails with
anything but a ``SpawnException`` or an HTTP error below 500. A start that is
*refused* is not a broken hub, and a restart would not help: without this,
six refused requests in a row (a CPU request above the cap, a revoked account,
a sign-in provider that is down) restart the hub for everyone.

What is a refusal, not a failure (:func:`is_refusal`):

- an HTTP error below 500: the policy's refusals, an authenticator's
  ``pre_spawn_start``, a failed refresh of the user's sign-in;
- ``tornado.web.Finish``: the user is sent to sign in again;
- any error marked with :data:`NOT_A_FAILURE` (e.g. GitHub cannot be
  reached: a 503 that says nothing about the hub).

Anything else (a pod that cannot be created, a start that times out, a
crash) still counts.

How: JupyterHub adds its counting callback to the start's future right after
storing it as ``spawner._spawn_future``. :func:`watch_start` runs when the
future is stored, so its callback runs first: for a refusal that JupyterHub is
about to count, it takes one off the count and sets the spawner's limit to 0
(JupyterHub reads it from the spawner as it counts: no exit, no warning), then
puts the limit back in a callback that runs after JupyterHub's.
"""

from __future__ import annotations

import asyncio
from typing import Any

from jupyterhub import version_info as _jupyterhub_version
from tornado import web

try:  # JupyterHub 6.x
    from jupyterhub.spawner import SpawnException as _SpawnException
except ImportError:  # JupyterHub 5.5
    _SpawnException = None

__all__ = ["NOT_A_FAILURE", "counted_by_jupyterhub", "is_refusal", "watch_start"]

NOT_A_FAILURE = "hubplugins_not_a_failure"
"""Attribute (on an exception or its class) that marks a refusal of any status."""

_KEY = "failure_count"  # JupyterHub's key in the tornado application settings


def is_refusal(error: BaseException) -> bool:
    """Whether a start that raised ``error`` was refused rather than broken."""
    if getattr(error, NOT_A_FAILURE, False):
        return True
    if isinstance(error, web.Finish):
        return True
    return isinstance(error, web.HTTPError) and error.status_code < 500


def counted_by_jupyterhub(error: BaseException) -> bool:
    """Whether the running JupyterHub counts ``error`` as a failed start.

    The rule of ``BaseHandler.spawn_single_user``: 5.5 counts every failure;
    6.x counts neither a ``SpawnException`` nor an HTTP error below 500.
    """
    if _jupyterhub_version < (6,):
        return True
    if _SpawnException is not None and isinstance(error, _SpawnException):
        return False
    return not (isinstance(error, web.HTTPError) and error.status_code < 500)


def _application_settings(spawner: Any) -> dict[str, Any] | None:
    """The tornado application's settings, where JupyterHub keeps the count.

    They are not the ``settings`` a :class:`jupyterhub.user.User` holds
    (tornado copies them into the application), so they are read from the
    start's request handler where it is still set, else from the hub
    application.
    """
    handler = getattr(spawner, "handler", None)
    settings = getattr(handler, "settings", None)
    if isinstance(settings, dict):
        return settings
    from hubplugins.hub.started import hub_app

    application = getattr(hub_app(), "tornado_application", None)
    settings = getattr(application, "settings", None)
    return settings if isinstance(settings, dict) else None


def watch_start(spawner: Any, future: asyncio.Future[Any]) -> None:
    """Keep a refusal of the start behind ``future`` out of the failure count.

    Call it when JupyterHub stores the future (before it adds its own
    callbacks), with the spawner whose ``consecutive_failure_limit`` it reads.
    """

    def before_jupyterhub(done: asyncio.Future[Any]) -> None:
        if done.cancelled():
            return
        error = done.exception()
        if error is None or not is_refusal(error) or not counted_by_jupyterhub(error):
            return
        settings = _application_settings(spawner)
        limit = spawner.consecutive_failure_limit
        if settings is None or not limit:
            return
        settings[_KEY] = settings.get(_KEY, 0) - 1  # JupyterHub adds it back next
        spawner.consecutive_failure_limit = 0

        def after_jupyterhub(_done: asyncio.Future[Any]) -> None:
            spawner.consecutive_failure_limit = limit
            settings[_KEY] = max(0, settings.get(_KEY, 0))

        done.add_done_callback(after_jupyterhub)  # done already: runs after JupyterHub's

    future.add_done_callback(before_jupyterhub)
