"""The object store: one global resourceVersion counter, bounded history, live watchers.

Stored objects are snapshots: never mutated after they are stored. Updating means
storing a changed copy, so the history and the watch lines can share them.
"""

from __future__ import annotations

import asyncio
import bisect
import json
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from .errors import ApiError
from .selectors import Matcher

Key = tuple[str, str]  # (namespace, name); namespace "" for cluster-scoped kinds


def now_rfc3339() -> str:
    return datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


@dataclass(slots=True)
class Change:
    rv: int
    type: str
    obj: dict[str, Any]
    _line: bytes | None = None

    @property
    def line(self) -> bytes:
        """The watch line, serialized once however many watchers read it."""
        if self._line is None:
            self._line = json.dumps({"type": self.type, "object": self.obj}).encode() + b"\n"
        return self._line


@dataclass(eq=False)
class Watcher:
    resource: str
    namespace: str | None
    matcher: Matcher
    pending: list[bytes] = field(default_factory=list)
    wakeup: asyncio.Event = field(default_factory=asyncio.Event)
    closed: bool = False

    def push(self, line: bytes) -> None:
        self.pending.append(line)
        self.wakeup.set()

    def close(self) -> None:
        self.closed = True
        self.wakeup.set()

    async def next_batch(self, timeout: float) -> list[bytes]:
        """Wait up to ``timeout`` seconds for lines; [] on timeout or close."""
        if not self.pending and not self.closed:
            try:
                await asyncio.wait_for(self.wakeup.wait(), max(timeout, 0))
            except TimeoutError:
                return []
        self.wakeup.clear()
        lines, self.pending = self.pending, []
        return lines


class Store:
    """Objects by resource and (namespace, name), with history for watches."""

    def __init__(self, history_size: int = 2000) -> None:
        self.history_size = history_size
        self.rv = 0
        self.objects: dict[str, dict[Key, dict[str, Any]]] = {}
        self._history: dict[str, list[Change]] = {}
        self._compacted: dict[str, int] = {}
        self._watchers: dict[str, set[Watcher]] = {}
        # called with (resource, object) after every change, e.g. to keep quota status
        self.listeners: list[Callable[[str, dict[str, Any]], None]] = []

    # reading

    def get(self, resource: str, namespace: str, name: str) -> dict[str, Any] | None:
        return self.objects.get(resource, {}).get((namespace, name))

    def iter(self, resource: str, namespace: str | None = None) -> Iterator[dict[str, Any]]:
        for (ns, _), obj in self.objects.get(resource, {}).items():
            if namespace is None or ns == namespace:
                yield obj

    # writing

    def _record(self, resource: str, type_: str, obj: dict[str, Any]) -> None:
        change = Change(self.rv, type_, obj)
        history = self._history.setdefault(resource, [])
        history.append(change)
        if len(history) > 2 * self.history_size:
            cut = len(history) - self.history_size
            self._compacted[resource] = history[cut - 1].rv
            del history[:cut]
        namespace = obj["metadata"].get("namespace", "")
        for watcher in self._watchers.get(resource, ()):
            if watcher.namespace not in (None, namespace):
                continue
            if watcher.matcher(obj):
                watcher.push(change.line)
        for listener in self.listeners:
            listener(resource, obj)

    def _bump(self, obj: dict[str, Any]) -> None:
        self.rv += 1
        obj["metadata"]["resourceVersion"] = str(self.rv)

    def add(self, resource: str, obj: dict[str, Any]) -> dict[str, Any]:
        """Store a new object (already validated); fills uid, creationTimestamp, rv."""
        meta = obj["metadata"]
        key = (meta.get("namespace", ""), meta["name"])
        meta["uid"] = str(uuid.uuid4())
        meta["creationTimestamp"] = now_rfc3339()
        meta.pop("deletionTimestamp", None)
        self._bump(obj)
        self.objects.setdefault(resource, {})[key] = obj
        self._record(resource, "ADDED", obj)
        return obj

    def update(self, resource: str, obj: dict[str, Any]) -> dict[str, Any]:
        """Store a changed copy of an existing object; bumps its resourceVersion."""
        meta = obj["metadata"]
        key = (meta.get("namespace", ""), meta["name"])
        if key not in self.objects.get(resource, {}):
            raise ApiError(404, f'{resource} "{meta["name"]}" not found')
        self._bump(obj)
        self.objects[resource][key] = obj
        self._record(resource, "MODIFIED", obj)
        return obj

    def remove(self, resource: str, namespace: str, name: str) -> dict[str, Any] | None:
        old = self.objects.get(resource, {}).pop((namespace, name), None)
        if old is None:
            return None
        gone = {**old, "metadata": dict(old["metadata"])}
        self._bump(gone)
        self._record(resource, "DELETED", gone)
        return gone

    # watching

    def watch(
        self, resource: str, namespace: str | None, matcher: Matcher, since: str | None
    ) -> Watcher:
        """A watcher primed with the changes after ``since`` (all objects if unset or "0").

        Raises a 410 ``Expired`` ApiError if ``since`` is older than the kept history.
        """
        watcher = Watcher(resource, namespace, matcher)
        if not since or since == "0":
            for obj in self.iter(resource, namespace):
                if matcher(obj):
                    watcher.push(Change(0, "ADDED", obj).line)
        else:
            try:
                rv = int(since)
            except ValueError as e:
                raise ApiError(400, f"invalid resource version: {since!r}") from e
            if rv < self._compacted.get(resource, 0):
                raise ApiError(410, f"too old resource version: {rv} ({self.rv})", reason="Expired")
            history = self._history.get(resource, [])
            start = bisect.bisect_right(history, rv, key=lambda c: c.rv)
            for change in history[start:]:
                ns = change.obj["metadata"].get("namespace", "")
                if namespace in (None, ns) and matcher(change.obj):
                    watcher.push(change.line)
        self._watchers.setdefault(resource, set()).add(watcher)
        return watcher

    def unwatch(self, watcher: Watcher) -> None:
        self._watchers.get(watcher.resource, set()).discard(watcher)

    def close_watchers(self) -> None:
        for watchers in self._watchers.values():
            for watcher in watchers:
                watcher.close()
