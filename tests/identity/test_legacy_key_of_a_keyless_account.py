"""A new account of a freed name whose policy gives no SSH key never takes the old key.

The legacy rule calls an unlabelled key Secret annotated with the account's
name the account's own once the account has started a server and has no
labelled key of its own. An account whose policy has no ``ssh_keys`` never
gets a key of its own: once the new ``rita`` (someone else under the freed
name) has started a server, the old person's ``sshkey-rita`` from before owner
labels counts as hers. Deleting her account deletes it (the key Secret is
deleted with the default server whatever the policy), and a policy that gives
her keys later mounts it in her pod. The Secret was made years before her
account existed: it cannot be hers.
"""

from __future__ import annotations

from datetime import UTC, datetime
from types import SimpleNamespace
from typing import Any

from jupyterhub import orm

from hubplugins.spawner import ownership

# made for the name's first holder before owner labels
LEGACY = SimpleNamespace(
    metadata=SimpleNamespace(
        labels={},
        annotations={"hubplugins.io/username": "rita"},
        creation_timestamp=datetime(2020, 1, 1, tzinfo=UTC),
    )
)


class _Api:
    """The namespace's key Secrets: only the legacy ``sshkey-rita``."""

    async def read_namespaced_secret(self, name: str, namespace: str) -> Any:
        from kubernetes_asyncio.client.rest import ApiException

        if name == "sshkey-rita":
            return LEGACY
        raise ApiException(status=404)

    async def list_namespaced_secret(self, namespace: str, label_selector: str) -> Any:
        return SimpleNamespace(items=[])


async def test_a_key_older_than_the_account_is_not_its_legacy_key() -> None:
    db = orm.new_session_factory("sqlite://")()
    account = orm.User(name="rita", created=datetime(2026, 11, 30))  # the name's new holder
    db.add(account)
    db.commit()
    # she started a server once; her policy gives no SSH key, so she has no key of her own
    db.add(orm.Spawner(user=account, name="", state={"pod_name": "jupyter-rita"}))
    db.commit()
    user = SimpleNamespace(db=db, id=account.id, name="rita", orm_user=account)
    spawner = SimpleNamespace(user=user, namespace="hub", api=_Api(), name="")
    spawner.log = SimpleNamespace(info=lambda *a, **k: None)
    deleted = await ownership.deletable(spawner, ownership.SECRET, ["sshkey-rita"])
    assert deleted == [], "the old person's key is deleted with the new account"
