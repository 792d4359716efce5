"""The GPU line's rows in a database: kept in the order of asking, one per server,
and a database that fails is logged, never raised (the line goes on in memory)."""

from __future__ import annotations

import logging

import pytest
import sqlalchemy as sa
from sqlalchemy.orm import Session

from hubplugins.policy.rules.gpu_queue import Place
from hubplugins.spawner import line_store

GPU = "nvidia.com/gpu"


def _place(server_id: str, asked: float) -> Place:
    user, _, server = server_id.partition("/")
    return Place(server_id, user, server, {GPU: 1}, {"gpu": 1}, asked, asked + 60)


@pytest.fixture
def db() -> Session:
    engine = sa.create_engine("sqlite://")
    with engine.begin() as conn:
        conn.execute(sa.text("CREATE TABLE users (id INTEGER PRIMARY KEY)"))
        conn.execute(sa.text("INSERT INTO users (id) VALUES (1), (2)"))
    return Session(engine)


def test_rows_come_back_in_the_order_of_asking_one_per_server(db) -> None:
    line_store.save(db, "default", 2, _place("bob/", 5.0))
    line_store.save(db, "default", 1, _place("alice/nb", 3.0))
    held = _place("bob/", 5.0)
    held.tries, held.retry_at = 2, 77.0
    line_store.save(db, "default", 2, held)  # asking again: still one row
    line_store.save(db, "default", 1, _place("alice/x", 9.0))
    line_store.end(db, "default", "alice/x", "Gave up waiting")
    rows = line_store.load(db)
    assert [(r.place.server_id, r.user_id, r.ended) for r in rows] == [
        ("alice/nb", 1, None),
        ("bob/", 2, None),
        ("alice/x", 1, "Gave up waiting"),
    ]
    assert rows[0].place.options == {"gpu": 1} and dict(rows[0].place.demand) == {GPU: 1}
    assert (rows[1].place.tries, rows[1].place.retry_at) == (2, 77.0)
    line_store.drop(db, "default", "bob/")
    assert [r.place.server_id for r in line_store.load(db)] == ["alice/nb", "alice/x"]


def test_a_failing_database_is_logged_not_raised(db, caplog) -> None:
    def broken(*args, **kwargs):
        raise sa.exc.OperationalError("INSERT", {}, Exception("database is locked"))

    line_store.load(db)  # the table exists
    db.execute = broken  # type: ignore[method-assign]
    with caplog.at_level(logging.WARNING, "JupyterHub"):
        assert line_store.save(db, "default", 1, _place("alice/", 1.0)) is False
        assert line_store.drop(db, "default", "alice/") is False
        assert line_store.load(db) == []
    assert "kept in memory" in caplog.text


def test_only_the_latest_ended_rows_are_kept_per_user(db) -> None:
    for i in range(7):
        line_store.save(db, "default", 1, _place(f"alice/n{i}", float(i)))
        line_store.end(db, "default", f"alice/n{i}", f"ended {i}")
    line_store.save(db, "default", 2, _place("bob/", 9.0), ended="bob's")
    rows = line_store.load(db)
    assert [r.ended for r in rows] == [f"ended {i}" for i in range(2, 7)] + ["bob's"]
