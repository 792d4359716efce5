"""SSH keypairs and their Secret (pure)."""

from __future__ import annotations

import base64

from cryptography.hazmat.primitives import serialization

from hubplugins.spawner import sshkeys, volume_names


def test_keypair_is_ed25519_and_matches() -> None:
    private, public = sshkeys.generate_keypair("ann@jupyterhub")
    key = serialization.load_ssh_private_key(private, password=None)
    derived = key.public_key().public_bytes(
        serialization.Encoding.OpenSSH, serialization.PublicFormat.OpenSSH
    )
    assert public.startswith(b"ssh-ed25519 ")
    assert public == derived + b" ann@jupyterhub\n"


def test_secret_manifest_holds_the_pair() -> None:
    secret = sshkeys.secret_manifest("Ann.Lee")
    assert secret["metadata"]["name"] == volume_names.ssh_secret("Ann.Lee")
    assert volume_names.is_valid_name(secret["metadata"]["name"])
    data = {k: base64.b64decode(v) for k, v in secret["data"].items()}
    assert data[sshkeys.PUBLIC_KEY] == data[sshkeys.AUTHORIZED_KEYS]
    assert sshkeys.public_key_of(secret) == data[sshkeys.PUBLIC_KEY].decode().strip()
    assert b"OPENSSH PRIVATE KEY" in data[sshkeys.PRIVATE_KEY]


def test_two_users_get_different_keys() -> None:
    a = sshkeys.public_key_of(sshkeys.secret_manifest("a"))
    b = sshkeys.public_key_of(sshkeys.secret_manifest("b"))
    assert a.split()[1] != b.split()[1]


def test_mount_is_read_only_under_the_home() -> None:
    mount = sshkeys.volume_mount("/home/jovyan/")
    assert mount == {
        "name": sshkeys.VOLUME_NAME,
        "mountPath": "/home/jovyan/.ssh",
        "readOnly": True,
    }
