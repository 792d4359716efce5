"""What the lifecycle service told a server's owner, in the hub's own database.

Two tables, created on first use (``CREATE TABLE IF NOT EXISTS`` semantics):

- ``hubplugins_server_marks``, one row per server (``spawners.id``, ``ON
  DELETE CASCADE``: a deleted server takes its marks along, and a new server
  of the same name never inherits them): ``kept`` (the owner keeps it; retention
  never deletes it), the retention notice (the ``last_activity`` it was given
  for, so that it holds for one idle period and any start voids it; when; and
  the deletion time it announced) and the lifecycle's last stop (rule, group,
  limit, and the ``last_activity`` the stop left, so a later start voids it).
- ``hubplugins_deletions``: servers the lifecycle service deleted, by user
  (``users.id``, ``ON DELETE CASCADE``), with the rule and the group, for the
  page the owner sees next.
"""

from __future__ import annotations

import time
from datetime import UTC, datetime
from typing import Any

import sqlalchemy as sa

from hubplugins.hub import tables as hub_tables
from hubplugins.policy.usage_report import LifecycleNote, iso

__all__ = [
    "activity_key",
    "deletions",
    "mark_of",
    "record_deletion",
    "record_notice",
    "record_stop",
    "set_kept",
]

_meta = sa.MetaData()
# stand-ins of JupyterHub's tables, only so that the foreign keys compile
_users = sa.Table("users", _meta, sa.Column("id", sa.Integer, primary_key=True))
_spawners = sa.Table("spawners", _meta, sa.Column("id", sa.Integer, primary_key=True))

MARKS = sa.Table(
    "hubplugins_server_marks",
    _meta,
    sa.Column(
        "spawner_id", sa.Integer, sa.ForeignKey("spawners.id", ondelete="CASCADE"), primary_key=True
    ),
    sa.Column("kept", sa.Boolean, nullable=False, default=False),
    sa.Column("notice_activity", sa.Unicode(40), nullable=True),
    sa.Column("noticed_at", sa.Float, nullable=True),
    sa.Column("notice_delete_at", sa.Unicode(40), nullable=True),
    sa.Column("stop_activity", sa.Unicode(40), nullable=True),
    sa.Column("stop_rule", sa.Unicode(64), nullable=True),
    sa.Column("stop_group", sa.Unicode(255), nullable=True),
    sa.Column("stop_limit", sa.Float, nullable=True),
    sa.Column("stopped_at", sa.Float, nullable=True),
)

DELETIONS = sa.Table(
    "hubplugins_deletions",
    _meta,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("user_id", sa.Integer, sa.ForeignKey("users.id", ondelete="CASCADE"), nullable=False),
    sa.Column("server", sa.Unicode(255), nullable=False),
    sa.Column("rule", sa.Unicode(64), nullable=False),
    sa.Column("group", sa.Unicode(255), nullable=False),
    sa.Column("limit", sa.Float, nullable=False),
    sa.Column("at", sa.Float, nullable=False),
)

KEEP_DELETIONS = 5
"""Deletions shown per user: the latest."""


def _ensure(db: Any) -> None:
    hub_tables.ensure_tables(db, (MARKS, DELETIONS))


def activity_key(orm_spawner: Any) -> str | None:
    """The server's ``last_activity`` as the hub API shows it: the key of one idle period."""
    value = orm_spawner.last_activity
    if value is None:
        return None
    aware = value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)
    return iso(aware)


def mark_of(db: Any, spawner_id: int) -> dict[str, Any]:
    """The server's marks as a dict (empty when it has none)."""
    _ensure(db)
    row = db.execute(sa.select(MARKS).where(MARKS.c.spawner_id == spawner_id)).first()
    return dict(row._mapping) if row is not None else {}


def _upsert(db: Any, spawner_id: int, **values: Any) -> None:
    _ensure(db)
    updated = db.execute(MARKS.update().where(MARKS.c.spawner_id == spawner_id).values(**values))
    if not updated.rowcount:
        try:
            db.execute(MARKS.insert().values(**{"spawner_id": spawner_id, "kept": False, **values}))
        except sa.exc.IntegrityError:  # made meanwhile by another request
            db.rollback()
            db.execute(MARKS.update().where(MARKS.c.spawner_id == spawner_id).values(**values))
    db.commit()


def set_kept(db: Any, spawner_id: int, kept: bool) -> None:
    _upsert(db, spawner_id, kept=kept)


def record_notice(db: Any, orm_spawner: Any, delete_at: str) -> bool:
    """Record the notice for the server's current idle period; False if it already has it."""
    key = activity_key(orm_spawner)
    mark = mark_of(db, orm_spawner.id)
    if mark.get("noticed_at") is not None and mark.get("notice_activity") == key:
        return False
    _upsert(
        db,
        orm_spawner.id,
        notice_activity=key,
        noticed_at=time.time(),
        notice_delete_at=delete_at[:40],
    )
    return True


def record_stop(db: Any, orm_spawner: Any, rule: str, group: str, limit: float) -> None:
    """The lifecycle stopped the server (call once stopped: the key is the stop's activity)."""
    _upsert(
        db,
        orm_spawner.id,
        stop_activity=activity_key(orm_spawner),
        stop_rule=rule,
        stop_group=group[:255],
        stop_limit=limit,
        stopped_at=time.time(),
    )


def record_deletion(
    db: Any, user_id: int, server: str, rule: str, group: str, limit: float
) -> None:
    _ensure(db)
    db.execute(
        DELETIONS.insert().values(
            user_id=user_id,
            server=server,
            rule=rule,
            group=group[:255],
            limit=limit,
            at=time.time(),
        )
    )
    old = (
        sa.select(DELETIONS.c.id)
        .where(DELETIONS.c.user_id == user_id)
        .order_by(DELETIONS.c.at.desc())
        .offset(KEEP_DELETIONS)
    )
    db.execute(DELETIONS.delete().where(DELETIONS.c.id.in_(old.scalar_subquery())))
    db.commit()


def _time(seconds: float) -> datetime:
    return datetime.fromtimestamp(seconds, UTC)


def deletions(db: Any, user_id: int) -> list[LifecycleNote]:
    """The latest servers of the user the lifecycle deleted, newest first."""
    _ensure(db)
    rows = db.execute(
        sa.select(DELETIONS)
        .where(DELETIONS.c.user_id == user_id)
        .order_by(DELETIONS.c.at.desc())
        .limit(KEEP_DELETIONS)
    ).all()
    return [
        LifecycleNote("delete", r.rule, r.group, r.limit, _time(r.at), server=r.server)
        for r in rows
    ]


def notes_of(mark: dict[str, Any], orm_spawner: Any) -> dict[str, Any]:
    """The marks that hold now, as :class:`~hubplugins.policy.usage_report.ServerFacts` fields."""
    key = activity_key(orm_spawner)
    facts: dict[str, Any] = {"kept": bool(mark.get("kept"))}
    if mark.get("noticed_at") is not None and mark.get("notice_activity") == key:
        facts["noticed_at"] = _time(mark["noticed_at"])
        delete_at = mark.get("notice_delete_at")
        if delete_at:
            facts["notice_delete_at"] = datetime.fromisoformat(delete_at)
    if mark.get("stop_rule") and mark.get("stop_activity") == key:
        facts["last_action"] = LifecycleNote(
            "stop",
            mark["stop_rule"],
            mark["stop_group"] or "defaults",
            float(mark["stop_limit"] or 0),
            _time(mark["stopped_at"]),
            server=orm_spawner.name,
        )
    return facts
