"""An admin account reached through ``username_map`` is not bound at start to a stranger.

``Authenticator.username_map`` maps a provider's name to another hub name
(``{"lena": "boss"}``: the GitHub login ``lena`` signs in as the hub account
``boss``). The start's admin binding looks the hub name up at GitHub as if it
were the login: ``boss`` there is someone else. The admin account is bound to
that stranger's id; its rightful person (``lena``) is then refused as "another
github account", and the stranger, whose login maps to the same hub name
(``boss`` is not a key of the map), signs in as the admin. Before the start's
binding, the rightful person who signed in first kept the account.
"""

from __future__ import annotations

from types import SimpleNamespace

from jupyterhub import orm

from hubplugins.auth.binding import bind_admins
from hubplugins.auth.github import GitHubAuthenticator
from hubplugins.hub import identity


async def test_a_mapped_admin_name_is_not_looked_up_as_a_login(github) -> None:
    github.add_user("lena")  # the admin: signs in as the hub account "boss"
    github.add_user("boss")  # a stranger whose GitHub login is the hub name
    github.state.users["lena"]["id"], github.state.users["boss"]["id"] = 8001, 9001
    auth = GitHubAuthenticator(
        github_url=github.url, client_id="id", client_secret="x", username_map={"lena": "boss"}
    )
    assert auth.normalize_username("lena") == "boss"
    assert auth.normalize_username("boss") == "boss"
    db = orm.new_session_factory("sqlite://")()
    boss = orm.User(name="boss", admin=True)
    db.add(boss)
    db.commit()
    try:
        await bind_admins(SimpleNamespace(db=db, authenticator=auth))
    finally:
        github.state.users.pop("lena")
        github.state.users.pop("boss")
    # None (left to the first sign-in, and named) or lena's 8001 would do
    assert identity.bound_identity(db, boss.id) != ("github", "9001")
