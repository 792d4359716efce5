"""A directory account an admin re-linked or unlinked takes the person it was linked to.

docs/security.md, "Re-linking an account": when the refusal is wrong (the same
person with a new directory entry), an admin links the account to the new
identity, or unlinks it (``{"subject": null}``) so that "the next sign-in under
its name is recorded as its identity, whoever its saved ``auth_state`` names".
The directory's own check for a reused name compares the sign-in's entry with
the one the saved ``auth_state`` names, before the binding is consulted: the
person the admin linked is refused as "another directory account" at every
sign-in, however the account is linked.
"""

from __future__ import annotations

from types import SimpleNamespace
from typing import Any

import pytest
from jupyterhub import orm
from tornado import web

from hubplugins.auth.directory import DirectoryAuthenticator
from hubplugins.hub import identity

DIRECTORY = {
    "server_urls": ["ldaps://127.0.0.1:1"],
    "user_search_base": "dc=example,dc=org",
    "group_search_base": "dc=example,dc=org",
    "bind_templates": ["uid={username},dc=example,dc=org"],
    "enable_auth_state": True,  # as docs/directory.md sets it
    "allow_all": True,
}


class _Account:
    """The hub's user ``ivan``, last signed in from his old, deleted entry."""

    def __init__(self, orm_user: Any) -> None:
        self.orm_user, self.name, self.id = orm_user, orm_user.name, orm_user.id

    async def get_auth_state(self) -> dict[str, Any]:
        return {"directory_id": "old-entry", "dn": "uid=ivan,dc=example,dc=org"}


class _Pool:
    """The directory: ivan's password is right, his entry is the new one."""

    async def call(self, op: str, args: dict[str, Any]) -> dict[str, Any]:
        assert op == "login"
        return {"outcome": "ok", "name": "ivan", "id": "new-entry", "dn": "uid=ivan", "groups": []}


@pytest.fixture
def directory() -> Any:
    """Built outside the loop: no worker processes start."""
    auth = DirectoryAuthenticator(**DIRECTORY)
    auth._pool = _Pool()
    return auth


LINKS = {
    "re-linked-to-the-new-entry": ("directory", "new-entry"),
    "unlinked": (None, None),
}


@pytest.mark.parametrize("case", LINKS)
async def test_the_linked_person_signs_in(case: str, directory: Any) -> None:
    db = orm.new_session_factory("sqlite://")()
    ivan = orm.User(name="ivan")
    db.add(ivan)
    db.commit()
    identity.bind(db, ivan.id, "directory", "old-entry")
    identity.relink(db, ivan.id, *LINKS[case])  # the admin's PUT
    handler = SimpleNamespace(db=db, find_user={"ivan": _Account(ivan)}.get)
    try:
        model = await directory.get_authenticated_user(
            handler, {"username": "ivan", "password": "Ivan-Passw0rd!"}
        )
    except web.HTTPError as error:
        pytest.fail(f"refused after the admin's re-link: {error}")
    assert model is not None and model["name"] == "ivan"
    assert identity.bound_identity(db, ivan.id) == ("directory", "new-entry")
