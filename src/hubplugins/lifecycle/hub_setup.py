"""Hub-side wiring of the lifecycle service: a managed service, its role, its endpoint.

``hubplugins.setup(c)`` runs :func:`setup_lifecycle`, which reads the
``HubLifecycle`` config section and calls :func:`configure`. Call
:func:`configure` yourself to wire the service without ``setup(c)``.
"""

from __future__ import annotations

import json
import os
import sys
from collections.abc import Mapping, Sequence
from typing import Any

from traitlets import Bool, Float, Integer, Unicode
from traitlets.config import Config, Configurable

from hubplugins.hub.trait_help import example, trait_help
from hubplugins.lifecycle.cullers import services_culler_issues
from hubplugins.lifecycle.endpoint import setup_endpoint
from hubplugins.lifecycle.hub_metrics import METRICS_SCOPE, setup_metrics_endpoint
from hubplugins.lifecycle.hub_url import local_api_url
from hubplugins.lifecycle.service import DEFAULT_CONCURRENCY, POLICY_ENV
from hubplugins.policy.errors import PolicyConfigError

__all__ = ["LIFECYCLE_SCOPES", "HubLifecycle", "configure", "setup_lifecycle"]

# What the service needs, and no more: list users with their groups and servers
# (activity included); stop and delete servers, through the hubplugins endpoint
# that acts only on a server still as listed (it checks delete:servers on each).
# The wired service's role adds METRICS_SCOPE, a custom scope the wiring defines:
# it sends its metrics to the hub, which serves them in /hub/metrics.
LIFECYCLE_SCOPES = [
    "list:users",
    "read:users:activity",
    "read:users:groups",
    "read:servers",
    "delete:servers",
]


class HubLifecycle(Configurable):
    """The lifecycle service as ``hubplugins.setup(c)`` wires it."""

    enabled = Bool(
        True,
        config=True,
        help=trait_help(
            """
            Run the lifecycle service (idle stop and retention by policy) as a
            hub-managed service. False means ``hubplugins.setup(c)`` does not wire
            it, e.g. to keep only the chart's own idle culler (``cull.enabled``).
            Every ``HubLifecycle`` setting is read by ``hubplugins.setup(c)`` when
            it runs: set them before it (the chart loads ``hub.config`` before
            ``hub.extraConfig``).
            """,
            example("HubLifecycle", "enabled", False),
        ),
    )
    service_name = Unicode(
        "hubplugins-lifecycle",
        config=True,
        help=trait_help(
            """
            Name of the JupyterHub service and of its role (``hubplugins-lifecycle``
            by default). Change it only when another service has that name. Read
            by ``hubplugins.setup(c)``.
            """,
            example("HubLifecycle", "service_name", "lifecycle"),
        ),
    )
    interval = Float(
        300,
        config=True,
        help=trait_help(
            """
            Seconds between two sweeps (300, five minutes, by default); a policy's
            idle times are acted on at most this late. Read by
            ``hubplugins.setup(c)``.
            """,
            example("HubLifecycle", "interval", 120),
        ),
    )
    dry_run = Bool(
        False,
        config=True,
        help=trait_help(
            """
            Only log and count (in the metrics) what the service would stop or
            delete; nothing is stopped or deleted. False (the default) means it
            acts. Useful to try a new policy's idle and retention times first.
            Read by ``hubplugins.setup(c)``.
            """,
            example("HubLifecycle", "dry_run", True),
        ),
    )
    concurrency = Integer(
        DEFAULT_CONCURRENCY,
        config=True,
        help=trait_help(
            """
            Hub API requests (stops and deletes) the service keeps in flight
            (default 4). Each stop holds the hub's loop for its database work: more
            in flight make a sweep little faster and the hub slower to answer
            everyone else (at 50,000 users, 4 kept GET /hub/api/ p99 near 150 ms,
            10 above 300 ms). Read by ``hubplugins.setup(c)``.
            """,
            example("HubLifecycle", "concurrency", 8),
        ),
    )
    notice_webhook = Unicode(
        "",
        config=True,
        help=trait_help(
            """
            URL that gets a JSON POST for each new retention notice (a tier's
            ``idle.delete_notice``), e.g. a small service that sends the owner an
            e-mail. Empty (the default) means no webhook: the log line and the
            metric still count each notice. Read by ``hubplugins.setup(c)``.
            """,
            example("HubLifecycle", "notice_webhook", "http://mailer.jhub.svc:8000/notices"),
        ),
    )
    retention_interval = Float(
        3600,
        config=True,
        help=trait_help(
            """
            Seconds between two reads of the users with no running server, for the
            stopped servers a policy's ``delete_after`` may delete (a read of every
            user: 100 pages of 500 rows at 50,000 users); default 3600, an hour.
            Users with a running server are read every sweep. 0 means every sweep.
            Read by ``hubplugins.setup(c)``.
            """,
            example("HubLifecycle", "retention_interval", 86400, comment="once a day"),
        ),
    )
    metrics_port = Integer(
        0,
        config=True,
        help=trait_help(
            """
            Port (on 127.0.0.1) where the service also serves its Prometheus
            metrics at ``/metrics``, unauthenticated; it becomes the service's
            url. 0 (the default) means no such server: the metrics are in the
            hub's ``/hub/metrics`` either way. Read by ``hubplugins.setup(c)``.
            """,
            example("HubLifecycle", "metrics_port", 9464),
        ),
    )
    hub_api_url = Unicode(
        "",
        config=True,
        help=trait_help(
            """
            The hub's REST API as the service reaches it. Empty (the default)
            means the hub's local address, read from ``JupyterHub.hub_bind_url``
            (else ``hub_ip`` and ``hub_port``) and ``base_url`` when
            ``hubplugins.setup(c)`` runs, as the chart gives its own culler (in
            the chart: ``http://127.0.0.1:8081/hub/api``, not the hub Service);
            with internal SSL or a unix socket, the ``JUPYTERHUB_API_URL``
            JupyterHub gives services.
            """,
            example("HubLifecycle", "hub_api_url", "http://127.0.0.1:8081/hub/api"),
        ),
    )


def _policy_source(c: Config) -> tuple[list[str], dict[str, str]]:
    section = c.get("HubPolicy") or {}
    policy_file = section.get("policy_file")
    if policy_file:
        return ["--policy-file", str(policy_file)], {}
    policy = section.get("policy") or {}
    return [], {POLICY_ENV: json.dumps(policy, default=str)}


def configure(
    c: Config,
    *,
    name: str = "hubplugins-lifecycle",
    interval: float = 300,
    dry_run: bool = False,
    concurrency: int = DEFAULT_CONCURRENCY,
    metrics_port: int = 0,
    hub_api_url: str = "",
    notice_webhook: str = "",
    extra_args: Sequence[str] = (),
    environment: Mapping[str, str] | None = None,
) -> None:
    """Add the lifecycle service to ``c.JupyterHub.services``, its role to ``load_roles``
    and the hub endpoints it acts and sends its metrics through to ``extra_handlers``
    (:mod:`hubplugins.lifecycle.endpoint`, :mod:`hubplugins.lifecycle.hub_metrics`).

    The service reaches the hub at ``hub_api_url``, by default the hub's local
    address (:func:`~hubplugins.lifecycle.hub_url.local_api_url` of ``c`` as
    set when this runs).

    The policy is ``c.HubPolicy.policy_file`` (passed as ``--policy-file``) or
    ``c.HubPolicy.policy`` (passed as JSON in ``$HUBPLUGINS_POLICY``) as set
    when this runs: set ``c.HubPolicy`` first. Calling it again replaces the
    entries of the same ``name``.
    """
    args, env = _policy_source(c)
    url = hub_api_url or local_api_url(dict(c.JupyterHub))
    command = [
        sys.executable,
        "-m",
        "hubplugins.lifecycle",
        "--interval",
        str(interval),
        "--concurrency",
        str(concurrency),
        # this process is the hub: a hub killed with SIGKILL cannot stop it
        f"--parent-pid={os.getpid()}",
        *(["--url", url] if url else []),
        *args,
        *(["--dry-run"] if dry_run else []),
        *(["--notice-webhook", notice_webhook] if notice_webhook else []),
        *extra_args,
    ]
    service: dict[str, Any] = {
        "name": name,
        "command": command,
        "environment": {**env, **(environment or {})},
    }
    if metrics_port:
        service["url"] = f"http://127.0.0.1:{metrics_port}"
    role = {"name": name, "scopes": [*LIFECYCLE_SCOPES, METRICS_SCOPE], "services": [name]}
    hub = c.JupyterHub
    services = [s for s in (hub.services if "services" in hub else []) if s.get("name") != name]
    roles = [r for r in (hub.load_roles if "load_roles" in hub else []) if r.get("name") != name]
    hub.services = [*services, service]
    hub.load_roles = [*roles, role]
    setup_endpoint(c)
    setup_metrics_endpoint(c)


def setup_lifecycle(c: Config) -> None:
    """The ``setup(c)`` step: wire the service as the ``HubLifecycle`` section says.

    Raises :class:`~hubplugins.policy.errors.PolicyConfigError` when the chart's idle
    culler is already among the hub's services (:mod:`.cullers`).
    """
    options = HubLifecycle(config=c)
    if not options.enabled:
        return
    issues = services_culler_issues(c.JupyterHub.services if "services" in c.JupyterHub else [])
    if issues:
        raise PolicyConfigError(issues, "the hub's services")
    configure(
        c,
        name=options.service_name,
        interval=options.interval,
        dry_run=options.dry_run,
        concurrency=options.concurrency,
        metrics_port=options.metrics_port,
        hub_api_url=options.hub_api_url,
        notice_webhook=options.notice_webhook,
        extra_args=["--retention-interval", str(options.retention_interval)],
    )
