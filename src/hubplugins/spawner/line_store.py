"""The GPU line's places in the hub's own database, so that a restarted hub keeps them.

One table, created on first use: ``hubplugins_gpu_line``, one row per server
in line (or whose place ended, with the message its owner reads next), keyed
by the pool and the server (``user``/``server``, the line's server id) and
holding the owner's ``users.id`` (``ON DELETE CASCADE``: a deleted account
takes its places along, and an account made later under the same name never
inherits one; a renamed one is told apart by its name), the GPUs asked for,
the options the start asked with, when it asked and its deadline, and the
back-off of a place the namespace quota refused.

Every change of the line writes one row (a join, a leave, an end) through the
hub's session. A database error is logged and the line goes on in memory: it
is never a failed request, only a place a restart would not find.
"""

from __future__ import annotations

import json
import logging
import time
from dataclasses import dataclass
from typing import Any

import sqlalchemy as sa

from hubplugins.hub import tables as hub_tables
from hubplugins.policy.rules.gpu_queue import KEEP_ENDED, Place

__all__ = ["Row", "drop", "load", "save"]

log = logging.getLogger("JupyterHub")  # the hub's own log, as its messages are

_meta = sa.MetaData()
# a stand-in of JupyterHub's table, only so that the foreign key compiles
_users = sa.Table("users", _meta, sa.Column("id", sa.Integer, primary_key=True))

LINE = sa.Table(
    "hubplugins_gpu_line",
    _meta,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("pool", sa.Unicode(64), nullable=False),
    sa.Column("user_id", sa.Integer, sa.ForeignKey("users.id", ondelete="CASCADE"), nullable=False),
    sa.Column("user", sa.Unicode(255), nullable=False),
    sa.Column("server", sa.Unicode(255), nullable=False),
    sa.Column("demand", sa.UnicodeText, nullable=False),  # JSON {resource: count}
    sa.Column("options", sa.UnicodeText, nullable=False),  # JSON: the start's user_options
    sa.Column("asked", sa.Float, nullable=False),
    sa.Column("deadline", sa.Float, nullable=False),
    # tries the namespace quota refused, and when the next may be (see gpu_queue)
    sa.Column("tries", sa.Integer, nullable=False, default=0),
    sa.Column("retry_at", sa.Float, nullable=False, default=0.0),
    sa.Column("ended", sa.UnicodeText, nullable=True),  # the last word; NULL: waiting
    sa.Column("ended_at", sa.Float, nullable=True),
    sa.Index("ix_hubplugins_gpu_line_server", "user", "server"),
)


@dataclass(frozen=True)
class Row:
    """A stored place (``ended`` None) or the message of one that ended."""

    pool: str
    user_id: int
    place: Place
    ended: str | None


def _write(db: Any, *statements: Any) -> bool:
    try:
        hub_tables.ensure_tables(db, (LINE,))
        for statement in statements:
            db.execute(statement)
        db.commit()
    except sa.exc.SQLAlchemyError as error:
        db.rollback()
        log.warning("hubplugins: the GPU line was not saved (kept in memory): %s", error)
        return False
    return True


def _where(pool: str, user: str, server: str) -> Any:
    return (LINE.c.pool == pool) & (LINE.c.user == user) & (LINE.c.server == server)


def save(db: Any, pool: str, user_id: int, place: Place, ended: str | None = None) -> bool:
    """Store the place of a server (its only row), waiting or ended with ``ended``."""
    try:
        options = json.dumps(dict(place.options), default=str)
    except (TypeError, ValueError):
        options = "{}"
    return _write(
        db,
        LINE.delete().where(_where(pool, place.user, place.server)),
        LINE.insert().values(
            pool=pool,
            user_id=user_id,
            user=place.user,
            server=place.server,
            demand=json.dumps(dict(place.demand)),
            options=options,
            asked=place.asked,
            deadline=place.deadline,
            tries=place.tries,
            retry_at=place.retry_at,
            ended=ended,
            ended_at=time.time() if ended is not None else None,
        ),
    )


def end(db: Any, pool: str, server_id: str, message: str) -> bool:
    """The place of ``server_id`` ended with ``message`` (its owner reads it next);
    only the user's latest :data:`~hubplugins.policy.rules.gpu_queue.KEEP_ENDED` messages stay."""
    user, _, server = server_id.partition("/")
    old = (
        sa.select(LINE.c.id)
        .where((LINE.c.pool == pool) & (LINE.c.user == user) & LINE.c.ended.is_not(None))
        .order_by(LINE.c.ended_at.desc(), LINE.c.id.desc())
        .offset(KEEP_ENDED)
    )
    return _write(
        db,
        LINE.update().where(_where(pool, user, server)).values(ended=message, ended_at=time.time()),
        LINE.delete().where(LINE.c.id.in_(old.scalar_subquery())),
    )


def drop(db: Any, pool: str, server_id: str) -> bool:
    """Forget the place of ``server_id`` and its message."""
    user, _, server = server_id.partition("/")
    return _write(db, LINE.delete().where(_where(pool, user, server)))


def load(db: Any) -> list[Row]:
    """Every stored row, in the order of asking (empty if none can be read)."""
    try:
        hub_tables.ensure_tables(db, (LINE,))
        rows = db.execute(sa.select(LINE).order_by(LINE.c.asked, LINE.c.id)).all()
        db.commit()
    except sa.exc.SQLAlchemyError as error:
        db.rollback()
        log.warning("hubplugins: the saved GPU line could not be read: %s", error)
        return []
    found = []
    for r in rows:
        try:
            demand = {str(k): int(v) for k, v in json.loads(r.demand).items() if int(v)}
            options = json.loads(r.options)
        except (TypeError, ValueError, AttributeError):
            continue
        if not isinstance(options, dict):
            options = {}
        place = Place(
            f"{r.user}/{r.server}",
            r.user,
            r.server,
            demand,
            options,
            r.asked,
            r.deadline,
            tries=int(r.tries or 0),
            retry_at=float(r.retry_at or 0.0),
        )
        found.append(Row(r.pool, r.user_id, place, r.ended))
    return found
