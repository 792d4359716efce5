"""The fair GPU line: first come, first served, one place per server.

A tier with ``resources.gpu.queue.max_wait`` puts a start that finds the GPU
pool full in line instead of refusing it outright. A place is keyed by server
id (``"alice/nb1"``), so asking again (a page reload, a second POST) keeps
the place it already has. The line is served strictly in the order of asking
per GPU kind: a place is ready only when its GPUs are free and nobody asked
earlier for the same kind; a place that waited ``max_wait`` ends with a
message its user reads next.

A place whose start a namespace ``ResourceQuota`` refused (another hub holds
the GPUs, which this hub's pool does not see) is held back: it keeps its
place and is tried again after a back-off (:data:`RETRY_FIRST` seconds,
doubling up to :data:`RETRY_MOST`), at most one such try at a time across the
line, first in line first; a GPU freed by this hub ends the back-off.

Pure: the caller passes the time (``now``, seconds) and what is free; the
hub side (:mod:`hubplugins.spawner.gpu_line`) starts the servers.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Any

from hubplugins.policy.decision import Decision

__all__ = ["KEEP_ENDED", "QUEUE_RULE", "RETRY_FIRST", "RETRY_MOST", "GpuLine", "Place", "ordinal"]

QUEUE_RULE = "resources.gpu.queue"
KEEP_ENDED = 5
"""Messages of ended places kept per user: the latest."""
RETRY_FIRST = 2.0
"""Seconds before a place the namespace quota refused is tried again (the first time)."""
RETRY_MOST = 16.0
"""The longest back-off between two tries of a place the namespace quota refused."""


def ordinal(n: int) -> str:
    """``1`` -> ``1st``, ``2`` -> ``2nd``, ``11`` -> ``11th``, ``23`` -> ``23rd``."""
    suffix = "th" if 10 <= n % 100 <= 20 else {1: "st", 2: "nd", 3: "rd"}.get(n % 10, "th")
    return f"{n}{suffix}"


def _minutes(seconds: float) -> str:
    if seconds < 120:
        return f"{seconds:g} seconds"
    return f"{seconds / 60:g} minutes"


@dataclass
class Place:
    """One server waiting: what it asks for, with the options to start it with."""

    server_id: str
    user: str
    server: str
    demand: Mapping[str, int]
    options: Mapping[str, Any]
    asked: float
    deadline: float
    serving: bool = False
    """A start from the line is under way (the pump skips it)."""
    tries: int = 0
    """Starts of this place a namespace quota refused (0: none; it waits for the pool)."""
    retry_at: float = 0.0
    """When a place the quota refused may be tried again (seconds, like ``now``)."""

    @property
    def resource(self) -> str:
        return next(iter(self.demand), "")


@dataclass
class GpuLine:
    """The places in order of asking, and the last word of places that ended."""

    places: dict[str, Place] = field(default_factory=dict)
    ended: dict[str, str] = field(default_factory=dict)

    def join(
        self,
        server_id: str,
        demand: Mapping[str, int],
        options: Mapping[str, Any],
        now: float,
        max_wait: float,
    ) -> Place:
        """Take a place for ``server_id`` or keep the one it has (with the newer ask)."""
        self.ended.pop(server_id, None)
        user, _, server = server_id.partition("/")
        place = self.places.get(server_id)
        frozen = MappingProxyType({k: int(v) for k, v in demand.items() if v})
        if place is None:
            place = Place(server_id, user, server, frozen, dict(options), now, now + max_wait)
            self.places[server_id] = place
        else:
            place.demand, place.options, place.serving = frozen, dict(options), False
        return place

    def restore(self, place: Place) -> Place:
        """Put ``place`` back in the order of asking (after a hub restart, or a start
        the namespace quota refused after it had left the line); waiting again."""
        self.ended.pop(place.server_id, None)
        place.serving = False
        others = [p for p in self.places.values() if p.server_id != place.server_id]
        ordered = sorted([*others, place], key=lambda p: p.asked)
        self.places = {p.server_id: p for p in ordered}
        return place

    def hold_back(self, server_id: str, now: float) -> None:
        """The namespace quota refused the place's start: try again after a back-off."""
        place = self.places[server_id]
        place.tries += 1
        place.retry_at = now + min(RETRY_FIRST * 2 ** (place.tries - 1), RETRY_MOST)

    def retry_now(self) -> None:
        """GPUs freed here: places held back by the quota may be tried at once."""
        for place in self.places.values():
            place.retry_at = 0.0

    def room_for(
        self,
        server_id: str,
        demand: Mapping[str, int],
        quota: Callable[[str], int | None],
        max_places: int | None,
    ) -> bool:
        """Whether the user of ``server_id`` may wait for ``demand`` besides their other places.

        Together, one user's places ask for no more GPUs of a kind than their
        ``quota(kind)`` (None: no limit) and number at most ``max_places``
        (None: no limit), so nobody fills the line with new server names.
        """
        user = server_id.partition("/")[0]
        others = [p for p in self.places.values() if p.user == user and p.server_id != server_id]
        if max_places is not None and len(others) + 1 > max_places:
            return False
        for kind, n in demand.items():
            most = quota(kind)
            if most is not None and sum(p.demand.get(kind, 0) for p in others) + n > most:
                return False
        return True

    def waiting_ahead(self, server_id: str, kinds: Iterable[str]) -> list[Place]:
        """The places waiting for any of ``kinds`` that asked before ``server_id``
        (all of them when it has no place), but not those being started: a GPU
        that frees is theirs first, so a start that finds them waits or is refused
        even when a GPU is free for a moment."""
        own = self.places.get(server_id)
        if own is not None and own.serving:
            return []  # its GPUs are reserved: it is the one being served
        wanted = set(kinds)
        ahead = []
        for place in self.places.values():
            if place.server_id == server_id:
                break
            if not place.serving and place.resource in wanted:
                ahead.append(place)
        return ahead

    def position(self, server_id: str) -> int | None:
        """1-based place among those asking for the same GPU kind (None: not in line)."""
        place = self.places.get(server_id)
        if place is None:
            return None
        same = [p for p in self.places.values() if p.resource == place.resource]
        return same.index(place) + 1

    def leave(self, server_id: str, why: str | None = None) -> bool:
        """Leave the line; ``why``: the message the user reads next. False if not in line."""
        place = self.places.pop(server_id, None)
        if why is not None:
            self.ended.pop(server_id, None)
            self.ended[server_id] = why
            user = server_id.partition("/")[0]
            mine = [s for s in self.ended if s.partition("/")[0] == user]
            for old in mine[:-KEEP_ENDED]:  # asking under ever new names fills nothing
                del self.ended[old]
        return place is not None

    def expire(self, now: float) -> list[Place]:
        """End the places that waited their ``max_wait``; returns them."""
        gone = [p for p in self.places.values() if p.deadline <= now and not p.serving]
        for place in gone:
            self.leave(
                place.server_id,
                f"Gave up waiting for a GPU after {_minutes(place.deadline - place.asked)} "
                f"in line (resources.gpu.queue.max_wait): no {place.resource} GPU freed in "
                "time. Start the server again to take a new place.",
            )
        return gone

    def ready(self, free: Callable[[str], int | None], now: float = float("inf")) -> list[Place]:
        """The places to start now, in order: per kind, the first ones that fit.

        ``free(resource)`` is how many GPUs of that kind are free (None: no cap).
        A place does not overtake an earlier one of the same kind. A place the
        quota refused blocks its kind until ``now`` reaches its ``retry_at``, and
        then alone is tried, the only such try in the whole line this time (the
        pool's count does not see what the quota counts: no storm of creates).
        """
        left: dict[str, int | None] = {}
        blocked: set[str] = set()
        chosen = []
        retried = False
        for place in self.places.values():
            kind = place.resource
            if place.serving or kind in blocked:  # one being started holds its GPUs already
                continue
            if place.tries and (retried or place.retry_at > now):
                blocked.add(kind)
                continue
            if kind not in left:
                left[kind] = free(kind)
            room, wanted = left[kind], place.demand.get(kind, 0)
            if room is not None and wanted > room:
                blocked.add(kind)
                continue
            left[kind] = None if room is None else room - wanted
            chosen.append(place)
            if place.tries:
                retried = True
                blocked.add(kind)
        return chosen

    def queued(self, server_id: str, in_use: Any, size: Any) -> Decision:
        """The refusal a start in line answers with: where it stands, what is in use."""
        place = self.places[server_id]
        n = place.demand.get(place.resource, 0)
        gpus = "1 GPU" if n == 1 else f"{n} GPUs"
        position = self.position(server_id) or 0
        return Decision.refuse(
            QUEUE_RULE,
            f"queued: {ordinal(position)} in line for {gpus}; {in_use} of {size} in use "
            f"({place.resource}). The server starts by itself when a GPU frees; the place "
            f"is kept for at most {_minutes(place.deadline - place.asked)}. Leave the line "
            f"with DELETE /hub/api/hubplugins/gpu-queue/{place.user}/{place.server}.",
            status=409,
            limit=size,
            usage=in_use,
            position=position,
            resource=place.resource,
        )
