"""Prometheus metrics of the lifecycle service, in a registry of its own.

Served by the service itself (see :mod:`hubplugins.lifecycle.service`) at
``/metrics``; names start with ``hubplugins_lifecycle_``. Actions of a dry run
carry ``dry_run="true"``.
"""

from __future__ import annotations

from prometheus_client import CollectorRegistry, Counter, Histogram, generate_latest

REGISTRY = CollectorRegistry()

STOPPED = Counter(
    "hubplugins_lifecycle_servers_stopped",
    "Idle servers stopped (or, in a dry run, that would have been)",
    ["dry_run"],
    registry=REGISTRY,
)
DELETED = Counter(
    "hubplugins_lifecycle_servers_deleted",
    "Idle named servers deleted with their volume rules (or, in a dry run, that would have been)",
    ["dry_run"],
    registry=REGISTRY,
)
SKIPPED = Counter(
    "hubplugins_lifecycle_servers_skipped",
    "Servers left alone for a reason other than not being idle long enough at the listing "
    "(pending: starting or stopping when listed; no_activity: no timestamp; and, found by the "
    "hub when acting: gone: removed, started: started or starting, busy: stopping, "
    "stopped: stopped, active: activity since the listing, kept: kept by its owner)",
    ["reason"],
    registry=REGISTRY,
)
FAILED = Counter(
    "hubplugins_lifecycle_action_failures",
    "Stop or delete requests the hub refused or that failed",
    ["action"],
    registry=REGISTRY,
)
NOTICES = Counter(
    "hubplugins_lifecycle_delete_notices",
    "Named servers marked for deletion within their tier's idle.delete_notice, once per idle "
    "period (or, in a dry run, that would have been)",
    ["dry_run"],
    registry=REGISTRY,
)
WEBHOOK_FAILURES = Counter(
    "hubplugins_lifecycle_webhook_failures",
    "Notice events the webhook did not accept (an error or a status other than 2xx)",
    registry=REGISTRY,
)
SWEEP_SECONDS = Histogram(
    "hubplugins_lifecycle_sweep_duration_seconds",
    "Wall time of one sweep: listing the users and acting on idle servers",
    buckets=(0.1, 0.5, 1, 2, 5, 10, 30, 60, 120, 300),
    registry=REGISTRY,
)


def exposition() -> bytes:
    """The registry in the Prometheus text format."""
    return generate_latest(REGISTRY)
