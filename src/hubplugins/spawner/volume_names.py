"""Kubernetes names of the volumes and SSH key secrets the policy creates (pure).

Names follow KubeSpawner 7's ``safe`` slug scheme, so a volume that KubeSpawner
itself created (``pvc_name_template = "claim-{user_server}"``) is the one the
policy keeps using, and KubeSpawner's ``handle_legacy_names`` still finds a
volume named by the older ``escape`` scheme (see :func:`legacy_server_claim`).

Why the names cannot collide (GHSA-v7m9-9x4v-wmx2, user ``a`` + server
``b-c`` versus user ``a-b`` + server ``c``):

- a user or server name is kept as is only when it is already a valid
  lowercase DNS label without ``--``; anything else (capitals, unicode, ``--``,
  too long) becomes ``<stripped>---<sha256[:8]>``, so no kept name contains
  ``--`` and every changed name carries a hash of the original;
- user and server are joined with ``--``, which a kept name never contains,
  so the boundary is unambiguous; when the joined form would pass 48
  characters, both names and one hash over ``user \\xff server`` are used;
- prefixes (``claim-``, ``sshkey-``) keep the kinds apart, and 48 + the
  longest prefix stays within the 63 characters of a DNS-1123 label.

Distinct inputs can only meet through a collision of the 32-bit hash, which
also guards KubeSpawner's own names.
"""

from __future__ import annotations

import re

from kubespawner.slugs import escape_slug, multi_slug, safe_slug

SLUG_MAX = 48
"""Longest user/server part, as in KubeSpawner 7 (``_slug_max_length``)."""

CLAIM_PREFIX = "claim-"
SECRET_PREFIX = "sshkey-"

SERVER_TEMPLATE = "claim-{user_server}"
"""``pvc_name_template`` for ``scope: server`` (KubeSpawner expands it the same way)."""
USER_TEMPLATE = "claim-{username}"
"""``pvc_name_template`` for ``scope: user``."""

_DNS_LABEL = re.compile(r"^[a-z]([-a-z0-9]*[a-z0-9])?$")


def is_valid_name(name: str) -> bool:
    """True for a valid DNS-1123 label that also starts with a letter (<= 63 chars)."""
    return len(name) <= 63 and bool(_DNS_LABEL.match(name))


def safe_user(username: str) -> str:
    """The user's slug: the name itself when it is already safe, else name + hash."""
    return safe_slug(username, max_length=SLUG_MAX)


def user_server(username: str, servername: str = "") -> str:
    """KubeSpawner 7's ``{user_server}`` under its ``safe`` scheme."""
    user = safe_user(username)
    server = safe_slug(servername, max_length=SLUG_MAX) if servername else ""
    if len(user) + len(server) + 2 > SLUG_MAX:
        # KubeSpawner applies this to the default server too (server "")
        return multi_slug([username, servername], max_length=SLUG_MAX)
    return f"{user}--{server}" if servername else user


def server_claim(username: str, servername: str = "") -> str:
    """The volume of one server (``scope: server``); the default server's is the user's."""
    return CLAIM_PREFIX + user_server(username, servername)


def user_claim(username: str) -> str:
    """The one volume of a user (``scope: user``): from the user name only."""
    return CLAIM_PREFIX + safe_user(username)


def legacy_server_claim(username: str, servername: str = "") -> str:
    """The name KubeSpawner < 7 gave the same volume (``escape`` scheme; may collide).

    KubeSpawner looks for it on the first start of a server whose saved state
    predates KubeSpawner 7, and keeps using it when it exists.
    """
    user = escape_slug(username)
    if servername:
        return f"{CLAIM_PREFIX}{user}--{escape_slug(servername)}"
    return CLAIM_PREFIX + user


def ssh_secret(username: str) -> str:
    """The Secret holding a user's SSH keypair."""
    return SECRET_PREFIX + safe_user(username)


def expand_mount_path(mount_path: str, username: str) -> str:
    """``mount_path`` with ``{username}`` replaced by the user's slug (never ``/`` or ``..``).

    Other braces are doubled so that KubeSpawner's own expansion of volume
    mounts leaves the path as it is.
    """
    slug = safe_user(username)
    parts = mount_path.split("{username}")
    escaped = [p.replace("{", "{{").replace("}", "}}") for p in parts]
    return slug.join(escaped)
