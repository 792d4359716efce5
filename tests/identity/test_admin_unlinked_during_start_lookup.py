"""An admin account an admin unlinks while the hub's start looks its login up stays unlinked.

At the hub's start each unbound admin account is looked up at GitHub; one an
admin unlinked (``{"subject": null}``) is skipped, as its next sign-in's. The
unlink is read before the look-up only: an admin who unlinks the account while
GitHub answers (the start's first seconds, as the warning asks them to act) has
the unlink undone, the account bound to the id the login had at the start.
"""

from __future__ import annotations

from types import SimpleNamespace

from jupyterhub import orm

from hubplugins.auth.binding import bind_admins
from hubplugins.auth.github import GitHubAuthenticator
from hubplugins.hub import identity


async def test_an_unlink_during_the_look_up_stands() -> None:
    db = orm.new_session_factory("sqlite://")()
    lena = orm.User(name="lena", admin=True)
    db.add(lena)
    db.commit()
    auth = GitHubAuthenticator(client_id="id", client_secret="x")

    async def unlinked_meanwhile(login: str) -> str | None:
        identity.relink(db, lena.id, None, None)  # the admin's PUT, while GitHub answers
        return "8001"

    auth.lookup_identity = unlinked_meanwhile  # type: ignore[method-assign]
    await bind_admins(SimpleNamespace(db=db, authenticator=auth))
    assert identity.unlinked(db, lena.id), identity.record(db, lena.id)
