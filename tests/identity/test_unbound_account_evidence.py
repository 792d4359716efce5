"""An unbound GitHub account whose saved auth_state names another GitHub id is not taken over.

An account from before bindings existed (or any account with no identity row)
is bound at its next sign-in to whoever signs in under its name. Its saved
``auth_state`` still holds the GitHub id of the person who used it
(``github_user.id``): when a freed login is taken by someone else, that is the
evidence the directory method uses for the same case (``directory_id``,
``_name_reused``). The GitHub method ignored it: the new holder of the login
was bound to the account, and with it got the old person's saved server state,
whose unlabelled volumes the spawner then adopted for them. Every method of the
package now compares it.
"""

from __future__ import annotations

from types import SimpleNamespace
from typing import Any

from jupyterhub import crypto, orm
from tornado import web

from hubplugins.auth.github import GitHubAuthenticator
from hubplugins.hub import identity

OLD_STATE = {"github_user": {"id": 1001, "login": "rita"}, "token_response": {}}


class _Account:
    def __init__(self, orm_user: Any) -> None:
        self.orm_user, self.name, self.id = orm_user, orm_user.name, orm_user.id

    async def get_auth_state(self) -> dict[str, Any]:
        return OLD_STATE


async def test_a_freed_login_does_not_take_an_unbound_account(keeper: Any) -> None:
    db = orm.new_session_factory("sqlite://")()
    rita = orm.User(name="rita")
    rita.encrypted_auth_state = await crypto.encrypt(OLD_STATE)
    db.add(rita)
    db.commit()
    accounts = {"rita": _Account(rita)}
    handler = SimpleNamespace(db=db, find_user=accounts.get)

    github = GitHubAuthenticator(allow_all=True)

    async def authenticate(handler: Any, data: Any = None) -> dict[str, Any]:
        # GitHub's answer for the login's new holder: same login, another id
        return {"name": "rita", "auth_state": {"github_user": {"id": 2002, "login": "rita"}}}

    github.authenticate = authenticate
    try:
        signed_in = await github.get_authenticated_user(handler, None)
    except web.HTTPError as refused:
        assert refused.status_code == 403
        signed_in = None
    assert signed_in is None, f"bound to {identity.bound_identity(db, rita.id)}"
    assert identity.bound_identity(db, rita.id) is None


async def test_the_saved_identitys_person_binds_the_unbound_account(keeper: Any) -> None:
    db = orm.new_session_factory("sqlite://")()
    rita = orm.User(name="rita")
    db.add(rita)
    db.commit()
    accounts = {"rita": _Account(rita)}
    handler = SimpleNamespace(db=db, find_user=accounts.get)
    github = GitHubAuthenticator(allow_all=True)

    async def authenticate(handler: Any, data: Any = None) -> dict[str, Any]:
        return {"name": "rita", "auth_state": {"github_user": {"id": 1001, "login": "rita"}}}

    github.authenticate = authenticate
    assert (await github.get_authenticated_user(handler, None))["name"] == "rita"
    assert identity.bound_identity(db, rita.id) == ("github", "1001")
