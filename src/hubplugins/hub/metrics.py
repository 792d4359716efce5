"""Prometheus metrics, served by JupyterHub at ``/hub/metrics`` beside its own.

JupyterHub exposes the default ``prometheus_client`` registry, so metrics
defined here appear there with no extra endpoint. Names start with
``hubplugins_``.
"""

from __future__ import annotations

from prometheus_client import Counter, Gauge, Histogram

REFUSALS = Counter(
    "hubplugins_policy_refusals_total",
    "Requests refused by the hub policy, by rule",
    ["rule"],
)
DECISION_SECONDS = Histogram(
    "hubplugins_policy_decision_seconds",
    "Time the spawner spent deciding a start (policy resolution, checks, GPU pool)",
    buckets=(0.0001, 0.0005, 0.001, 0.005, 0.01, 0.05, 0.1),
)
GPUS_RESERVED = Gauge(
    "hubplugins_gpu_pool_reserved",
    "GPUs reserved from the hub's pool, by resource name",
    ["resource"],
)
GPU_POOL_SIZE = Gauge(
    "hubplugins_gpu_pool_size",
    "GPUs in the hub's pool, by resource name",
    ["resource"],
)
VOLUME_DELETE_FAILURES = Counter(
    "hubplugins_volume_delete_failures_total",
    "Volume deletions that failed after every retry",
)


def record_refusal(rule: str) -> None:
    REFUSALS.labels(rule=rule).inc()


def observe_decision(seconds: float) -> None:
    DECISION_SECONDS.observe(seconds)


def set_gpu_pool(resource: str, reserved: int, size: int) -> None:
    GPUS_RESERVED.labels(resource=resource).set(reserved)
    GPU_POOL_SIZE.labels(resource=resource).set(size)
