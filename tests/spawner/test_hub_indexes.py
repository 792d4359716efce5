"""Indexes on the hub database's lookup columns: made once the hub has started, once.

JupyterHub indexes no foreign key column, so every stop reads the whole
spawners table to clear the stopped server's row (see
:mod:`hubplugins.hub.indexes`). A hub wired with ``hubplugins.setup(c)`` has
the indexes after its start, on both series; a restart makes none twice;
``c.HubDatabase.indexes = False`` leaves the schema as JupyterHub made it; an
index an admin made on a column already serves.
"""

from __future__ import annotations

import asyncio
import sqlite3
import time
from pathlib import Path

import sqlalchemy as sa
from sqlalchemy.orm import Session

from hubplugins.hub.indexes import INDEXED, ensure_indexes, index_name

WIRED = """
import hubplugins
hubplugins.setup(c)
"""
OFF = WIRED + "c.HubDatabase.indexes = False\n"
OURS = sorted(index_name(t, c) for t, c in INDEXED)


def indexes(db: str) -> list[str]:
    with sqlite3.connect(db) as conn:
        rows = conn.execute("SELECT name FROM sqlite_master WHERE type = 'index'").fetchall()
    return sorted(name for (name,) in rows if name.startswith("hubplugins_ix_"))


async def until_indexed(db: str) -> list[str]:
    deadline = time.monotonic() + 30
    while True:
        found = indexes(db)
        if found == OURS or time.monotonic() > deadline:
            return found
        await asyncio.sleep(0.1)


async def test_indexes_once_the_hub_started(make_hub, jupyterhub_version) -> None:
    wired, off = await asyncio.gather(
        make_hub(WIRED, jupyterhub=jupyterhub_version),
        make_hub(OFF, jupyterhub=jupyterhub_version),
    )
    db = wired.db_path
    assert await until_indexed(db) == OURS
    await wired.restart()
    assert indexes(db) == OURS
    assert "created index" not in wired.log_text().rpartition("Running JupyterHub version")[2]
    assert indexes(off.db_path) == []
    assert "hubplugins_ix" not in off.log_text()


def test_an_index_on_the_column_already_serves(tmp_path: Path) -> None:
    path = tmp_path / "hub.sqlite"
    engine = sa.create_engine(f"sqlite:///{path}")
    from jupyterhub import orm

    orm.Base.metadata.create_all(engine)
    with engine.begin() as conn:
        conn.execute(sa.text("CREATE INDEX site_ix ON spawners (server_id, name)"))
    with Session(engine) as db:
        made = ensure_indexes(db)
        again = ensure_indexes(db)
    engine.dispose()
    assert index_name("spawners", "server_id") not in made
    assert sorted(made) == [n for n in OURS if n != index_name("spawners", "server_id")]
    assert again == []


def test_a_database_that_is_not_the_hubs_is_left_alone(tmp_path: Path) -> None:
    engine = sa.create_engine(f"sqlite:///{tmp_path / 'other.sqlite'}")
    with engine.begin() as conn:
        conn.execute(sa.text("CREATE TABLE spawners (id INTEGER PRIMARY KEY, server_id INTEGER)"))
    with Session(engine) as db:
        assert ensure_indexes(db) == []
    engine.dispose()
