"""One SSH keypair per user, kept in a Kubernetes Secret, mounted in every server.

With ``ssh_keys: true`` in a user's policy, the first start of any of their
servers creates the Secret ``sshkey-<user slug>`` with an ed25519 keypair
(``id_ed25519``, ``id_ed25519.pub``, ``authorized_keys``); a Secret that
already exists (HTTP 409) is read and kept, so the key is the same across
restarts, servers and hub restarts. Every server of the user mounts it
read-only at ``<mount_path>/.ssh``. The Secret goes when the user is deleted.

Only get/create/delete on secrets are used, which the chart's hub Role grants.

:class:`SSHKeyHandler` serves the signed-in user's public key at
``/hub/api/hubplugins/sshkey`` (JSON, or the bare key line with
``?format=text``); :func:`handlers` lists it for ``JupyterHub.extra_handlers``.
"""

from __future__ import annotations

import base64
from typing import Any

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from hubplugins._lazy import lazy_classes
from hubplugins.policy.rules.identity import OWNER_LABEL
from hubplugins.spawner import volume_names

PRIVATE_KEY = "id_ed25519"
PUBLIC_KEY = "id_ed25519.pub"
AUTHORIZED_KEYS = "authorized_keys"
VOLUME_NAME = "hubplugins-ssh"
MOUNT_DIR = ".ssh"
LABELS = {"app.kubernetes.io/managed-by": "hubplugins", "hubplugins.io/kind": "sshkey"}
HANDLER_PATH = r"/api/hubplugins/sshkey"


def generate_keypair(comment: str) -> tuple[bytes, bytes]:
    """A new ed25519 keypair: (OpenSSH private key, ``ssh-ed25519 ... comment`` line)."""
    key = Ed25519PrivateKey.generate()
    private = key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.OpenSSH,
        serialization.NoEncryption(),
    )
    public = key.public_key().public_bytes(
        serialization.Encoding.OpenSSH, serialization.PublicFormat.OpenSSH
    )
    return private, public + b" " + comment.encode() + b"\n"


def secret_manifest(
    username: str, name: str | None = None, owner: str | None = None
) -> dict[str, Any]:
    """The Secret for a new keypair of ``username`` (a plain dict, as the API takes it).

    ``name`` defaults to :func:`~hubplugins.spawner.volume_names.ssh_secret`; ``owner``
    is the account's owner id, put in the owner label.
    """
    private, public = generate_keypair(f"{volume_names.safe_user(username)}@jupyterhub")
    data = {PRIVATE_KEY: private, PUBLIC_KEY: public, AUTHORIZED_KEYS: public}
    return {
        "apiVersion": "v1",
        "kind": "Secret",
        "type": "Opaque",
        "metadata": {
            "name": name or volume_names.ssh_secret(username),
            "labels": {**LABELS, **({OWNER_LABEL: owner} if owner else {})},
            "annotations": {"hubplugins.io/username": username},
        },
        "data": {k: base64.b64encode(v).decode() for k, v in data.items()},
    }


def public_key_of(secret: Any) -> str:
    """The public key line stored in a Secret (a kubernetes model or a dict)."""
    data = secret.get("data") if isinstance(secret, dict) else secret.data
    return base64.b64decode((data or {}).get(PUBLIC_KEY) or b"").decode().strip()


async def ensure_secret(
    api: Any,
    namespace: str,
    username: str,
    created: list[tuple[str, str]] | None = None,
    name: str | None = None,
    owner: str | None = None,
) -> str:
    """Create the user's key Secret unless it exists; return the public key line.

    ``api`` is KubeSpawner's shared ``CoreV1Api``. A 409 means the Secret is
    there already (another server of the user, or an earlier start): it is
    read and kept, never replaced. A Secret made here is added to ``created``
    as ``("secrets", name)`` (so a start refused later can remove it).
    """
    from kubernetes_asyncio.client.rest import ApiException

    name = name or volume_names.ssh_secret(username)
    body = secret_manifest(username, name, owner)
    try:
        made = await api.create_namespaced_secret(namespace=namespace, body=body)
        if created is not None:
            created.append(("secrets", name))
        return public_key_of(made)
    except ApiException as e:
        if e.status != 409:
            raise
    existing = await api.read_namespaced_secret(name=name, namespace=namespace)
    return public_key_of(existing)


async def read_public_key(
    api: Any, namespace: str, username: str, name: str | None = None
) -> str | None:
    """The user's public key, or None when they have no key Secret."""
    from kubernetes_asyncio.client.rest import ApiException

    try:
        secret = await api.read_namespaced_secret(
            name=name or volume_names.ssh_secret(username), namespace=namespace
        )
    except ApiException as e:
        if e.status == 404:
            return None
        raise
    return public_key_of(secret)


def volume(username: str, secret: str | None = None) -> dict[str, Any]:
    """The pod volume of the user's key Secret (private key 0440 for ``fsGroup``)."""
    return {
        "name": VOLUME_NAME,
        "secret": {
            "secretName": secret or volume_names.ssh_secret(username),
            "defaultMode": 0o440,
            "items": [
                {"key": PRIVATE_KEY, "path": PRIVATE_KEY, "mode": 0o440},
                {"key": PUBLIC_KEY, "path": PUBLIC_KEY, "mode": 0o444},
                {"key": AUTHORIZED_KEYS, "path": AUTHORIZED_KEYS, "mode": 0o444},
            ],
        },
    }


def volume_mount(mount_path: str) -> dict[str, Any]:
    """Where the keys appear in the server: ``<mount_path>/.ssh``, read-only."""
    return {
        "name": VOLUME_NAME,
        "mountPath": mount_path.rstrip("/") + "/" + MOUNT_DIR,
        "readOnly": True,
    }


def _handler_class() -> type:
    from jupyterhub.apihandlers.base import APIHandler
    from tornado import web

    class SSHKeyHandler(APIHandler):
        """``GET /hub/api/hubplugins/sshkey``: the signed-in user's SSH public key.

        Answers ``{"user": ..., "secret": ..., "public_key": "ssh-ed25519 ..."}``,
        or the bare key line with ``?format=text``; 404 when the user has no
        key (their policy does not give one, or no server has started yet).
        The token must hold ``read:users`` on the user (the user's own token and
        browser session do): a token made for less, such as the name alone that a
        server's sign-in or another service holds, reads no key (403).
        """

        async def get(self) -> None:
            from jupyterhub.scopes import has_scope

            user = self.current_user
            spawner = getattr(user, "spawner", None) if user is not None else None
            if spawner is None or not hasattr(spawner, "api"):
                raise web.HTTPError(403, "Only a signed-in user has an SSH key")
            needed = f"read:users!user={user.name}"
            if not has_scope(needed, self.parsed_scopes, db=self.db):
                raise web.HTTPError(
                    403, f"Reading the SSH key needs a token with the scope {needed}"
                )
            from hubplugins.spawner.ownership import own_secret

            # the account's own key (by owner label), never another's of the same name
            secret = await own_secret(spawner)
            key = await read_public_key(spawner.api, spawner.namespace, user.name, secret)
            if secret is None:
                key = None
            if key is None:
                raise web.HTTPError(
                    404, "You have no SSH key: your policy gives none, or no server has started"
                )
            if self.get_argument("format", "json") == "text":
                self.set_header("Content-Type", "text/plain; charset=utf-8")
                self.finish(key + "\n")
                return
            self.finish(
                {
                    "user": user.name,
                    "secret": secret,
                    "public_key": key,
                }
            )

    return SSHKeyHandler


# the handler classes, built on first use (see hubplugins._lazy)
__getattr__ = lazy_classes(__name__, _handler_class, "SSHKeyHandler")


def handlers() -> list[tuple[str, Any]]:
    """Entries for ``c.JupyterHub.extra_handlers``."""
    return [(HANDLER_PATH, __getattr__("SSHKeyHandler"))]
