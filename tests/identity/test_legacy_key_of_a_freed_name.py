"""An unlabelled key Secret of a renamed account is never the new account's of its old name.

Before owner labels, ``rita`` had the key Secret ``sshkey-rita`` (no owner
label, annotated ``hubplugins.io/username: rita``). An admin renames that
account to ``rita2``; someone else signs in as ``rita`` and gets a new
account. At its first start the legacy Secret is rightly another account's
(the new account has no saved state), and it gets ``sshkey-rita-2``. From then
on the new account *has* saved state, and the legacy rule (annotation names
the user, the account started before) calls ``sshkey-rita`` its own: deleting
the new ``rita`` deleted the old person's key. The legacy rule now also asks
that the account has no key of its own.
"""

from __future__ import annotations

from types import SimpleNamespace
from typing import Any

import pytest
from jupyterhub import orm

from hubplugins.hub import identity
from hubplugins.spawner import ownership

LEGACY = SimpleNamespace(
    metadata=SimpleNamespace(labels={}, annotations={"hubplugins.io/username": "rita"})
)


class _Api:
    """The namespace's key Secrets: the legacy ``sshkey-rita``, and ``own`` (name -> owner
    label) made with owner labels."""

    def __init__(self, own: dict[str, str]) -> None:
        self.own = own

    async def read_namespaced_secret(self, name: str, namespace: str) -> Any:
        from kubernetes_asyncio.client.rest import ApiException

        if name == "sshkey-rita":
            return LEGACY
        raise ApiException(status=404)

    async def list_namespaced_secret(self, namespace: str, label_selector: str) -> Any:
        wanted = dict(part.split("=", 1) for part in label_selector.split(","))
        names = [n for n, owner in self.own.items() if owner == wanted[ownership.OWNER_LABEL]]
        return SimpleNamespace(
            items=[SimpleNamespace(metadata=SimpleNamespace(name=n)) for n in names]
        )


CASES = {
    # case: (the account has a labelled key of its own, the legacy key is its to delete)
    # someone else under the freed name, who got sshkey-rita-2 at their first start
    "new-account-of-the-freed-name": (True, False),
    # the account that used the name before owner labels, its key never relabelled
    "the-keys-own-account": (False, True),
}


@pytest.mark.parametrize("case", CASES)
async def test_a_legacy_key_is_the_account_s_only_without_a_key_of_its_own(case: str) -> None:
    has_own, deletable = CASES[case]
    db = orm.new_session_factory("sqlite://")()
    account = orm.User(name="rita")
    db.add(account)
    db.commit()
    db.add(orm.Spawner(user=account, name="", state={"pod_name": "jupyter-rita"}))
    db.commit()
    owner = identity.owner_of(db, account.id)
    api = _Api({"sshkey-rita-2": owner} if has_own else {})
    user = SimpleNamespace(db=db, id=account.id, name="rita", orm_user=account)
    spawner = SimpleNamespace(user=user, namespace="hub", api=api, name="", log=None)
    spawner.log = SimpleNamespace(info=lambda *a, **k: None)
    deleted = await ownership.deletable(spawner, ownership.SECRET, ["sshkey-rita"])
    assert deleted == (["sshkey-rita"] if deletable else [])
