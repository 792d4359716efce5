"""Volume and secret names: distinct for crafted collisions, valid, as KubeSpawner names them."""

from __future__ import annotations

from types import SimpleNamespace

import pytest
from kubespawner import KubeSpawner

from hubplugins.spawner import volume_names as vn

# (case, user, server): every row must get a name of its own
PAIRS = [
    ("ghsa-a+b-c", "a", "b-c"),
    ("ghsa-a-b+c", "a-b", "c"),
    ("ghsa-a+b--c", "a", "b--c"),
    ("ghsa-a--b+c", "a--b", "c"),
    ("joined-as-user", "a--b-c", ""),
    ("default-a", "a", ""),
    ("default-a-b", "a-b", ""),
    ("case-upper", "A", ""),
    ("case-upper-server", "a", "B"),
    ("case-lower-server", "a", "b"),
    ("escape-dash", "a-2d", ""),
    ("escape-legacy-of-dash", "a-", ""),
    ("escape-underscore", "a_b", "c"),
    ("escape-dot", "a.b", "c"),
    ("escape-at", "a@b", "c"),
    ("unicode-e-acute", "é", ""),
    ("unicode-e-plain", "e", ""),
    ("unicode-server", "e", "é"),
    ("unicode-cjk", "数据", "分析"),
    ("hash-lookalike", "x---0123abcd", ""),
    ("hash-lookalike-split", "x", "-0123abcd"),
    ("digit-first", "1abc", ""),
    ("digit-first-x", "x-1abc", ""),
    ("long-user-a", "u" * 62 + "a", ""),
    ("long-user-b", "u" * 62 + "b", ""),
    ("long-pair-a", "u" * 30, "s" * 29 + "a"),
    ("long-pair-b", "u" * 30, "s" * 29 + "b"),
    ("long-pair-shift", "u" * 31, "s" * 29),
    ("long-pair-shift2", "u" * 29, "s" * 31),
    ("trailing-dash-user", "a-", "b"),
    ("trailing-dash-server", "a", "-b"),
    ("empty-like-server", "a", "-"),
]


def _names(user: str, server: str) -> dict[str, str]:
    names = {"server": vn.server_claim(user, server)}
    if not server:
        names["user"] = vn.user_claim(user)
        names["secret"] = vn.ssh_secret(user)
    return names


def test_crafted_pairs_get_distinct_valid_names() -> None:
    owner: dict[str, tuple[str, str, str]] = {}
    for case, user, server in PAIRS:
        for kind, name in _names(user, server).items():
            assert vn.is_valid_name(name), (case, kind, name)
            if kind == "user" and name == vn.server_claim(user, ""):
                # a user's own volume is their default server's volume, by design
                continue
            other = owner.setdefault(name, (case, user, server))
            assert other == (case, user, server), f"{case} collides with {other[0]}: {name}"


@pytest.mark.parametrize(("case", "user", "server"), PAIRS, ids=[p[0] for p in PAIRS])
def test_name_is_kubespawners_own(case: str, user: str, server: str) -> None:
    username, servername = user, server
    """The policy's names are the ones KubeSpawner 7 gives ``claim-{user_server}``."""

    # KubeSpawner's own expansion, on a stand-in that holds what it reads
    spawner = SimpleNamespace(
        user=SimpleNamespace(id=1, name=username),
        name=servername,
        slug_scheme="safe",
        _namespace_default=lambda: "default",
    )

    def expand(template: str, slug_scheme: str | None = None) -> str:
        return KubeSpawner._expand_user_properties(spawner, template, slug_scheme)

    assert expand(vn.SERVER_TEMPLATE) == vn.server_claim(user, server)
    assert expand(vn.USER_TEMPLATE) == vn.user_claim(user)
    legacy = expand(vn.SERVER_TEMPLATE, slug_scheme="escape")
    assert legacy == vn.legacy_server_claim(user, server)


@pytest.mark.parametrize(
    ("case", "path", "user", "expected"),
    [
        ("plain", "/home/jovyan", "Ann", "/home/jovyan"),
        ("username", "/home/{username}", "ann", "/home/ann"),
        ("username-escaped", "/home/{username}", "../Ann", f"/home/{vn.safe_user('../Ann')}"),
        ("other-braces", "/data/{x}", "ann", "/data/{{x}}"),
    ],
)
def test_mount_path(case: str, path: str, user: str, expected: str) -> None:
    got = vn.expand_mount_path(path, user)
    assert got == expected
    assert ".." not in got.split("/")


def test_names_are_stable() -> None:
    assert vn.server_claim("Ann", "Lab") == vn.server_claim("Ann", "Lab")
    assert vn.ssh_secret("Ann") == vn.ssh_secret("Ann")
