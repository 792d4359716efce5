"""The volume rules as tables: one table per rule, each case's whole answer.

Names are plain strings here: the rules take them as they come, whatever
made them. ``ann`` is the user; ``lab`` and ``old`` are named servers.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from hubplugins.policy.decision import Decision
from hubplugins.policy.model import StoragePolicy, StorageScope
from hubplugins.policy.rules.volumes import (
    FOREIGN,
    HOME_VOLUME,
    MOUNTED,
    OTHER_SERVER,
    POLICY,
    USER_VOLUME,
    Kept,
    Seen,
    VolumePlan,
    check_mount,
    free_server_claim,
    home_volume,
    keep_mounted,
    kept_by_policy,
    may_delete,
    merge_volumes,
    mounted_elsewhere,
    own_claim,
    server_delete,
    user_claim_of,
    user_delete,
)

USER = "claim-ann"  # the user's volume by the user name (also the default server's)
LAB = "claim-ann--lab"
OLD = "claim-ann--old"
RENAMED = "claim-ann-before-rename"  # the default server's saved volume, older than a rename
ME, SOMEONE = "i-ann", "i-someone-else"


def _storage(
    scope: StorageScope = "server", with_server: bool = True, with_user: bool = False
) -> StoragePolicy:
    return StoragePolicy(2**30, scope, "/home/jovyan", with_server, with_user)


# -- start ---------------------------------------------------------------------

# case: (wanted, names other servers saved, the name given)
FREE_CASES = {
    "nothing-saved": (LAB, set(), LAB),
    "other-names-saved": (LAB, {OLD, USER}, LAB),
    "renamed-server-kept-the-name": (LAB, {LAB}, f"{LAB}-2"),
    "first-two-taken": (LAB, {LAB, f"{LAB}-2"}, f"{LAB}-3"),
    "only-a-variant-taken": (LAB, {f"{LAB}-2"}, LAB),
    "a-gap-is-not-filled-past-the-first-free": (LAB, {LAB, f"{LAB}-3"}, f"{LAB}-2"),
}


@pytest.mark.parametrize("case", list(FREE_CASES))
def test_free_server_claim(case: str) -> None:
    wanted, taken, given = FREE_CASES[case]
    assert free_server_claim(wanted, taken) == given


# case: (server, its own saved name, default server's loaded name, its name in the database, claim)
USER_CLAIM_CASES = {
    "default-server-new": ("", None, None, None, USER),
    "default-server-saved": ("", RENAMED, None, None, RENAMED),
    "default-server-ignores-the-database": ("", None, None, RENAMED, USER),
    "named-server-nothing-saved": ("lab", None, None, None, USER),
    "named-server-own-saved-name-ignored": ("lab", LAB, None, None, USER),
    "named-server-default-in-the-database": ("lab", None, None, RENAMED, RENAMED),
    "named-server-default-loaded": ("lab", None, RENAMED, None, RENAMED),
    "named-server-loaded-wins-over-database": ("lab", None, RENAMED, "claim-db", RENAMED),
    "named-server-empty-saved-name": ("lab", None, None, "", USER),
}


@pytest.mark.parametrize("case", list(USER_CLAIM_CASES))
def test_user_claim_of(case: str) -> None:
    server, own, loaded, saved, claim = USER_CLAIM_CASES[case]
    got = user_claim_of(
        server, own_saved=own, default_loaded=loaded, default_saved=saved, by_name=USER
    )
    assert got == claim


def test_home_volume() -> None:
    assert home_volume("/home/ann") == (
        {"name": HOME_VOLUME, "persistentVolumeClaim": {"claimName": "{pvc_name}"}},
        {"name": HOME_VOLUME, "mountPath": "/home/ann"},
    )


NEW_VOLUME = {"name": HOME_VOLUME, "persistentVolumeClaim": {"claimName": "{pvc_name}"}}
NEW_MOUNT = {"name": HOME_VOLUME, "mountPath": "/home/jovyan"}
HOME = {"name": "home", "persistentVolumeClaim": {"claimName": "{pvc_name}"}}
DATA = {"name": "data", "persistentVolumeClaim": {"claimName": "shared-data"}}
SCRATCH = {"name": "scratch", "emptyDir": {}}

# case: (configured volumes, configured mounts, volumes, mounts)
MERGE_CASES: dict[str, tuple[Any, Any, list[Any], list[Any]]] = {
    "nothing-configured": ([], [], [NEW_VOLUME], [NEW_MOUNT]),
    "configured-home-replaced": (
        [HOME],
        [{"name": "home", "mountPath": "/home/jovyan"}],
        [NEW_VOLUME],
        [NEW_MOUNT],
    ),
    "configured-home-dropped-wherever-mounted": (
        [HOME],
        [{"name": "home", "mountPath": "/mnt/home"}],
        [NEW_VOLUME],
        [NEW_MOUNT],
    ),
    "other-volume-kept": (
        [DATA],
        [{"name": "data", "mountPath": "/data"}],
        [DATA, NEW_VOLUME],
        [{"name": "data", "mountPath": "/data"}, NEW_MOUNT],
    ),
    "same-path-dropped": (
        [SCRATCH],
        [{"name": "scratch", "mountPath": "/home/jovyan/"}],
        [SCRATCH, NEW_VOLUME],
        [NEW_MOUNT],
    ),
    "repeated-start-idempotent": ([NEW_VOLUME], [NEW_MOUNT], [NEW_VOLUME], [NEW_MOUNT]),
    "volumes-as-a-dict": (
        {"a": DATA, "b": HOME},
        {"a": {"name": "data", "mountPath": "/data"}},
        [DATA, NEW_VOLUME],
        [{"name": "data", "mountPath": "/data"}, NEW_MOUNT],
    ),
}


@pytest.mark.parametrize("case", list(MERGE_CASES))
def test_merge_volumes(case: str) -> None:
    volumes, mounts, want_volumes, want_mounts = MERGE_CASES[case]
    got = merge_volumes(volumes, mounts, [NEW_VOLUME], [NEW_MOUNT])
    assert got == (want_volumes, want_mounts)


REFUSED = Decision.refuse(
    "identity.volume",
    f"The volume {LAB} belongs to another account; this server was not started. "
    "Ask the hub administrators.",
    status=409,
    limit=LAB,
)
ALLOWED = Decision.allow("identity.volume")

# case: (volume as seen, the server has saved state, decision, adopt)
MOUNT_CASES = {
    "absent": (Seen(False), False, ALLOWED, False),
    "ours": (Seen(True, ME), False, ALLOWED, False),
    "another-accounts": (Seen(True, SOMEONE), True, REFUSED, False),
    "unlabelled-adopted-by-us": (Seen(True, None, "us"), False, ALLOWED, False),
    "unlabelled-adopted-by-another": (Seen(True, None, "other"), True, REFUSED, False),
    "unlabelled-legacy-of-a-server-with-state": (Seen(True), True, ALLOWED, True),
    "unlabelled-no-state": (Seen(True), False, REFUSED, False),
    "empty-label-is-no-label": (Seen(True, ""), True, ALLOWED, True),
}


@pytest.mark.parametrize("case", list(MOUNT_CASES))
def test_check_mount(case: str) -> None:
    seen, has_state, decision, adopt = MOUNT_CASES[case]
    got = check_mount(LAB, ME, seen, has_state=has_state)
    assert got == decision
    assert dict(got.details) == ({"adopt": True} if adopt else {})


# -- delete --------------------------------------------------------------------

# case: (saved name, policy's name, the server's volume)
OWN_CASES = {
    "saved-name-wins": (OLD, LAB, OLD),
    "never-saved-the-policys-name": (None, LAB, LAB),
}


@pytest.mark.parametrize("case", list(OWN_CASES))
def test_own_claim(case: str) -> None:
    saved, by_name, own = OWN_CASES[case]
    assert own_claim(saved, by_name) == own


# case: (storage, own volume, the user's volumes, saved by others, delete_pvc, plan)
SERVER_CASES = {
    "own-volume-deleted": (_storage(), LAB, (USER, USER), {OLD}, True, VolumePlan((LAB,))),
    "retention-off": (_storage(with_server=False), LAB, (USER, USER), set(), True, VolumePlan()),
    "user-scope-never": (_storage("user"), USER, (USER, USER), set(), True, VolumePlan()),
    "user-scope-own-named-volume-never": (
        _storage("user", with_user=True),
        LAB,
        (USER, USER),
        set(),
        True,
        VolumePlan(),
    ),
    "the-users-volume-kept": (
        _storage(),
        USER,
        (USER, USER),
        set(),
        True,
        VolumePlan(kept=(Kept(USER, USER_VOLUME),)),
    ),
    "default-servers-saved-volume-kept": (
        _storage(),
        RENAMED,
        (USER, RENAMED),
        set(),
        True,
        VolumePlan(kept=(Kept(RENAMED, USER_VOLUME),)),
    ),
    "renamed-servers-volume-kept": (
        _storage(),
        LAB,
        (USER, USER),
        {LAB},
        True,
        VolumePlan(kept=(Kept(LAB, OTHER_SERVER),)),
    ),
    "user-volume-reason-first": (
        _storage(),
        USER,
        (USER, USER),
        {USER},
        True,
        VolumePlan(kept=(Kept(USER, USER_VOLUME),)),
    ),
    "delete-pvc-off": (_storage(), LAB, (USER, USER), set(), False, VolumePlan()),
    "delete-pvc-off-still-reports-kept": (
        _storage(),
        USER,
        (USER, USER),
        set(),
        False,
        VolumePlan(kept=(Kept(USER, USER_VOLUME),)),
    ),
}


@pytest.mark.parametrize("case", list(SERVER_CASES))
def test_server_delete(case: str) -> None:
    storage, own, user_volumes, others, delete_pvc, plan = SERVER_CASES[case]
    got = server_delete(
        storage, own, user_volumes=user_volumes, others_saved=others, delete_pvc=delete_pvc
    )
    assert got == plan


# case: (storage, the default server's volume, others' saved volumes, delete_pvc, plan, read)
USER_CASES = {
    "retention-off": (_storage(), USER, [LAB], True, VolumePlan(), False),
    "retention-off-user-scope": (_storage("user"), USER, [LAB], True, VolumePlan(), False),
    "all-volumes": (
        _storage(with_user=True),
        USER,
        [LAB, OLD],
        True,
        VolumePlan((USER, LAB, OLD)),
        True,
    ),
    "user-scope": (_storage("user", with_user=True), USER, [], True, VolumePlan((USER,)), True),
    "renamed-user-both-names": (
        _storage(with_user=True),
        RENAMED,
        [LAB],
        True,
        VolumePlan((RENAMED, USER, LAB)),
        True,
    ),
    "same-volume-once": (
        _storage("user", with_user=True),
        USER,
        [USER, LAB, LAB],
        True,
        VolumePlan((USER, LAB)),
        True,
    ),
    "without-delete-with-server": (
        _storage(with_server=False, with_user=True),
        USER,
        [LAB],
        True,
        VolumePlan((USER, LAB)),
        True,
    ),
    "delete-pvc-off": (_storage(with_user=True), USER, [LAB], False, VolumePlan(), True),
}


@pytest.mark.parametrize("case", list(USER_CASES))
def test_user_delete(case: str) -> None:
    storage, own, others, delete_pvc, plan, read = USER_CASES[case]
    reads: list[str] = []

    def saved() -> Iterator[str]:  # loading a server is read only when needed
        for name in others:
            reads.append(name)
            yield name

    got = user_delete(storage, own, USER, saved(), delete_pvc=delete_pvc)
    assert got == plan
    assert reads == (others if read else [])


# case: (the object as seen, may this account delete it)
MAY_DELETE_CASES = {
    "gone-already": (Seen(False), True),
    "ours": (Seen(True, ME), True),
    "another-accounts": (Seen(True, SOMEONE), False),
    "another-accounts-even-if-saved": (Seen(True, SOMEONE, saved=True), False),
    "unlabelled-saved-by-us": (Seen(True, saved=True), True),
    "unlabelled-not-saved": (Seen(True), False),
    "unlabelled-adopted-by-us": (Seen(True, None, "us"), True),
    "unlabelled-adopted-by-another": (Seen(True, None, "other", saved=True), False),
    "empty-label-saved": (Seen(True, "", saved=True), True),
    "unreadable-tried": (Seen(True, unreadable=True), True),
}


@pytest.mark.parametrize("case", list(MAY_DELETE_CASES))
def test_may_delete(case: str) -> None:
    seen, allowed = MAY_DELETE_CASES[case]
    assert may_delete(ME, seen) is allowed


def _pod(name: str, *claims: str, namespace: str = "hub", snake: bool = False) -> dict[str, Any]:
    key, inner = (
        ("persistent_volume_claim", "claim_name")
        if snake
        else ("persistentVolumeClaim", "claimName")
    )
    volumes = [{"name": f"v{i}", key: {inner: c}} for i, c in enumerate(claims)]
    return {"metadata": {"namespace": namespace, "name": name}, "spec": {"volumes": volumes}}


OWN_POD = "jupyter-ann--lab"

# case: (pods, claims mounted elsewhere among LAB and USER)
MOUNT_BY_POD_CASES: dict[str, tuple[list[dict[str, Any]], frozenset[str]]] = {
    "no-pods": ([], frozenset()),
    "another-servers-pod": ([_pod("jupyter-ann--old", LAB)], frozenset({LAB})),
    "own-pod-ignored": ([_pod(OWN_POD, LAB, USER)], frozenset()),
    "another-namespace-ignored": ([_pod("x", LAB, namespace="other")], frozenset()),
    "snake-case-keys": ([_pod("x", USER, snake=True)], frozenset({USER})),
    "other-claims-ignored": ([_pod("x", "claim-bob", OLD)], frozenset()),
    "two-pods": ([_pod("x", LAB), _pod("y", USER)], frozenset({LAB, USER})),
    "no-spec": ([{"metadata": {"namespace": "hub", "name": "x"}}], frozenset()),
    "no-volumes": ([{"metadata": {"namespace": "hub", "name": "x"}, "spec": {}}], frozenset()),
    "not-a-claim": (
        [{"metadata": {"namespace": "hub", "name": "x"}, "spec": {"volumes": [SCRATCH]}}],
        frozenset(),
    ),
    "no-metadata": (
        [{"spec": {"volumes": [{"persistentVolumeClaim": {"claimName": LAB}}]}}],
        frozenset(),
    ),
}


@pytest.mark.parametrize("case", list(MOUNT_BY_POD_CASES))
def test_mounted_elsewhere(case: str) -> None:
    pods, mounted = MOUNT_BY_POD_CASES[case]
    assert mounted_elsewhere([LAB, USER], pods, "hub", OWN_POD) == mounted


# case: (claims, mounted, plan)
KEEP_MOUNTED_CASES = {
    "none-mounted": ([LAB, USER], set(), VolumePlan((LAB, USER))),
    "one-mounted": ([LAB, USER], {LAB}, VolumePlan((USER,), (Kept(LAB, MOUNTED),))),
    "all-mounted": (
        [USER, LAB],
        {LAB, USER},
        VolumePlan((), (Kept(USER, MOUNTED), Kept(LAB, MOUNTED))),
    ),
    "nothing-to-delete": ([], {LAB}, VolumePlan()),
}


@pytest.mark.parametrize("case", list(KEEP_MOUNTED_CASES))
def test_keep_mounted(case: str) -> None:
    claims, mounted, plan = KEEP_MOUNTED_CASES[case]
    assert keep_mounted(claims, mounted) == plan


# case: (claims left to delete after the owner check, kept)
POLICY_CASES = {
    "nothing-left": ([], (Kept(LAB, POLICY),)),
    "something-left": ([USER], ()),
}


@pytest.mark.parametrize("case", list(POLICY_CASES))
def test_kept_by_policy(case: str) -> None:
    claims, kept = POLICY_CASES[case]
    assert kept_by_policy(LAB, claims) == kept


def test_reasons_are_the_log_words() -> None:
    assert (USER_VOLUME, OTHER_SERVER, MOUNTED, FOREIGN, POLICY) == (
        "user volume",
        "another server's volume",
        "mounted by another server",
        "another account's",
        "policy",
    )
