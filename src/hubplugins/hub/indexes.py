"""Indexes on the hub database columns JupyterHub looks rows up by but leaves unindexed.

JupyterHub's schema indexes primary keys, unique names and token prefixes,
and no foreign key column. Each stop deletes the server's row in ``servers``
(and its OAuth client): the database then finds the rows that point at it
(``spawners.server_id``, ``spawners.oauth_client_id``, ``api_tokens.client_id``)
by reading the whole table. At 50,000 users of 2 servers, that is 100,000
spawner rows read for every stop: about 30 ms of the hub's loop a stop on
SQLite, against 2 ms with an index (``benchmarks/scale.py``); deleting a user
reads them by ``user_id`` the same way.

Once the hub has started (:mod:`hubplugins.hub.started`), the ``setup(c)`` step
creates the missing indexes, named ``hubplugins_ix_<table>_<column>``, with
``CREATE INDEX`` if they do not exist: at most a second at 100,000 rows, once
per database, and nothing after. The names are the package's own, so they
never clash with JupyterHub's; ``DROP INDEX hubplugins_ix_...`` removes one
(the next start makes it again). Turn it off
with ``c.HubDatabase.indexes = False``; it is off for a database that is not
JupyterHub's (a table is missing).
"""

from __future__ import annotations

import logging
import time
from typing import Any

import sqlalchemy as sa
from traitlets import Bool
from traitlets.config import LoggingConfigurable

from hubplugins.hub.trait_help import example, trait_help

__all__ = ["INDEXED", "HubDatabase", "ensure_indexes", "index_name", "setup_hub_indexes"]

log = logging.getLogger("hubplugins")

INDEXED: tuple[tuple[str, str], ...] = (
    # (table, column): what a stop or a deletion looks rows up by
    ("spawners", "server_id"),
    ("spawners", "oauth_client_id"),
    ("spawners", "user_id"),
    ("api_tokens", "client_id"),
    ("api_tokens", "user_id"),
    ("oauth_codes", "client_id"),
)


class HubDatabase(LoggingConfigurable):
    """What hubplugins adds to the hub's own database."""

    indexes = Bool(
        True,
        config=True,
        help=trait_help(
            """
            Create indexes on the columns of JupyterHub's tables that a stop and a
            user deletion look rows up by (``spawners.server_id``,
            ``spawners.user_id``, ``spawners.oauth_client_id``,
            ``api_tokens.client_id``, ``api_tokens.user_id``,
            ``oauth_codes.client_id``), named ``hubplugins_ix_<table>_<column>``,
            once the hub has started (``hubplugins.setup(c)`` wires this). Without
            them each stop reads the whole spawners table (100,000 rows at 50,000
            users of 2 servers). False means leave the database's schema as
            JupyterHub made it (indexes made before are kept).
            """,
            example("HubDatabase", "indexes", False),
        ),
    )


def index_name(table: str, column: str) -> str:
    return f"hubplugins_ix_{table}_{column}"


def ensure_indexes(db: Any) -> list[str]:
    """Create the missing indexes of :data:`INDEXED` through ``db`` (the hub's
    session, on its own connection: no second writer on SQLite); the names created."""
    inspector = sa.inspect(db.connection())
    tables = set(inspector.get_table_names())
    missing_tables = {t for t, _ in INDEXED} - tables
    if missing_tables:
        log.warning(
            "hubplugins: no indexes added: the hub's database has no %s table",
            ", ".join(sorted(missing_tables)),
        )
        return []
    wanted = [
        (table, column)
        for table, column in INDEXED
        # any index led by the column serves: JupyterHub's own, ours, or an admin's
        if not any(
            list(ix.get("column_names") or [])[:1] == [column]
            for ix in inspector.get_indexes(table)
        )
    ]
    created: list[str] = []
    for table, column in wanted:
        name = index_name(table, column)
        started = time.monotonic()
        target = sa.Table(table, sa.MetaData(), sa.Column(column))
        try:
            sa.Index(name, target.c[column]).create(db.connection(), checkfirst=True)
            db.commit()
        except sa.exc.SQLAlchemyError as error:  # another hub made it meanwhile, or no right
            db.rollback()
            log.warning("hubplugins: index %s not created: %s", name, error)
            continue
        log.info(
            "hubplugins: created index %s on %s(%s) in %.0f ms",
            name,
            table,
            column,
            (time.monotonic() - started) * 1000,
        )
        created.append(name)
    return created


def _create(app: Any) -> None:
    if not HubDatabase(parent=app).indexes:
        return
    ensure_indexes(app.db)


def setup_hub_indexes(c: Any) -> None:
    """The ``setup(c)`` step: the indexes, once the hub loading this config has started."""
    from hubplugins.hub.started import hub_app, when_started

    app = hub_app()
    if app is not None:
        when_started(app, "creating the hub database's indexes", _create)
