"""Work for the moment the hub has started, hooked while it reads its configuration.

JupyterHub makes its start future (``JupyterHub._start_future``) before it
reads its configuration file and resolves it when its start is complete
(proxy up, routes checked, the servers it found being checked); it awaits it
itself before its own route check. A ``setup(c)`` step that runs while the
hub loads its configuration hooks work on it here, once per name. It is a
private attribute: on a JupyterHub without it nothing is hooked, and each
caller says what is then not done.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from typing import Any

__all__ = ["hub_app", "when_started"]

log = logging.getLogger("hubplugins")
_HOOKED: dict[str, asyncio.Future[Any]] = {}


def hub_app() -> Any:
    """This process's JupyterHub application (the one loading the configuration, or
    running), or None: ``hubplugins check``, a test, a process that is not the hub."""
    from jupyterhub.app import JupyterHub

    return JupyterHub.instance() if JupyterHub.initialized() else None


def when_started(app: Any, name: str, work: Callable[[Any], object]) -> bool:
    """Run ``work(app)`` once ``app`` has started (once per ``name`` and start);
    False when the hub has no start future to hook. A failure of ``work`` is logged."""
    future = getattr(app, "_start_future", None)
    if not isinstance(future, asyncio.Future) or future.done():
        return False
    if _HOOKED.get(name) is future:
        return True
    _HOOKED[name] = future

    def started(done: asyncio.Future[Any]) -> None:
        if done.cancelled() or done.exception() is not None:
            return
        try:
            work(app)
        except Exception:
            log.exception("hubplugins: %s after the hub's start failed", name)

    future.add_done_callback(started)
    return True
