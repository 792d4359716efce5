"""OAuth client ids of servers: one per (user, server) pair, JupyterHub's where it can be."""

from __future__ import annotations

import itertools
from urllib.parse import quote

import pytest

from hubplugins.policy.oauth_clients import oauth_client_id


def _jupyterhub_id(user: str, server: str) -> str:
    """JupyterHub's own id (jupyterhub/user.py ``_new_spawner``)."""
    client_id = f"jupyterhub-user-{quote(user)}"
    return f"{client_id}-{quote(server)}" if server else client_id


# (case id, user, server)
SAME_AS_JUPYTERHUB = [
    ("default", "alice", ""),
    ("named", "alice", "nb1"),
    ("at-sign", "alice@example.org", "nb"),
    ("unicode", "j\u00fcrgen", "nb"),
]


@pytest.mark.parametrize(
    ("user", "server"), [pytest.param(u, s, id=i) for i, u, s in SAME_AS_JUPYTERHUB]
)
def test_names_without_hyphens_keep_jupyterhubs_id(user: str, server: str) -> None:
    assert oauth_client_id(user, server) == _jupyterhub_id(user, server)


# families JupyterHub gives one id
COLLIDING = {
    "a-b-c": [("a", "b-c"), ("a-b", "c"), ("a-b-c", "")],
    "trailing-hyphen": [("a-", "b"), ("a", "-b"), ("a--b", "")],
    "escaped-lookalike": [("a-b", ""), ("a%2Db", ""), ("a", "b")],
    "oauth-state-cookie": [("a", "oauth-state"), ("a-oauth", "state")],
}


@pytest.mark.parametrize("pairs", COLLIDING.values(), ids=COLLIDING.keys())
def test_colliding_families_get_distinct_ids(pairs: list[tuple[str, str]]) -> None:
    ids = [oauth_client_id(u, s) for u, s in pairs]
    assert len(set(ids)) == len(ids), ids


def test_every_pair_of_short_names_has_its_own_id() -> None:
    alphabet = ["a", "b", "-", "%", "2", "D", "@"]
    names = ["".join(p) for n in range(1, 4) for p in itertools.product(alphabet, repeat=n)]
    seen: dict[str, tuple[str, str]] = {}
    for user in names:
        for server in ["", *names[:60]]:
            client_id = oauth_client_id(user, server)
            assert seen.setdefault(client_id, (user, server)) == (user, server), client_id
