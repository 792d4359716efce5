"""``python -m hubplugins.lifecycle``: options, logging, metrics server, the sweep loop.

Run by the hub as a managed service (see :func:`hubplugins.lifecycle.configure`),
it gets ``JUPYTERHUB_API_URL`` and ``JUPYTERHUB_API_TOKEN`` from the hub and,
when the service has a ``url``, serves its metrics there
(``JUPYTERHUB_SERVICE_URL``). Every option also reads an environment variable.
"""

from __future__ import annotations

import argparse
import asyncio
import logging
import os
import signal
import sys
from urllib.parse import urlparse

from hubplugins.lifecycle.hubapi import HubAPI
from hubplugins.lifecycle.service import (
    DEFAULT_CONCURRENCY,
    POLICY_ENV,
    LifecycleService,
    PolicySource,
    log,
    serve_metrics,
)
from hubplugins.policy.errors import PolicyConfigError

__all__ = ["main", "parser"]


def _env_bool(name: str) -> bool:
    return os.environ.get(name, "").strip().lower() in {"1", "true", "yes", "on"}


def parser() -> argparse.ArgumentParser:
    env = os.environ.get
    p = argparse.ArgumentParser(
        prog="python -m hubplugins.lifecycle",
        description="Stop idle servers and delete idle named servers, by each owner's policy.",
    )
    p.add_argument(
        "--url",
        default=env("JUPYTERHUB_API_URL", ""),
        help="the hub's REST API, e.g. http://127.0.0.1:8081/hub/api "
        "(default: $JUPYTERHUB_API_URL); the token is $JUPYTERHUB_API_TOKEN",
    )
    p.add_argument(
        "--policy-file",
        default=env("HUBPLUGINS_POLICY_FILE", ""),
        help=f"YAML policy table, re-read when it changes (default: $HUBPLUGINS_POLICY_FILE; "
        f"else the JSON table in ${POLICY_ENV}; else the built-in defaults)",
    )
    p.add_argument(
        "--interval",
        type=float,
        default=float(env("HUBPLUGINS_LIFECYCLE_INTERVAL", "300")),
        help="seconds from the end of one sweep to the start of the next (default 300)",
    )
    p.add_argument(
        "--concurrency",
        type=int,
        default=int(env("HUBPLUGINS_LIFECYCLE_CONCURRENCY", str(DEFAULT_CONCURRENCY))),
        help=f"hub requests in flight at once (default {DEFAULT_CONCURRENCY})",
    )
    p.add_argument(
        "--page-size",
        type=int,
        default=int(env("HUBPLUGINS_LIFECYCLE_PAGE_SIZE", "500")),
        help="users per page of the hub's lifecycle listing, 1 to 2000 (default 500)",
    )
    p.add_argument(
        "--retention-interval",
        type=float,
        default=float(env("HUBPLUGINS_LIFECYCLE_RETENTION_INTERVAL", "3600")),
        help="seconds between two reads of the users with no running server, for the "
        "stopped servers a policy may delete (default 3600; 0: every sweep); the users "
        "with a running server are read every sweep",
    )
    p.add_argument(
        "--dry-run",
        action="store_true",
        default=_env_bool("HUBPLUGINS_LIFECYCLE_DRY_RUN"),
        help="only log and count what would be done",
    )
    p.add_argument("--once", action="store_true", help="run one sweep, then exit")
    p.add_argument(
        "--parent-pid",
        type=int,
        default=int(env("HUBPLUGINS_LIFECYCLE_PARENT_PID", "0")),
        help="stop once the process of this pid (the hub) is no longer this one's parent, "
        "checked every second and at once: a hub killed with SIGKILL leaves its managed "
        "services running (default 0: never; hubplugins.setup(c) passes the hub's pid)",
    )
    p.add_argument(
        "--metrics-port",
        type=int,
        default=None,
        help="serve Prometheus metrics at /metrics on this port (0 = a free one, logged); "
        "default: the port of $JUPYTERHUB_SERVICE_URL if set, else no metrics server",
    )
    p.add_argument(
        "--metrics-ip", default="127.0.0.1", help="address of the metrics server (127.0.0.1)"
    )
    p.add_argument(
        "--notice-webhook",
        default=env("HUBPLUGINS_LIFECYCLE_NOTICE_WEBHOOK", ""),
        help="URL that gets a JSON POST for each new retention notice (idle.delete_notice), "
        "e.g. to send an e-mail (default: none)",
    )
    p.add_argument("--log-level", default=env("HUBPLUGINS_LIFECYCLE_LOG_LEVEL", "INFO"))
    return p


async def _run(args: argparse.Namespace) -> int:
    token = os.environ.get("JUPYTERHUB_API_TOKEN", "")
    if not args.url or not token:
        log.error("hubplugins lifecycle: set --url (or $JUPYTERHUB_API_URL) and a token")
        return 2
    try:
        source = PolicySource.from_env(args.policy_file or None)
        source.table()
    except PolicyConfigError as exc:
        log.error("hubplugins lifecycle: invalid policy: %s", exc)
        return 2
    metrics_ip, metrics_port = args.metrics_ip, args.metrics_port
    service_url = os.environ.get("JUPYTERHUB_SERVICE_URL")
    parsed = urlparse(service_url or "")
    if metrics_port is None and parsed.port and not args.once:
        # the hub gave the service a url (HubLifecycle.metrics_port): serve there
        metrics_ip, metrics_port = parsed.hostname or metrics_ip, parsed.port
    server = None
    if metrics_port is not None:
        prefix = os.environ.get("JUPYTERHUB_SERVICE_PREFIX", "/")
        server, port = serve_metrics(metrics_ip, metrics_port, prefix)
        log.info("hubplugins lifecycle metrics at http://%s:%d/metrics", metrics_ip, port)
    api = HubAPI(args.url, token, concurrency=args.concurrency)
    service = LifecycleService(
        api,
        source,
        dry_run=args.dry_run,
        concurrency=args.concurrency,
        page_size=args.page_size,
        webhook=args.notice_webhook,
        retention_interval=args.retention_interval,
    )
    try:
        if args.once:
            result = await service.sweep()
            return 1 if result.actions("failed") else 0
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGTERM, signal.SIGINT):
            loop.add_signal_handler(sig, stop.set)
        watch = (
            asyncio.create_task(_watch_parent(stop, args.parent_pid)) if args.parent_pid else None
        )
        try:
            await service.run(args.interval, stop)
        finally:
            if watch is not None:
                watch.cancel()
        return 0
    finally:
        api.close()
        if server is not None:
            server.stop()


PARENT_CHECK_SECONDS = 1.0


async def _watch_parent(stop: asyncio.Event, parent: int) -> None:
    """Set ``stop`` once ``parent`` (the hub, which passed its own pid) is no longer this
    process's parent: gone, the process is handed to another (init or a subreaper). Also
    when it was gone before this process got this far."""
    while not stop.is_set():
        if os.getppid() != parent:
            log.warning(
                "hubplugins lifecycle: the hub that started it (pid %d) is gone; stopping",
                parent,
            )
            stop.set()
            return
        await asyncio.sleep(PARENT_CHECK_SECONDS)


def main(argv: list[str] | None = None) -> int:
    args = parser().parse_args(argv)
    logging.basicConfig(
        level=args.log_level.upper(),
        format="[%(levelname).1s %(asctime)s %(name)s] %(message)s",
        stream=sys.stderr,
    )
    return asyncio.run(_run(args))
