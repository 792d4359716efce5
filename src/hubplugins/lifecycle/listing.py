"""The hub's user list for the lifecycle service: a few SQL queries a page, by user id.

``GET /hub/api/hubplugins/lifecycle/users?after=<user id>&limit=<n>&running=<0|1>&stopped=<0|1>``

answers ``{"items": [user, ...], "next": <user id to read on after, or null>}``
in user id order, where each user has the fields a sweep plans with, as
JupyterHub's ``GET /hub/api/users`` gives them (``name``, ``groups``,
``last_activity``, ``servers`` with ``name``, ``last_activity``, ``started``,
``pending``, ``ready``, ``stopped``), plus ``id``:

- ``running=1``: only users with a running server (a server record);
- ``stopped=1``: stopped servers too (retention needs them), else running ones only.

JupyterHub's own list builds each user's model from the ORM, a few lazy
queries per user and server: at 50,000 users, a page of 200 held the hub's
loop for over a second. This answer is three queries a page (users, their
servers, their groups) read as rows, whatever the page size and however many
users there are before or after it, plus the
``pending`` and ``ready`` of servers the hub has in memory; it creates no
spawner and loads no user it does not already hold.

Reading on from the last user id a page showed can neither repeat nor miss a
user that exists from the first page to the last (ids never change, a rename
keeps it; users created meanwhile come at the end), unlike offsets, which
shift when users are added or removed before them.

It reads every user, so it needs ``list:users``, ``read:servers``,
``read:users:groups`` and ``read:users:activity`` unrestricted (the lifecycle
service's role has them): a token with any of them for some users only is
refused with 403 (``lifecycle.scopes``) rather than shown a filtered list a
sweep would take for the whole.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from datetime import UTC, datetime
from typing import Any

import sqlalchemy as sa

from hubplugins._lazy import lazy_classes
from hubplugins.policy.decision import Decision

__all__ = ["LISTING_PATH", "MAX_LIMIT", "NEEDED_SCOPES", "handlers", "read_page"]

LISTING_PATH = r"/api/hubplugins/lifecycle/users"
DEFAULT_LIMIT = 500
MAX_LIMIT = 2000
NEEDED_SCOPES = ("list:users", "read:servers", "read:users:groups", "read:users:activity")
_WHOLE = re.compile(r"-?[0-9]{1,18}")  # ASCII digits: int() also reads fullwidth ones, "1_0"


def _iso(value: datetime | None) -> str | None:
    """JupyterHub's form of a database time: naive UTC, ``...Z``."""
    if value is None:
        return None
    if value.tzinfo is not None:
        value = value.astimezone(UTC).replace(tzinfo=None)
    return value.isoformat() + "Z"


def _flag(value: str) -> bool | None:
    lowered = value.strip().lower()
    if lowered in ("1", "true", "yes"):
        return True
    if lowered in ("0", "false", "no", ""):
        return False
    return None


def parse_query(args: dict[str, str]) -> tuple[int, int, bool, bool] | Decision:
    """``after``, ``limit``, ``running``, ``stopped`` from the query, or the 400 that names one."""
    raw_after = args.get("after", "0") or "0"
    raw_limit = args.get("limit", "") or str(DEFAULT_LIMIT)
    if not all(_WHOLE.fullmatch(v) for v in (raw_after, raw_limit)):
        return Decision.refuse(
            "lifecycle.request",
            "after and limit are whole numbers (after: the last user id seen; "
            f"limit: 1 to {MAX_LIMIT}).",
            status=400,
        )
    after, limit = int(raw_after), int(raw_limit)
    if after < 0 or not 1 <= limit <= MAX_LIMIT:
        return Decision.refuse(
            "lifecycle.request",
            f"after is 0 or more and limit 1 to {MAX_LIMIT}; asked after={after}, limit={limit}.",
            status=400,
            limit=MAX_LIMIT,
            usage=limit,
        )
    running, stopped = _flag(args.get("running", "0")), _flag(args.get("stopped", "0"))
    if running is None or stopped is None:
        return Decision.refuse("lifecycle.request", "running and stopped are 0 or 1.", status=400)
    return after, limit, running, stopped


def _tables() -> tuple[sa.Table, sa.Table, sa.Table, sa.Table]:
    from jupyterhub import orm

    return (
        orm.User.__table__,
        orm.Spawner.__table__,
        orm.Group.__table__,
        orm.user_group_map,
    )


def read_page(
    db: Any, after: int, limit: int, *, running: bool, stopped: bool, live: Any = None
) -> tuple[list[dict[str, Any]], int | None]:
    """One page of user models after user id ``after``, and the id to read on after.

    ``live(user_id, server_name)`` gives the hub's spawner in memory, or None.
    """
    users, spawners, groups, members = _tables()
    # JupyterHub indexes no column of spawners: each query below reads that table
    # once (never once per user), and users and the group map by their keys
    if running:
        with_server = (
            sa.select(spawners.c.user_id)
            .where(spawners.c.server_id.is_not(None), spawners.c.user_id > after)
            .distinct()
            .order_by(spawners.c.user_id)
            .limit(limit)
        )
        wanted = [row.user_id for row in db.execute(with_server)]
        query = sa.select(users.c.id, users.c.name, users.c.last_activity).where(
            users.c.id.in_(wanted)
        )
        found = {row.id: row for row in db.execute(query)}
        rows = [found[uid] for uid in wanted if uid in found]  # not removed meanwhile
        following = wanted[-1] if len(wanted) == limit else None
    else:
        query = sa.select(users.c.id, users.c.name, users.c.last_activity).where(users.c.id > after)
        rows = db.execute(query.order_by(users.c.id).limit(limit)).all()
        following = rows[-1].id if len(rows) == limit else None
    if not rows:
        return [], following
    ids = [row.id for row in rows]
    servers: dict[int, dict[str, dict[str, Any]]] = {uid: {} for uid in ids}
    server_query = sa.select(
        spawners.c.user_id,
        spawners.c.name,
        spawners.c.last_activity,
        spawners.c.started,
        spawners.c.server_id,
    ).where(spawners.c.user_id.in_(ids))
    if not stopped:
        server_query = server_query.where(spawners.c.server_id.is_not(None))
    for row in db.execute(server_query):
        servers[row.user_id][row.name or ""] = _server_model(row, live)
    names: dict[int, list[str]] = {uid: [] for uid in ids}
    group_query = (
        sa.select(members.c.user_id, groups.c.name)
        .join(groups, groups.c.id == members.c.group_id)
        .where(members.c.user_id.in_(ids))
        .order_by(groups.c.name)
    )
    for row in db.execute(group_query):
        names[row.user_id].append(row.name)
    items = [
        {
            "kind": "user",
            "id": row.id,
            "name": row.name,
            "groups": names[row.id],
            "last_activity": _iso(row.last_activity),
            "servers": servers[row.id],
        }
        for row in rows
    ]
    return items, following


def _server_model(row: Any, live: Any) -> dict[str, Any]:
    name = row.name or ""
    spawner = live(row.user_id, name) if live is not None else None
    running = row.server_id is not None
    return {
        "name": name,
        "last_activity": _iso(row.last_activity),
        "started": _iso(row.started),
        "pending": spawner.pending if spawner is not None else None,
        "ready": bool(spawner.ready) if spawner is not None else False,
        "stopped": not (spawner.active if spawner is not None else running),
    }


def missing_scopes(parsed: Any, needed: Iterable[str] = NEEDED_SCOPES) -> list[str]:
    """The scopes of ``needed`` the token lacks or holds for some users only."""
    from jupyterhub.scopes import Scope

    return [s for s in needed if parsed.get(s) is not Scope.ALL]


def _handler_class() -> type:
    from jupyterhub.apihandlers.base import APIHandler
    from jupyterhub.scopes import needs_scope

    from hubplugins.hub.refusals import refuse

    class LifecycleListingHandler(APIHandler):
        """``GET``: a page of every user, as rows (see the module)."""

        def _refuse(self, decision: Decision) -> Exception:
            return refuse(self.log, "lifecycle-listing", decision)

        def _live(self, user_id: int, name: str) -> Any:
            user = dict.get(self.users, user_id)  # the hub's cache only: never loads a user
            return None if user is None else user.spawners.get(name)

        @needs_scope("list:users")
        async def get(self) -> None:
            lacking = missing_scopes(self.parsed_scopes)
            if lacking:
                decision = Decision.refuse(
                    "lifecycle.scopes",
                    "The lifecycle listing shows every user, so it needs "
                    + ", ".join(NEEDED_SCOPES)
                    + " on all users; this token lacks "
                    + ", ".join(lacking)
                    + " or holds it for some users only.",
                    status=403,
                )
                raise self._refuse(decision)
            args = {k: self.get_argument(k) for k in self.request.arguments}
            parsed = parse_query(args)
            if isinstance(parsed, Decision):
                raise self._refuse(parsed)
            after, limit, running, stopped = parsed
            items, following = read_page(
                self.db, after, limit, running=running, stopped=stopped, live=self._live
            )
            self.finish({"items": items, "next": following})

    return LifecycleListingHandler


# the handler classes, built on first use (see hubplugins._lazy)
__getattr__ = lazy_classes(__name__, _handler_class, "LifecycleListingHandler")


def handlers() -> list[tuple[str, Any]]:
    return [(LISTING_PATH, __getattr__("LifecycleListingHandler"))]
