"""The lifecycle service: sweeps of the hub's users, acting on idle servers.

One sweep lists the users with a running server, a page at a time, through
the hub's lifecycle listing (:mod:`~.listing`: rows by user id, a few queries a
page), and when a policy may delete, at most every ``retention_interval``
every other user for their stopped servers; it plans
every user as its page comes with :func:`~.sweep.plan_user` and runs
the actions through a fixed number of workers. Each action is a conditional
request (:meth:`~.hubapi.HubAPI.act`): the hub stops or deletes the server
only if it is still as listed, so a server its owner starts or uses meanwhile
is left alone (outcomes in :data:`SKIPS`). Each action gives one log line
``hubplugins {"event": "lifecycle", ...}`` and counts in the metrics.
"""

from __future__ import annotations

import asyncio
import json
import logging
import os
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from tornado import web
from tornado.httpserver import HTTPServer
from tornado.netutil import bind_sockets

from hubplugins.lifecycle import metrics
from hubplugins.lifecycle.hubapi import HubAPI, HubAPIError
from hubplugins.lifecycle.notify import send_notice
from hubplugins.policy.rules.idle import Action, Skip, needs_stopped_servers, plan_user
from hubplugins.policy.rules.notices import Notice, plan_notices
from hubplugins.policy.table import PolicyTable

__all__ = [
    "DEFAULT_CONCURRENCY",
    "POLICY_ENV",
    "LifecycleService",
    "PolicySource",
    "SweepResult",
    "serve_metrics",
]

POLICY_ENV = "HUBPLUGINS_POLICY"
# stops in flight: each holds the hub's loop for its database work, so more
# in flight make a sweep little faster and the hub slower to answer
# (benchmarks/scale.py, 50,000 users: 4 keeps GET /hub/api/ p99 near 150 ms)
DEFAULT_CONCURRENCY = 4

log = logging.getLogger("hubplugins.lifecycle")

SKIPS = {
    # the hub endpoint's refusal rule -> the outcome: the server was left alone because
    "lifecycle.gone": "gone",  # it was removed since the listing
    "lifecycle.started": "started",  # it is starting, or was started
    "lifecycle.busy": "busy",  # it is stopping or being renamed
    "lifecycle.stopped": "stopped",  # it stopped (a stop planned for it is moot)
    "lifecycle.activity": "active",  # it had activity since the listing
    "lifecycle.kept": "kept",  # its owner keeps it from retention
}
MISSING_ENDPOINT = (
    "a 404 without a rule: the hub may not serve the lifecycle endpoint; "
    "wire it with hubplugins.setup(c) or hubplugins.lifecycle.configure(c)"
)


class PolicySource:
    """The policy table from a YAML file (re-read when it changes) or a JSON text."""

    def __init__(self, *, path: str | None = None, text: str | None = None) -> None:
        if path is None and text is None:
            raise ValueError("give a policy file or a policy text")
        self.path = path
        self._text = text
        self._mtime: float | None = None
        self._table: PolicyTable | None = None

    @classmethod
    def from_env(cls, path: str | None = None) -> PolicySource:
        """``path`` if given, else the JSON in ``$HUBPLUGINS_POLICY`` (empty: built-in defaults)."""
        if path:
            return cls(path=path)
        return cls(text=os.environ.get(POLICY_ENV) or "{}")

    def table(self) -> PolicyTable:
        if self.path is None:
            if self._table is None:
                raw = json.loads(self._text or "{}")
                self._table = PolicyTable.from_dict(raw, source=POLICY_ENV)
            return self._table
        mtime = Path(self.path).stat().st_mtime
        if self._table is None or mtime != self._mtime:
            self._table = PolicyTable.from_file(self.path)
            self._mtime = mtime
        return self._table


@dataclass
class SweepResult:
    """What one sweep did: actions with their outcome, skips, and its cost."""

    done: list[tuple[Action, str]] = field(default_factory=list)
    skipped: list[Skip] = field(default_factory=list)
    notices: list[tuple[Notice, str]] = field(default_factory=list)
    users: int = 0
    pages: int = 0  # pages of the user list read
    # per pass: which users, pages, users planned, and the wall-clock times
    # (epoch seconds) its reading began and ended and its actions ended
    passes: list[dict[str, Any]] = field(default_factory=list)
    requests: int = 0
    seconds: float = 0.0

    def actions(self, outcome: str | None = None) -> list[Action]:
        return [a for a, o in self.done if outcome is None or o == outcome]

    @property
    def noticed(self) -> int:
        """Retention notices recorded by this sweep."""
        return sum(1 for _, outcome in self.notices if outcome == "noticed")

    def summary(self) -> dict[str, Any]:
        counts: dict[str, int] = {}
        for action, outcome in self.done:
            key = f"{action.action}_{outcome}"
            counts[key] = counts.get(key, 0) + 1
        return {
            "users": self.users,
            "pages": self.pages,
            "skipped": len(self.skipped),
            "requests": self.requests,
            "seconds": round(self.seconds, 3),
            **counts,
            **({"notices": self.noticed} if self.notices else {}),
            "passes": self.passes,
        }


def _emit(payload: dict[str, Any], level: int = logging.INFO) -> None:
    log.log(level, "hubplugins %s", json.dumps(payload, default=str, sort_keys=True))


class LifecycleService:
    """Sweeps one hub; ``await service.sweep()`` once or ``await service.run(interval)``."""

    def __init__(
        self,
        api: HubAPI,
        policy: PolicySource,
        *,
        dry_run: bool = False,
        concurrency: int = DEFAULT_CONCURRENCY,
        page_size: int = 500,
        retention_interval: float = 3600,
        clock: Callable[[], datetime] = lambda: datetime.now(UTC),
        webhook: str = "",
    ) -> None:
        self.api = api
        self.policy = policy
        self.dry_run = dry_run
        self.concurrency = max(1, concurrency)
        self.page_size = page_size
        self.retention_interval = max(0.0, retention_interval)
        self.clock = clock
        self.webhook = webhook  # URL that gets each new retention notice as JSON ("": none)
        self._last_retention: float | None = None  # time.monotonic() of the last full pass

    def _retention_due(self, table: PolicyTable) -> bool:
        if not needs_stopped_servers(table):
            return False
        last = self._last_retention
        return last is None or time.monotonic() - last >= self.retention_interval

    async def sweep(self) -> SweepResult:
        """One sweep: the users with a running server, then (when due) every other user.

        The first pass lists the users with a running server only; when a
        policy may delete, their stopped servers come with them, and at most
        every ``retention_interval`` seconds a second pass lists every user
        and plans those the first pass did not, for their stopped servers.
        """
        started = time.monotonic()
        requests_before = self.api.requests
        table = self.policy.table()
        self.api.forget_addresses()
        stopped_too = needs_stopped_servers(table)
        passes: list[str | None] = ["active"]
        if self._retention_due(table):
            passes.append(None)  # every user
            self._last_retention = started
        result = SweepResult()
        seen: set[int] = set()  # user ids: a name can change or pass to someone else
        for state in passes:
            await self._pass(table, state, stopped_too, result, seen)
        result.seconds = time.monotonic() - started
        result.requests = self.api.requests - requests_before
        metrics.SWEEP_SECONDS.observe(result.seconds)
        _emit({"event": "lifecycle-sweep", "dry_run": self.dry_run, **result.summary()})
        return result

    async def _pass(
        self,
        table: PolicyTable,
        state: str | None,
        stopped_too: bool,
        result: SweepResult,
        seen: set[int],
    ) -> None:
        """List the users of ``state`` whose ids were not ``seen`` in a pass before, then act
        on their plans."""
        pages_before = self.api.pages_read
        users_before = result.users
        read_from = time.time()
        now = self.clock()
        queue: asyncio.Queue[Action] = asyncio.Queue()
        notices: list[Notice] = []
        # each page is planned as it comes and dropped: only the actions are kept;
        # none runs before the last page is read, so no stop moves the list being read
        pages = self.api.listing(
            running=state == "active", stopped=stopped_too, page_size=self.page_size
        )
        async for page in pages:
            page = [u for u in page if u["id"] not in seen]
            seen.update(u["id"] for u in page)
            result.users += len(page)
            for user in page:
                notices.extend(plan_notices(table, user, now))
                plan = plan_user(table, user, now)
                for skip in plan.skipped:
                    metrics.SKIPPED.labels(reason=skip.reason).inc()
                result.skipped.extend(plan.skipped)
                for action in plan.actions:
                    queue.put_nowait(action)
        pages_read = self.api.pages_read - pages_before
        result.pages += pages_read
        read_to = time.time()
        workers = [
            asyncio.create_task(self._worker(queue, result))
            for _ in range(min(self.concurrency, queue.qsize()))
        ]
        await asyncio.gather(*workers)
        await self._notify(notices, result)
        result.passes.append(
            {
                "users": "with a running server" if state == "active" else "all",
                "pages": pages_read,
                "planned": result.users - users_before,
                "read_from": round(read_from, 3),
                "read_to": round(read_to, 3),
                "acted_to": round(time.time(), 3),
            }
        )

    async def _worker(self, queue: asyncio.Queue[Action], result: SweepResult) -> None:
        while not queue.empty():
            action = queue.get_nowait()
            outcome = await self._act(action)
            result.done.append((action, outcome))

    async def _act(self, action: Action) -> str:
        dry = "true" if self.dry_run else "false"
        fields = {"event": "lifecycle", "dry_run": self.dry_run, **action.log_fields()}
        if self.dry_run:
            outcome = "planned"
        else:
            try:
                status = await self.api.act(
                    action.user, action.server, action.action, action.last_activity, action.running
                )
                outcome = "pending" if status == 202 else "done"
            except HubAPIError as exc:
                skip = SKIPS.get(exc.rule)
                if skip is not None:  # the server changed since the listing: left alone
                    metrics.SKIPPED.labels(reason=skip).inc()
                    _emit({**fields, "outcome": skip, "message": exc.message})
                    return skip
                error = str(exc)
                if exc.status == 404:
                    error += f" ({MISSING_ENDPOINT})"
                metrics.FAILED.labels(action=action.action).inc()
                _emit({**fields, "outcome": "failed", "error": error}, logging.ERROR)
                return "failed"
            except Exception as exc:  # a connection error must not end the sweep
                metrics.FAILED.labels(action=action.action).inc()
                _emit({**fields, "outcome": "failed", "error": repr(exc)}, logging.ERROR)
                return "failed"
        counter = metrics.DELETED if action.action == "delete" else metrics.STOPPED
        counter.labels(dry_run=dry).inc()
        _emit({**fields, "outcome": outcome})
        return outcome

    async def send_metrics(self) -> None:
        """Give the hub the metrics so far, for ``/hub/metrics``; a failure is logged."""
        try:
            await self.api.send_metrics(metrics.exposition().decode())
        except Exception as exc:
            log.warning("hubplugins lifecycle metrics not sent to the hub: %s", exc)

    async def _notify(self, notices: list[Notice], result: SweepResult) -> None:
        limit = asyncio.Semaphore(self.concurrency)

        async def one(notice: Notice) -> None:
            async with limit:
                outcome = await send_notice(
                    self.api, notice, webhook=self.webhook, dry_run=self.dry_run
                )
            result.notices.append((notice, outcome))

        await asyncio.gather(*(one(n) for n in notices))

    async def run(self, interval: float, stop: asyncio.Event | None = None) -> None:
        """Sweep every ``interval`` seconds until ``stop`` is set, giving the hub the
        metrics after each (:meth:`send_metrics`); a failed sweep is logged."""
        stop = stop or asyncio.Event()
        while not stop.is_set():
            try:
                await self.sweep()
            except Exception:
                log.exception("hubplugins lifecycle sweep failed")
            await self.send_metrics()
            try:
                await asyncio.wait_for(stop.wait(), interval)
            except TimeoutError:
                pass


class _MetricsHandler(web.RequestHandler):
    def get(self, *args: str) -> None:
        self.set_header("Content-Type", "text/plain; version=0.0.4; charset=utf-8")
        self.write(metrics.exposition())


def serve_metrics(ip: str, port: int, prefix: str = "/") -> tuple[HTTPServer, int]:
    """Serve ``/metrics`` (and ``{prefix}metrics``) on ``ip:port`` (0 = a free port)."""
    prefix = "/" + prefix.strip("/") + "/" if prefix.strip("/") else "/"
    routes: list[Any] = [(r"/metrics", _MetricsHandler)]
    if prefix != "/":
        routes.append((rf"{prefix}metrics", _MetricsHandler))
    app = web.Application(routes)
    sockets = bind_sockets(port, ip)
    server = HTTPServer(app)
    server.add_sockets(sockets)
    return server, int(sockets[0].getsockname()[1])
