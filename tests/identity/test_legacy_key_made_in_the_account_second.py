"""An account's own legacy key, made in the second the account was, is still its own.

Kubernetes gives ``creationTimestamp`` to the second (RFC 3339 without a
fraction; the devcluster does the same), JupyterHub's ``users.created`` to the
microsecond. An account made through the REST API and started at once (a
provisioning script: ``POST /users``, then ``POST /users/<name>/server``) had
its key Secret made a fraction of a second after the account, in the same
second: the Secret's timestamp, cut to the second, reads as earlier than the
account, so the account's own key from before owner labels counts as an earlier
account's. It is kept when the account is deleted, and at its next start the
account gets a new key under another name.
"""

from __future__ import annotations

from datetime import UTC, datetime
from types import SimpleNamespace
from typing import Any

from jupyterhub import orm

from hubplugins.spawner import ownership

CREATED = datetime(2025, 3, 4, 12, 0, 0, 300000)  # users.created: naive UTC, microseconds
# the key Secret, made at 12:00:00.800 for this account before owner labels, as the API reads
LEGACY = SimpleNamespace(
    metadata=SimpleNamespace(
        labels={},
        annotations={"hubplugins.io/username": "rita"},
        creation_timestamp=datetime(2025, 3, 4, 12, 0, 0, tzinfo=UTC),
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


async def test_a_key_made_in_the_account_second_is_its_own() -> None:
    db = orm.new_session_factory("sqlite://")()
    account = orm.User(name="rita", created=CREATED)
    db.add(account)
    db.commit()
    db.add(orm.Spawner(user=account, name="", state={"pod_name": "jupyter-rita"}))
    db.commit()
    user = SimpleNamespace(db=db, id=account.id, name="rita", orm_user=account)
    spawner = SimpleNamespace(user=user, namespace="hub", api=_Api(), name="")
    spawner.log = SimpleNamespace(info=lambda *a, **k: None)
    deleted = await ownership.deletable(spawner, ownership.SECRET, ["sshkey-rita"])
    assert deleted == ["sshkey-rita"], "the account's own key is left behind at its deletion"
