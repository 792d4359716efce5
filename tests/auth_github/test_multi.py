"""MultiAuthenticator without a hub: configuration errors and the name rules as tables.

The password side is JupyterHub's DummyAuthenticator or a recording child; the
same rules through a real hub, with the real DirectoryAuthenticator on OpenLDAP
and the local GitHub, are in test_multi_hub.py.
"""

from __future__ import annotations

import re
from typing import Any

import pytest
from jupyterhub.auth import Authenticator
from tornado import web
from traitlets.config import Config

from hubplugins.auth import multi_names
from hubplugins.auth.multi import MultiAuthenticator
from hubplugins.auth.multi_child import ProviderUser

GITHUB = "hubplugins.GitHubAuthenticator"
DUMMY = "jupyterhub.auth.DummyAuthenticator"
OIDC = "hubplugins.auth.oidc.OIDCAuthenticator"


@pytest.mark.parametrize(
    ("entries", "message"),
    [
        pytest.param([], "is empty", id="none"),
        pytest.param(
            [{"class": GITHUB, "url_prefix": "a"}, {"class": DUMMY, "url_prefix": "b"}],
            "more than one child has no username_prefix",
            id="two-without-prefix",
        ),
        pytest.param(
            [
                {"class": GITHUB, "url_prefix": "a", "username_prefix": "x-"},
                {"class": DUMMY, "url_prefix": "b", "username_prefix": "x-"},
            ],
            "is taken",
            id="same-prefix",
        ),
        pytest.param(
            [{"class": GITHUB, "url_prefix": "a"}, {"class": DUMMY, "url_prefix": "a/"}],
            "url_prefix 'a' is empty, taken or reserved",
            id="same-url",
        ),
        pytest.param(
            [{"class": GITHUB, "url_prefix": "a", "username_prefix": "GH:"}],
            "use lowercase letters",
            id="bad-prefix",
        ),
        pytest.param([{"url_prefix": "a"}], "needs 'class'", id="no-class"),
        pytest.param(
            [
                {"class": GITHUB, "url_prefix": "a", "username_prefix": "gh-"},
                {"class": DUMMY, "url_prefix": "b", "username_prefix": "gh-e-"},
            ],
            "username_prefix 'gh-' of MultiAuthenticator.authenticators[0] (GitHubAuthenticator) "
            "starts username_prefix 'gh-e-' of MultiAuthenticator.authenticators[1] "
            "(DummyAuthenticator)",
            id="nested-prefixes",
        ),
    ],
)
def test_configuration_errors(entries: list[dict[str, Any]], message: str) -> None:
    with pytest.raises(ValueError, match=re.escape(message)):
        MultiAuthenticator(authenticators=entries)


@pytest.mark.parametrize(
    ("username", "owner"),
    [
        pytest.param("gh-alice", "GitHubAuthenticator", id="prefixed"),
        pytest.param("carol", "DummyAuthenticator", id="unprefixed"),
        pytest.param("ghost", "DummyAuthenticator", id="prefix-lookalike"),
    ],
)
def test_users_are_routed_by_prefix(username: str, owner: str) -> None:
    multi = MultiAuthenticator(
        authenticators=[
            {"class": GITHUB, "url_prefix": "github", "username_prefix": "gh-"},
            {"class": DUMMY, "url_prefix": "directory"},
        ]
    )
    child = multi.child_for(username)
    assert child is not None and type(child).__name__ == owner
    assert multi.manage_groups and multi.enable_auth_state and multi.refresh_pre_spawn


# -- hub names: ownership, lists, routing (tables over the pure rules and the router) --

PREFIXES = ["gh-", "dir-", ""]  # GitHub, directory, a password child without prefix


@pytest.mark.parametrize(
    ("name", "prefixes", "owner"),
    [
        pytest.param("gh-alice", PREFIXES, 0, id="prefixed"),
        pytest.param("dir-bob", PREFIXES, 1, id="other-prefix"),
        pytest.param("carol", PREFIXES, 2, id="unprefixed"),
        pytest.param("ghost", PREFIXES, 2, id="prefix-lookalike"),
        pytest.param("gh-", PREFIXES, None, id="prefix-alone"),
        pytest.param("gh-gh-x", PREFIXES, 0, id="prefix-twice"),
        pytest.param("carol", ["gh-", "dir-"], None, id="nobody-without-prefix"),
    ],
)
def test_owner_of_a_hub_name(name: str, prefixes: list[str], owner: int | None) -> None:
    assert multi_names.owner(name, prefixes) == owner


@pytest.mark.parametrize(
    ("prefixes", "meets"),
    [
        pytest.param(
            ["gh-", "gh-x-", ""],
            "'gh-' of c[0] starts username_prefix 'gh-x-' of c[1]",
            id="nested",
        ),
        pytest.param(
            ["gh-x-", "gh-"],
            "'gh-' of c[1] starts username_prefix 'gh-x-' of c[0]",
            id="nested-later",
        ),
        pytest.param(["gh", "ghe-"], "'gh' of c[0] starts", id="no-dash"),
        pytest.param(["gh-", "ghe-", ""], None, id="distinct"),
    ],
)
def test_prefixes_that_meet(prefixes: list[str], meets: str | None) -> None:
    labels = [f"c[{i}]" for i in range(len(prefixes))]
    message = multi_names.nested_prefixes(labels, prefixes)
    assert (message is None) if meets is None else (meets in (message or "")), message


# entries, child index, own list -> provider names of the child, or the error's words
OWNED = [
    pytest.param({"alice", "gh-bob"}, 0, False, {"bob"}, id="gh-shared"),
    pytest.param({"alice", "gh-bob"}, 2, False, {"alice"}, id="unprefixed-shared"),
    pytest.param({"gh-dscully"}, 1, False, set(), id="other-childs-entry"),
    pytest.param({"gh-bob"}, 0, True, {"bob"}, id="own-list"),
    pytest.param(
        {"dave"}, 0, True, "'dave' is a name of another sign-in method", id="own-list-other"
    ),
    pytest.param({"gh-"}, 2, False, "'gh-' is a name no sign-in method", id="prefix-alone"),
]


@pytest.mark.parametrize(("entries", "index", "own", "expected"), OWNED)
def test_list_entries_of_a_child(
    entries: set[str], index: int, own: bool, expected: set[str] | str
) -> None:
    if isinstance(expected, str):
        with pytest.raises(ValueError, match=re.escape(expected)):
            multi_names.owned_entries(entries, index, PREFIXES, "X.admin_users", own_list=own)
    else:
        assert multi_names.owned_entries(entries, index, PREFIXES, "X", own_list=own) == expected


def _multi(config: Config, unprefixed: bool = True) -> MultiAuthenticator:
    entries: list[dict[str, Any]] = [
        {"class": GITHUB, "url_prefix": "github", "username_prefix": "gh-"},
        {"class": Recorder, "url_prefix": "rec", "username_prefix": "rec-"},
    ]
    if unprefixed:
        entries.append({"class": DUMMY, "url_prefix": "local", "config": {"allow_all": True}})
    return MultiAuthenticator(config=config, authenticators=entries)


# config lines -> each child's (admin, blocked, allowed) provider names, or the error's words
LIST_CONFIGS = [
    pytest.param(
        {"Authenticator": {"admin_users": {"alice", "gh-bob"}, "blocked_users": {"gh-dscully"}}},
        True,
        [({"bob"}, {"dscully"}, set()), (set(), set(), set()), ({"alice"}, set(), set())],
        id="hub-names",
    ),
    pytest.param(
        {
            "Authenticator": {"admin_users": {"GH-Bob"}},
            "GitHubAuthenticator": {"allowed_users": {"gh-erin"}},
        },
        True,
        [({"bob"}, set(), {"erin"}), (set(), set(), set()), (set(), set(), set())],
        id="own-section-and-case",
    ),
    pytest.param(
        {"MultiAuthenticator": {"blocked_users": {"rec-mallory"}}},
        True,
        [(set(), set(), set()), (set(), {"mallory"}, set()), (set(), set(), set())],
        id="hub-only-list",
    ),
    pytest.param(
        {"GitHubAuthenticator": {"admin_users": {"dave"}}},
        True,
        "GitHubAuthenticator.admin_users: 'dave' is a name of another sign-in method",
        id="own-list-unprefixed-name",
    ),
    pytest.param(
        {"Authenticator": {"admin_users": {"admin"}}},
        False,
        "Authenticator.admin_users: 'admin' is a name no sign-in method can produce",
        id="nobody-produces",
    ),
]


@pytest.mark.parametrize(("sections", "unprefixed", "expected"), LIST_CONFIGS)
def test_lists_are_hub_names(
    sections: dict[str, dict[str, Any]], unprefixed: bool, expected: list[Any] | str
) -> None:
    config = Config(sections)
    if isinstance(expected, str):
        with pytest.raises(ValueError, match=re.escape(expected)):
            _multi(config, unprefixed)
        return
    multi = _multi(config, unprefixed)
    got = [(c.admin_users, c.blocked_users, c.allowed_users) for c in multi.children]
    assert got == expected


class Recorder(Authenticator):
    """A child that records the user names it is handed and refreshes from a table."""

    seen: list[tuple[str, str]] = []
    answers: dict[str, Any] = {}

    async def authenticate(self, handler: Any, data: Any) -> Any:
        return data["username"]

    async def refresh_user(self, user: Any, handler: Any = None) -> Any:
        self.seen.append(("refresh_user", user.name))
        return self.answers.get(user.name, True)

    async def pre_spawn_start(self, user: Any, spawner: Any) -> None:
        self.seen.append(("pre_spawn_start", user.name))

    async def post_spawn_stop(self, user: Any, spawner: Any) -> None:
        self.seen.append(("post_spawn_stop", user.name))


class FakeUser:
    def __init__(self, name: str) -> None:
        self.name = name

    async def get_auth_state(self) -> dict[str, Any]:
        return {}


# hub name, the child's refresh answer for the provider name -> what the hub gets
REFRESH = [
    pytest.param("rec-ann", True, True, id="up-to-date"),
    pytest.param(
        "rec-ann",
        {"name": "ann", "groups": ["g"]},
        {"name": "rec-ann", "groups": ["g"]},
        id="model",
    ),
    pytest.param("rec-ann", {"name": "ann2"}, False, id="renamed-upstream"),
    pytest.param("rec-ann", False, False, id="revoked"),
    pytest.param("rec-mallory", True, False, id="blocked-by-hub-name"),
    pytest.param("gh-", True, False, id="nobody-owns"),
]


@pytest.mark.parametrize(("name", "answer", "expected"), REFRESH)
async def test_refresh_goes_to_the_owner_under_the_provider_name(
    name: str, answer: Any, expected: Any
) -> None:
    multi = _multi(Config({"Authenticator": {"blocked_users": {"rec-mallory"}}}))
    Recorder.seen, Recorder.answers = [], {name.removeprefix("rec-"): answer}
    assert await multi.refresh_user(FakeUser(name)) == expected
    reached = [("refresh_user", name.removeprefix("rec-"))] if name == "rec-ann" else []
    assert Recorder.seen == reached


async def test_steps_after_sign_in_reach_the_owner_under_the_provider_name() -> None:
    multi = _multi(Config({"Recorder": {"allowed_users": {"rec-ann"}}}))
    recorder = multi.children[1]
    Recorder.seen = []
    user = FakeUser("rec-ann")
    await multi.pre_spawn_start(user, None)
    await multi.post_spawn_stop(user, None)
    # a new user from the child's own sign-in page, or any user at start: the hub's
    # list only; the child's allow list stays what its configuration says
    recorder.add_user(FakeUser("rec-bo"))
    multi.add_user(FakeUser("bo"))
    assert Recorder.seen == [("pre_spawn_start", "ann"), ("post_spawn_stop", "ann")]
    assert recorder.allowed_users == {"ann"}
    recorder.delete_user(FakeUser("rec-bo"))
    assert recorder.allowed_users == {"ann"}


@pytest.mark.parametrize(
    ("child", "typed", "signed_in"),
    [
        pytest.param(2, "gh-bob", None, id="unprefixed-gives-gh-name"),
        pytest.param(2, "Rec-Ann", None, id="unprefixed-gives-rec-name-by-case"),
        pytest.param(2, "carol", "carol", id="unprefixed-own-name"),
        pytest.param(1, "gh-bob", "rec-gh-bob", id="prefixed-any-name"),
    ],
)
async def test_a_child_signs_in_only_names_it_owns(
    child: int, typed: str, signed_in: str | None
) -> None:
    multi = _multi(Config({"Recorder": {"allow_all": True}}))
    authenticator = multi.children[child]
    if signed_in is None:
        with pytest.raises(web.HTTPError) as refused:
            await authenticator.get_authenticated_user(None, {"username": typed, "password": "x"})
        assert refused.value.status_code == 403
        assert refused.value.reason == "multi.name"
        assert "belongs to another sign-in method" in refused.value.jupyterhub_message
        return
    model = await authenticator.get_authenticated_user(None, {"username": typed, "password": "x"})
    assert model["name"] == signed_in


async def test_oidc_child_refresh_and_lists_use_hub_names() -> None:
    """The OIDC child: lists in hub names, its refresh (and re-check) on the provider's name."""
    seen: list[str] = []

    def hook(authenticator: Any, user: Any, auth_state: Any) -> Any:
        seen.append(user.name)
        return {"name": user.name, "admin": None, "auth_state": auth_state, "groups": ["x"]}

    config = Config(
        {
            "Authenticator": {"blocked_users": {"oidc-mallory"}, "admin_users": {"oidc-ann"}},
            "OIDCAuthenticator": {"refresh_user_hook": hook, "allowed_users": {"oidc-ann"}},
        }
    )
    multi = MultiAuthenticator(
        config=config,
        authenticators=[
            {"class": OIDC, "url_prefix": "oidc", "username_prefix": "oidc-"},
            {"class": DUMMY, "url_prefix": "local", "config": {"allow_all": True}},
        ],
    )
    oidc = multi.children[0]
    assert (oidc.allowed_users, oidc.blocked_users, oidc.admin_users) == (
        {"ann"},
        {"mallory"},
        {"ann"},
    )
    refreshed = await multi.refresh_user(FakeUser("oidc-ann"))
    assert refreshed["name"] == "oidc-ann" and seen == ["ann"]
    assert await multi.refresh_user(FakeUser("oidc-mallory")) is False
    assert await multi.refresh_user(FakeUser("oidc-zed")) is False  # not allowed any more


def test_a_list_in_the_entry_config_is_the_childs_own() -> None:
    entries: list[dict[str, Any]] = [
        {
            "class": GITHUB,
            "url_prefix": "github",
            "username_prefix": "gh-",
            "config": {"blocked_users": {"gh-dscully"}},
        },
        {"class": DUMMY, "url_prefix": "local"},
    ]
    multi = MultiAuthenticator(authenticators=entries)
    assert multi.children[0].blocked_users == {"dscully"}
    entries[0]["config"] = {"blocked_users": {"dscully"}}
    with pytest.raises(ValueError, match=re.escape("GitHubAuthenticator.blocked_users: 'dscully'")):
        MultiAuthenticator(authenticators=entries)


async def test_the_child_sees_the_hub_user_under_the_provider_name() -> None:
    user = FakeUser("gh-alice")
    seen = ProviderUser(user, "alice")
    assert seen.name == "alice" and await seen.get_auth_state() == {}
    seen.extra = 1  # other attributes are the user's
    assert user.extra == 1  # type: ignore[attr-defined]
    with pytest.raises(AttributeError, match="cannot rename"):
        seen.name = "bob"
    assert user.name == "gh-alice"


async def test_post_auth_hook_sees_the_hub_name() -> None:
    seen: list[str] = []

    def hook(authenticator: Any, handler: Any, model: dict[str, Any]) -> dict[str, Any]:
        seen.append(model["name"])
        if model["name"] == "rec-eve":
            model["name"] = "carol"  # a hook cannot move a user into another child's names
        return model

    multi = _multi(
        Config({"Authenticator": {"post_auth_hook": hook}, "Recorder": {"allow_all": True}})
    )
    recorder = multi.children[1]
    model = await recorder.get_authenticated_user(None, {"username": "ann"})
    assert model["name"] == "rec-ann" and seen == ["rec-ann"]
    with pytest.raises(web.HTTPError) as refused:
        await recorder.get_authenticated_user(None, {"username": "eve"})
    assert (refused.value.status_code, refused.value.reason) == (403, "multi.name")
