"""The OAuth client id of a user's server, one id per (user, server) pair (pure).

JupyterHub names a server's OAuth client ``jupyterhub-user-{quote(user)}`` and
appends ``-{quote(server)}`` for a named server. ``quote`` keeps ``-``, so user
``a`` with server ``b-c``, user ``a-b`` with server ``c`` and user ``a-b-c``'s
default server all get ``jupyterhub-user-a-b-c``: the second to start fails,
and stopping one deletes the client (and the sign-ins) of the others.

:func:`oauth_client_id` escapes ``-`` inside each part as ``%2D``, which
``quote`` never produces itself, so ``-`` only separates the parts and the id
decodes back to exactly one pair. Names without ``-`` keep JupyterHub's id.
The id also names the server's login cookie, where ``%`` is already used by
JupyterHub for quoted names (``@`` -> ``%40``).
"""

from __future__ import annotations

from urllib.parse import quote

__all__ = ["PREFIX", "oauth_client_id"]

PREFIX = "jupyterhub-user-"


def _part(name: str) -> str:
    return quote(name).replace("-", "%2D")


def oauth_client_id(username: str, servername: str = "") -> str:
    """``jupyterhub-user-{user}[-{server}]`` with ``-`` escaped inside each name."""
    client_id = PREFIX + _part(username)
    if servername:
        client_id += "-" + _part(servername)
    return client_id
