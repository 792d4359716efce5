"""A renamed account's next server runs under its new name.

Why the old URL prefix sticks: JupyterHub keeps one ``User`` object per
account in memory and computes ``User.base_url``/``prefix`` once, in its
``__init__``, from the name at that time; the spawner objects it keeps are
built with ``proxy_spec``, ``oauth_client_id`` and ``oauth_access_scopes``
from that name too. ``PATCH /hub/api/users/<old>`` with a new name changes
only the database row, so until the hub restarts every later start of the
account (with plain KubeSpawner as well) is served at ``/user/<old>/``, its
OAuth client is ``jupyterhub-user-<old>`` and its access scope names the old
user: the server is unreachable under the new name, and a new account given
the old name shares the OAuth client.

:func:`follow_rename` runs first thing in PolicySpawner's start and puts the
account's current name back into all of these (user prefix, server base URL,
proxy route, OAuth client and its redirect URL, access scopes). KubeSpawner's
``clear_state()`` already recomputes the pod name at each start, and the
volume keeps its saved name (see :mod:`hubplugins.spawner.storage`).

A server that runs through the rename is stopped (:func:`install`), since it
would otherwise go on answering under the old name.
"""

from __future__ import annotations

import asyncio
import json
import logging
from typing import Any

from jupyterhub.utils import url_escape_path, url_path_join

from hubplugins.policy.oauth_clients import oauth_client_id


def _fresh_prefix(user: Any) -> str:
    return url_path_join(user.settings.get("base_url", "/"), "user", user.escaped_name) + "/"


async def follow_rename(spawner: Any) -> bool:
    """Repair what still names the account's old name; True when something was stale."""
    user = spawner.user
    prefix = _fresh_prefix(user)
    server_url = url_path_join(prefix, url_escape_path(spawner.name), "/")
    server = spawner.server
    if user.base_url == prefix and (server is None or server.base_url == server_url):
        return False
    old = user.base_url
    user.base_url = user.prefix = prefix
    spawner.proxy_spec = url_path_join(user.proxy_spec, url_escape_path(spawner.name), "/")
    if server is not None:
        server.base_url = server_url
        if server.orm_server is not None:
            server.orm_server.base_url = server_url
    client_id = oauth_client_id(user.name, spawner.name)
    spawner.oauth_client_id = client_id
    spawner.oauth_access_scopes = spawner._default_access_scopes()
    provider = user.settings.get("oauth_provider")
    if provider is not None and spawner.api_token:
        allowed = await spawner._get_oauth_client_allowed_scopes()
        spawner.orm_spawner.oauth_client = provider.add_client(
            client_id,
            spawner.api_token,
            url_path_join(user.url, url_escape_path(spawner.name), "oauth_callback"),
            allowed_scopes=allowed,
            description=f"Server at {server_url}",
        )
    user.db.commit()
    spawner.log.info(
        "hubplugins renamed account %s: server %s now at %s (was under %s)",
        user.name,
        spawner.name or "(default)",
        server_url,
        old,
    )
    return True


def avoid_taken_oauth_client(spawner: Any) -> None:
    """Give a new account's spawner an OAuth client id of its own when its name's is taken.

    A server that runs through a rename of its account keeps the OAuth client
    named after the old name (``jupyterhub-user-<old>``). A new account given
    that name would get the same client id, and JupyterHub's start fails on
    it (a client belongs to one server). The new account's server then uses
    ``jupyterhub-user-<name>-u<account id>``: stable for the account, never
    another's.
    """
    from jupyterhub import orm

    db = getattr(spawner.user, "db", None)
    user_id = getattr(spawner.user, "id", None)
    if db is None or user_id is None or not spawner.oauth_client_id:
        return
    client = db.query(orm.OAuthClient).filter_by(identifier=spawner.oauth_client_id).first()
    owner = getattr(getattr(client, "spawner", None), "user_id", None)
    if owner is not None and owner != user_id:
        taken = spawner.oauth_client_id
        spawner.oauth_client_id = f"{taken}-u{user_id}"
        spawner.log.info(
            "hubplugins OAuth client %s is held by a renamed account's running server; %s uses %s",
            taken,
            spawner._log_name,
            spawner.oauth_client_id,
        )


# -- a rename stops the account's running servers ------------------------------------


_STOPPING: set[asyncio.Future[Any]] = set()


def _stopped(task: asyncio.Future[Any]) -> None:
    _STOPPING.discard(task)
    if not task.cancelled() and task.exception() is not None:
        logging.getLogger("JupyterHub").error(
            "hubplugins could not stop a renamed account's server: %s", task.exception()
        )


def _stop_after_rename(user: Any, old: str, new: str) -> None:
    """Stop ``user``'s running servers: they still answer under the old name."""
    from hubplugins.hub.user_delete import stop_server

    running = [s for s in user.spawners.values() if s.active and not s._stop_pending]
    for spawner in running:
        spawner.log.warning(
            "hubplugins %s",
            json.dumps(
                {
                    "event": "rename_stops_server",
                    "user": new,
                    "old_name": old,
                    "server": spawner.name,
                    "reason": "a running server answers under the old name, which "
                    "another account may be given",
                },
                sort_keys=True,
            ),
        )
        task = asyncio.ensure_future(stop_server(spawner))
        _STOPPING.add(task)
        task.add_done_callback(_stopped)


def _name_set(target: Any, value: Any, oldvalue: Any, _initiator: Any) -> None:
    if not isinstance(oldvalue, str) or value == oldvalue:
        return  # a new account, not a rename
    from hubplugins.hub.started import hub_app

    users = getattr(hub_app(), "users", None)
    user = users.get(target.id) if users is not None and target.id in users else None
    if user is not None:
        _stop_after_rename(user, oldvalue, value)


def install() -> None:
    """Stop an account's running servers when an admin renames it (once per process).

    JupyterHub renames only the database row: a server that runs through the
    rename is still served at ``/user/<old>/`` and its access is still checked
    against the old name, so whoever is given the old name next could reach
    it. Stopping it closes that; the volume is kept, and the next start runs
    under the new name (:func:`follow_rename`).
    """
    from jupyterhub import orm
    from sqlalchemy import event

    if not event.contains(orm.User.name, "set", _name_set):
        event.listen(orm.User.name, "set", _name_set)
