"""The identity store: one row per hub account, in the hub's own database.

Table ``hubplugins_identities`` (created on first use by each hub process,
``CREATE TABLE IF NOT EXISTS`` semantics, safe when several processes start):

- ``user_id``: ``users.id``, ``ON DELETE CASCADE`` (JupyterHub turns SQLite's
  foreign keys on), so a deleted account leaves no binding a later account
  of the same row id or name could inherit;
- ``owner``: the label value on the account's volumes, keys and pods; set
  once when the row is made and never changed, so a rename or a re-link
  keeps the data with the account. From the identity (a deleted account
  that returns with the same identity gets its kept volumes back), or random
  where the provider gave none;
- ``provider``, ``subject``: the provider's immutable id, recorded at the
  first sign-in that has one; later sign-ins never overwrite it (unlike
  ``auth_state``). Only an admin re-link changes it.

Table ``hubplugins_adoptions`` records objects made before owner labels
existed and adopted by an account (once; the chart's Role cannot patch
labels on).
"""

from __future__ import annotations

import secrets
import time
from typing import Any

import sqlalchemy as sa

from hubplugins.hub import tables as hub_tables
from hubplugins.policy.rules.identity import owner_for

_meta = sa.MetaData()
# a stand-in of JupyterHub's users table, only so the foreign key compiles
_users = sa.Table("users", _meta, sa.Column("id", sa.Integer, primary_key=True))

IDENTITIES = sa.Table(
    "hubplugins_identities",
    _meta,
    sa.Column(
        "user_id", sa.Integer, sa.ForeignKey("users.id", ondelete="CASCADE"), primary_key=True
    ),
    sa.Column("owner", sa.Unicode(64), nullable=False),
    sa.Column("provider", sa.Unicode(64), nullable=True),
    sa.Column("subject", sa.Unicode(255), nullable=True),
    sa.Column("updated", sa.Float, nullable=False),
)

ADOPTIONS = sa.Table(
    "hubplugins_adoptions",
    _meta,
    sa.Column("kind", sa.Unicode(32), primary_key=True),
    sa.Column("namespace", sa.Unicode(255), primary_key=True),
    sa.Column("name", sa.Unicode(255), primary_key=True),
    sa.Column("user_id", sa.Integer, sa.ForeignKey("users.id", ondelete="CASCADE"), nullable=False),
    sa.Column("adopted", sa.Float, nullable=False),
)


def ensure_tables(db: Any) -> None:
    """Create the tables in the hub's database unless they exist (once per engine)."""
    hub_tables.ensure_tables(db, (IDENTITIES, ADOPTIONS))


def record(db: Any, user_id: int) -> dict[str, Any] | None:
    """The account's row as a dict, or None."""
    ensure_tables(db)
    row = db.execute(sa.select(IDENTITIES).where(IDENTITIES.c.user_id == user_id)).first()
    return dict(row._mapping) if row is not None else None


UNLINKED = "(unlinked)"
"""The provider of an account an admin unlinked: its next sign-in is its identity, whatever
its saved ``auth_state`` names (see :func:`unlinked`)."""


def link(db: Any, user_id: int) -> tuple[tuple[str, str] | None, bool]:
    """The account's bound identity, or None; and whether the store decides who the
    account is (an identity is bound, or an admin unlinked it), not its saved auth_state."""
    row = record(db, user_id)
    if row is None:
        return None, False
    if row["subject"] is None:
        return None, row["provider"] == UNLINKED
    return (str(row["provider"]), str(row["subject"])), True


def bound_identity(db: Any, user_id: int) -> tuple[str, str] | None:
    return link(db, user_id)[0]


def owner_of(db: Any, user_id: int) -> str:
    """The account's owner id; an account with no row yet gets a random one now."""
    row = record(db, user_id)
    if row is not None:
        return str(row["owner"])
    owner = "h" + secrets.token_hex(16)
    _insert(db, user_id, owner, None, None)
    return str(record(db, user_id)["owner"])  # type: ignore[index]


def bind(db: Any, user_id: int, provider: str, subject: str) -> str:
    """Record ``provider``/``subject`` for an account that has none; the owner stays.

    Returns ``"created"`` (new row, owner from the identity), ``"bound"``
    (an existing row got its identity) or ``"kept"`` (it had one: unchanged).
    """
    row = record(db, user_id)
    if row is None:
        _insert(db, user_id, owner_for(provider, subject), provider, subject)
        return "created"
    if row["subject"] is not None:
        return "kept"
    _update(db, user_id, provider, subject)
    return "bound"


def unlinked(db: Any, user_id: int) -> bool:
    """Whether an admin unlinked the account (``PUT ... {"subject": null}``) since it was
    last bound."""
    bound, decided = link(db, user_id)
    return decided and bound is None


def relink(db: Any, user_id: int, provider: str | None, subject: str | None) -> None:
    """An admin's re-link: the account now belongs to this identity (None: the next sign-in's)."""
    if subject is None:
        provider = UNLINKED
    if record(db, user_id) is None:
        owner = owner_for(provider, subject) if subject else "h" + secrets.token_hex(16)
        _insert(db, user_id, owner, provider, subject)
    else:
        _update(db, user_id, provider, subject)


def adopted_by(db: Any, kind: str, namespace: str, name: str) -> int | None:
    """The account that adopted an unlabelled object, or None."""
    ensure_tables(db)
    row = db.execute(
        sa.select(ADOPTIONS.c.user_id).where(
            ADOPTIONS.c.kind == kind, ADOPTIONS.c.namespace == namespace, ADOPTIONS.c.name == name
        )
    ).first()
    return int(row[0]) if row is not None else None


def record_adoption(db: Any, user_id: int, kind: str, namespace: str, name: str) -> None:
    ensure_tables(db)
    db.execute(
        ADOPTIONS.insert().values(
            kind=kind, namespace=namespace, name=name, user_id=user_id, adopted=time.time()
        )
    )
    db.commit()


def _insert(db: Any, user_id: int, owner: str, provider: str | None, subject: str | None) -> None:
    try:
        db.execute(
            IDENTITIES.insert().values(
                user_id=user_id,
                owner=owner,
                provider=provider,
                subject=subject,
                updated=time.time(),
            )
        )
        db.commit()
    except sa.exc.IntegrityError:
        db.rollback()  # made at the same time by another request: theirs stands


def _update(db: Any, user_id: int, provider: str | None, subject: str | None) -> None:
    db.execute(
        IDENTITIES.update()
        .where(IDENTITIES.c.user_id == user_id)
        .values(provider=provider, subject=subject, updated=time.time())
    )
    db.commit()
