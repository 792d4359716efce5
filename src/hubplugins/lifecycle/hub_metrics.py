"""The lifecycle service's metrics in the hub's own ``/hub/metrics``.

The service runs in a process of its own; Prometheus scrapes the hub. So after
each sweep the service sends its metrics (:mod:`hubplugins.lifecycle.metrics`,
the Prometheus text format, cumulative since the service started) to the hub::

    PUT /hub/api/hubplugins/lifecycle/metrics
    {"metrics": "<text exposition>"}

and the hub serves the latest of them beside its own at ``/hub/metrics``,
behind JupyterHub's metrics authentication (``read:metrics`` while
``JupyterHub.authenticate_prometheus`` is on, the default). A scrape between
two sweeps reads the counts of the last sweep; a restarted service starts its
counters from zero, which Prometheus reads as a counter reset.

Only a token with :data:`METRICS_SCOPE` may send (a custom scope the wiring
gives the service's role alone; admins do not hold it), and only families
named ``hubplugins_lifecycle_*``, so nothing sent can stand in for a metric
of the hub. Answers: 204 stored; 400 ``lifecycle.metrics`` for a body that is
not such an object, not the text format, too large, or naming another metric;
403 ``lifecycle.metrics-scope`` without the scope.
"""

from __future__ import annotations

import json
from collections.abc import Iterator, Mapping
from typing import Any

from prometheus_client import REGISTRY, generate_latest
from prometheus_client.metrics_core import Metric
from prometheus_client.parser import text_string_to_metric_families

from hubplugins.policy.decision import Decision

__all__ = [
    "CUSTOM_SCOPES",
    "METRICS_ENDPOINT",
    "METRICS_SCOPE",
    "LifecycleMetrics",
    "collector",
    "handlers",
    "read_metrics",
]

METRICS_ENDPOINT = "/api/hubplugins/lifecycle/metrics"
"""Below the hub's prefix (``/hub``)."""
METRICS_SCOPE = "custom:hubplugins:lifecycle-metrics"
CUSTOM_SCOPES = {
    METRICS_SCOPE: {
        "description": "Send the hubplugins lifecycle service's metrics, served in /hub/metrics."
    }
}
PREFIX = "hubplugins_lifecycle_"
MAX_BYTES = 256 * 1024  # the service's metrics are about 5 KiB
MAX_FAMILIES = 64
RULE = "lifecycle.metrics"


def _refuse(message: str) -> Decision:
    return Decision.refuse(RULE, message, status=400)


def read_metrics(body: bytes) -> list[Metric] | Decision:
    """The metric families a request body carries, or the refusal (400)."""
    if len(body) > MAX_BYTES:
        return _refuse(f"The metrics are {len(body)} bytes; at most {MAX_BYTES} are accepted.")
    try:
        data = json.loads(body or b"null")
    except (ValueError, RecursionError):  # not JSON, not UTF-8, nested too deep
        data = None
    text = data.get("metrics") if isinstance(data, Mapping) else None
    if not isinstance(text, str):
        return _refuse('The body must be a JSON object {"metrics": "<Prometheus text format>"}.')
    try:
        families = list(text_string_to_metric_families(text))
    except Exception:  # the parser raises ValueError, IndexError, ... on bad text
        return _refuse("The metrics are not in the Prometheus text format.")
    if len(families) > MAX_FAMILIES:
        return _refuse(f"{len(families)} metric families; at most {MAX_FAMILIES} are accepted.")
    foreign = sorted({f.name for f in families if not f.name.startswith(PREFIX)})
    if foreign:
        return _refuse(f"Only {PREFIX}* metrics are accepted, not {', '.join(foreign[:3])}.")
    try:  # what the hub's /hub/metrics will write, written once here
        generate_latest(_Fixed(families))  # type: ignore[arg-type]
    except Exception:
        return _refuse("The metrics cannot be written in the Prometheus text format.")
    return families


class _Fixed:
    """A registry stand-in that holds some families, for a trial exposition."""

    def __init__(self, families: list[Metric]) -> None:
        self._families = families

    def collect(self) -> Iterator[Metric]:
        yield from self._families


class LifecycleMetrics:
    """A Prometheus collector of the hub's registry: the last metrics the service sent."""

    def __init__(self) -> None:
        self.families: list[Metric] = []

    def collect(self) -> Iterator[Metric]:
        yield from self.families

    def describe(self) -> list[Metric]:
        return []  # names vary with what is sent: no registration-time check


_COLLECTOR: LifecycleMetrics | None = None


def collector() -> LifecycleMetrics:
    """The process's collector, registered with the hub's registry on first use."""
    global _COLLECTOR
    if _COLLECTOR is None:
        _COLLECTOR = LifecycleMetrics()
        REGISTRY.register(_COLLECTOR)
    return _COLLECTOR


def _handler_class() -> type:
    from jupyterhub.apihandlers.base import APIHandler

    from hubplugins.hub.refusals import refuse

    class LifecycleMetricsHandler(APIHandler):
        """Store the metrics the lifecycle service sends after a sweep."""

        def _refuse(self, decision: Decision) -> Exception:
            requester = getattr(self.current_user, "name", None)
            return refuse(self.log, "lifecycle-metrics", decision, requester=requester)

        async def put(self) -> None:
            if self.current_user is None:
                raise self._refuse(
                    Decision.refuse("lifecycle.metrics-scope", "Sign in with a token.", status=403)
                )
            if METRICS_SCOPE not in self.parsed_scopes:
                message = f"Sending lifecycle metrics needs the scope {METRICS_SCOPE}."
                raise self._refuse(Decision.refuse("lifecycle.metrics-scope", message, status=403))
            families = read_metrics(self.request.body)
            if isinstance(families, Decision):
                raise self._refuse(families)
            collector().families = families
            self.set_status(204)

    return LifecycleMetricsHandler


def handlers() -> list[tuple[str, Any]]:
    """The ``c.JupyterHub.extra_handlers`` entry of the endpoint."""
    collector()
    return [(METRICS_ENDPOINT, _handler_class())]


def setup_metrics_endpoint(c: Any) -> None:
    """Serve the endpoint and define its scope (each once when called again)."""
    existing = list(c.JupyterHub.extra_handlers) if "extra_handlers" in c.JupyterHub else []
    if METRICS_ENDPOINT not in {entry[0] for entry in existing}:
        c.JupyterHub.extra_handlers = [*existing, *handlers()]
    scopes = dict(c.JupyterHub.custom_scopes) if "custom_scopes" in c.JupyterHub else {}
    c.JupyterHub.custom_scopes = {**scopes, **CUSTOM_SCOPES}
