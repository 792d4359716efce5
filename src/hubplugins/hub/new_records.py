"""Which server records the request being served has created.

JupyterHub makes a named server's record in the request that first names it:
a ``POST`` to start a new name (both series), the spawn form (its ``GET`` and
``POST``), and on 6.x a ``PUT``, which creates a server without starting it.
When a first start is refused, the spawner removes the record so that the
refusal leaves nothing behind, but only a record that the refused request
made itself, or that the spawn form's page made just to show the form (the
user asked for nothing to be kept by opening a page): one made by a ``PUT``
or by an earlier start is the user's and stays.

A SQLAlchemy ``after_insert`` listener on JupyterHub's ``orm.Spawner`` notes
the id of each new record in a context variable. Tornado serves each request
in an asyncio task of its own, with a copy of the context, and the start runs
in a task created from the request's after the record exists, so the note is
seen by the start that the same request makes and by no other request.
"""

from __future__ import annotations

from contextvars import ContextVar
from typing import Any

from jupyterhub import orm
from sqlalchemy import event

_CREATED: ContextVar[frozenset[int]] = ContextVar(
    "hubplugins_created_server_records", default=frozenset()
)


def _note_created(mapper: Any, connection: Any, target: Any) -> None:
    # a new frozenset each time: a value shared by copied contexts is never mutated
    _CREATED.set(_CREATED.get() | {target.id})


def install() -> None:
    """Listen for new server records (once per process; repeated calls do nothing)."""
    if not event.contains(orm.Spawner, "after_insert", _note_created):
        event.listen(orm.Spawner, "after_insert", _note_created)


_FORM_PAGE: set[int] = set()
"""Ids of records the spawn form's page made (in this hub process)."""


def note_form_page(orm_spawner: Any) -> None:
    """The spawn form is being shown for ``orm_spawner``: if this request made
    the record, it was made only to show the form."""
    if created_in_this_request(orm_spawner):
        _FORM_PAGE.add(orm_spawner.id)


def made_for_this_start(orm_spawner: Any) -> bool:
    """Whether a refused first start may remove ``orm_spawner``: this request
    made it, or the form page did."""
    record_id = getattr(orm_spawner, "id", None)
    return created_in_this_request(orm_spawner) or record_id in _FORM_PAGE


def created_in_this_request(orm_spawner: Any) -> bool:
    """Whether ``orm_spawner`` was created by the request this code runs for."""
    record_id = getattr(orm_spawner, "id", None)
    return record_id is not None and record_id in _CREATED.get()
