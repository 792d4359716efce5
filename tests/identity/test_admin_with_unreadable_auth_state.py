"""An admin account whose saved auth_state cannot be read is not left to the first sign-in.

The start's admin binding leaves an account with saved ``auth_state`` to the
sign-in check, which compares the identity that state names. When the state
cannot be read (the key it was encrypted with is gone: rotated without the old
one kept, or auth_state turned off and its key dropped), JupyterHub answers
None for it, the check has no evidence, and whoever signs in first under the
name is bound to the admin account; the start did not look the login up
either. Either step alone holds: bound at start to the id the login has then,
or refused at sign-in.
"""

from __future__ import annotations

import secrets
from types import SimpleNamespace
from typing import Any

from jupyterhub import crypto, orm
from jupyterhub.user import User
from tornado import web

from hubplugins.auth.binding import bind_admins
from hubplugins.auth.github import GitHubAuthenticator
from hubplugins.hub import identity


async def test_an_unreadable_state_leaves_no_admin_unguarded(keeper: Any, github) -> None:
    github.add_user("lena")
    github.state.users["lena"]["id"] = 8001
    db = orm.new_session_factory("sqlite://")()
    lena = orm.User(name="lena", admin=True)
    lena.encrypted_auth_state = await crypto.encrypt({"github_user": {"id": 8001}})
    db.add(lena)
    db.commit()
    keeper.keys = [secrets.token_bytes(32)]  # the key it was saved with is gone
    auth = GitHubAuthenticator(
        github_url=github.url, client_id="id", client_secret="x", allow_all=True
    )
    try:
        await bind_admins(SimpleNamespace(db=db, authenticator=auth))
    finally:
        github.state.users.pop("lena")

    async def authenticate(handler: Any, data: Any = None) -> dict[str, Any]:
        # the login's new holder: same login, another id
        return {"name": "lena", "auth_state": {"github_user": {"id": 9999, "login": "lena"}}}

    auth.authenticate = authenticate
    handler = SimpleNamespace(db=db, find_user=lambda name: User(orm.User.find(db, name), {}))
    try:
        await auth.get_authenticated_user(handler, None)
    except web.HTTPError as refused:
        assert refused.status_code == 403
    assert identity.bound_identity(db, lena.id) != ("github", "9999")
