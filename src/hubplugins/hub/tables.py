"""The package's own tables in the hub's database, created once per engine."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

import sqlalchemy as sa

_ready: set[tuple[int, str]] = set()


def ensure_tables(db: Any, tables: Iterable[sa.Table]) -> None:
    """Create ``tables`` in the hub's database (``db``, its session) unless they
    exist; each is looked up once per engine."""
    engine = db.get_bind()
    missing = [t for t in tables if (id(engine), t.name) not in _ready]
    if not missing:
        return
    conn = db.connection()
    for table in missing:
        try:
            table.create(conn, checkfirst=True)
        except sa.exc.SQLAlchemyError:
            # another hub process created it between the check and the create
            db.rollback()
            conn = db.connection()
            if not sa.inspect(conn).has_table(table.name):
                raise
    db.commit()
    _ready.update((id(engine), t.name) for t in missing)
