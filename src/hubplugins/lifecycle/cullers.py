"""One idle culler at a time: the chart's ``jupyterhub-idle-culler`` or the lifecycle service.

The Zero-to-JupyterHub chart runs ``jupyterhub-idle-culler`` as a hub service
unless its values say ``cull.enabled: false`` (the chart's default is
``true``). With the lifecycle service wired as well, two services stop idle
servers, and the culler's one ``cull.timeout`` for everybody (3600 s by
default) stops servers the policy keeps longer (``idle.stop_after: 2h``) or
never stops (``null``).

Pure functions: they read plain data (the helm values, or the hub's list of
services) and return every problem as a :class:`~hubplugins.policy.errors.ConfigIssue`
that names the fix. ``hubplugins check`` reports them for a values file;
``hubplugins.setup(c)`` raises them as a :class:`~hubplugins.policy.errors.PolicyConfigError`
when the hub's config has both.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

from hubplugins.policy.errors import ConfigIssue

__all__ = [
    "CHART_CULL_DEFAULTS",
    "CULLER_SERVICE",
    "services_culler_issues",
    "values_culler_issues",
]

# the chart's values.yaml (4.x) under ``cull``: what a values file that says nothing gets
CHART_CULL_DEFAULTS: Mapping[str, Any] = {"enabled": True, "timeout": 3600}
CULLER_SERVICE = "jupyterhub-idle-culler"  # the service name the chart gives the culler
_CULLER_MODULE = "jupyterhub_idle_culler"
# what in a hub.extraConfig snippet that names hubplugins wires the lifecycle service
_WIRING_CALLS = ("setup(", "setup_lifecycle(", "configure(")

_FIX = (
    "set cull.enabled: false in the helm values (the lifecycle service stops idle "
    "servers by each owner's idle.stop_after), or HubLifecycle.enabled: false to keep "
    "only the chart's culler"
)


def _get(values: Any, *keys: str) -> Any:
    node = values
    for key in keys:
        if not isinstance(node, Mapping):
            return None
        node = node.get(key)
    return node


def _message(timeout: Any) -> str:
    after = f" after {timeout} s idle" if timeout else ""
    return (
        "the chart's idle culler (cull.enabled is true, the chart's default) and the "
        "hubplugins lifecycle service would both run: the culler stops every server"
        f"{after}, whatever the policy's idle rules say; {_FIX}"
    )


def lifecycle_wired(values: Any) -> bool:
    """Whether the values' ``hub.extraConfig`` wires the lifecycle service and
    ``hub.config.HubLifecycle.enabled`` does not turn it off."""
    snippets = _get(values, "hub", "extraConfig")
    texts = [str(s) for s in snippets.values()] if isinstance(snippets, Mapping) else []
    wiring = [t for t in texts if "hubplugins" in t and any(call in t for call in _WIRING_CALLS)]
    if not wiring:
        return False
    return _get(values, "hub", "config", "HubLifecycle", "enabled") is not False


def values_culler_issues(values: Any) -> list[ConfigIssue]:
    """Problems of a helm values file (as written: the chart's defaults apply to what it
    leaves out) where the chart's culler and the lifecycle service would both run.

    Takes any loaded file (a bare policy table has none) and never raises: one of
    ``hubplugins check``'s checks."""
    cull = _get(values, "cull")
    cull = cull if isinstance(cull, Mapping) else {}
    enabled = cull.get("enabled")
    enabled = CHART_CULL_DEFAULTS["enabled"] if enabled is None else enabled
    if enabled is False or not lifecycle_wired(values):
        return []
    timeout = cull.get("timeout")
    timeout = CHART_CULL_DEFAULTS["timeout"] if timeout is None else timeout
    return [ConfigIssue("cull.enabled", _message(timeout))]


def _is_culler(service: Mapping[str, Any]) -> bool:
    command = service.get("command") or []
    words = [command] if isinstance(command, str) else [str(w) for w in command]
    return service.get("name") == CULLER_SERVICE or any(_CULLER_MODULE in w for w in words)


def _timeout(service: Mapping[str, Any]) -> str | None:
    command = service.get("command") or []
    for word in [] if isinstance(command, str) else [str(w) for w in command]:
        if word.startswith("--timeout="):
            return word.partition("=")[2]
    return None


def services_culler_issues(services: Iterable[Any]) -> list[ConfigIssue]:
    """Problems of ``c.JupyterHub.services`` when the lifecycle service is about to be
    added: a ``jupyterhub-idle-culler`` service already there (as the chart adds it)."""
    issues = []
    for index, service in enumerate(services):
        if isinstance(service, Mapping) and _is_culler(service):
            path = f"JupyterHub.services[{index}] ({service.get('name', '?')})"
            issues.append(ConfigIssue(path, _message(_timeout(service))))
    return issues
