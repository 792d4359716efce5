"""An account an admin unlinked is recorded at its next sign-in, as the docs say.

``PUT /hub/api/hubplugins/identities/<name>`` with ``{"subject": null}``
unlinks the account "so that the next sign-in under the name is recorded as
its identity" (docs/security.md, "Re-linking an account": the same person with
a new GitHub account). The unlink leaves the account with no identity, and a
sign-in to such an account is now checked against the identity its saved
``auth_state`` names: the old GitHub id, which the admin has just unlinked. The
person the admin meant to let in is refused as "another github account".
"""

from __future__ import annotations

from types import SimpleNamespace
from typing import Any

from jupyterhub import crypto, orm

from hubplugins.auth.github import GitHubAuthenticator
from hubplugins.hub import identity

OLD_STATE = {"github_user": {"id": 1001, "login": "rita"}, "token_response": {}}


class _Account:
    def __init__(self, orm_user: Any) -> None:
        self.orm_user, self.name, self.id = orm_user, orm_user.name, orm_user.id

    async def get_auth_state(self) -> dict[str, Any]:
        return OLD_STATE


async def test_an_unlinked_account_takes_its_next_sign_in(keeper: Any) -> None:
    db = orm.new_session_factory("sqlite://")()
    rita = orm.User(name="rita")
    rita.encrypted_auth_state = await crypto.encrypt(OLD_STATE)
    db.add(rita)
    db.commit()
    identity.bind(db, rita.id, "github", "1001")
    identity.relink(db, rita.id, None, None)  # the admin's {"subject": null}
    handler = SimpleNamespace(db=db, find_user={"rita": _Account(rita)}.get)
    github = GitHubAuthenticator(allow_all=True)

    async def authenticate(handler: Any, data: Any = None) -> dict[str, Any]:
        # rita's new GitHub account, under the same login
        return {"name": "rita", "auth_state": {"github_user": {"id": 2002, "login": "rita"}}}

    github.authenticate = authenticate
    assert (await github.get_authenticated_user(handler, None))["name"] == "rita"
    assert identity.bound_identity(db, rita.id) == ("github", "2002")
