"""GitHubAuthenticator and the group mapping, in-process against the local GitHub."""

from __future__ import annotations

from typing import Any

import pytest
from auth_github.helpers import ADMINS, ORG, TEAM
from services.fake_github import FakeGitHub
from tornado import web

from hubplugins.auth.github import GitHubAuthenticator
from hubplugins.auth.groups import map_groups, validate_group_map
from hubplugins.auth.oidc import OIDCAuthenticator

GROUP_MAP = {ORG: ["authenticated"], TEAM: ["gpu-beta"]}


@pytest.mark.parametrize(
    ("memberships", "group_map", "expected"),
    [
        pytest.param([], GROUP_MAP, set(), id="no-memberships"),
        pytest.param([ORG], GROUP_MAP, {"authenticated"}, id="org-only"),
        pytest.param([ORG, TEAM], GROUP_MAP, {"authenticated", "gpu-beta"}, id="org-and-team"),
        pytest.param([TEAM], GROUP_MAP, {"gpu-beta"}, id="team-without-org-key"),
        pytest.param(
            ["x"], {"*": ["everyone"], "x": ["a", "b"]}, {"everyone", "a", "b"}, id="star"
        ),
    ],
)
def test_map_groups(memberships: list[str], group_map: dict, expected: set[str]) -> None:
    assert map_groups(memberships, group_map) == expected


@pytest.mark.parametrize(
    ("value", "message"),
    [
        pytest.param({"org": "gpu"}, r"group_map\['org'\] must be a list", id="string-value"),
        pytest.param({"org": [""]}, r"group_map\['org'\]\[0\]", id="empty-group"),
        pytest.param({"": ["a"]}, "non-empty", id="empty-key"),
        pytest.param(["org"], "must be a mapping", id="not-a-mapping"),
    ],
)
def test_validate_group_map_names_the_key(value: Any, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        validate_group_map(value, "X.group_map")


@pytest.mark.parametrize(
    ("config", "message"),
    [
        pytest.param({"group_map": {"a:b:c": ["x"]}}, "not 'org' or 'org:team'", id="bad-key"),
        pytest.param({"allowed_organizations": {"org:"}}, "not 'org'", id="bad-allowed"),
        pytest.param({"admin_teams": {":team"}}, "not 'org'", id="bad-admin-team"),
    ],
)
def test_github_config_errors(config: dict, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        GitHubAuthenticator(**config)


@pytest.mark.parametrize(
    ("cls", "config"),
    [
        pytest.param(GitHubAuthenticator, {"allowed_organizations": {ORG}}, id="github-orgs"),
        pytest.param(OIDCAuthenticator, {"allowed_groups": {"staff"}}, id="oidc-groups"),
    ],
)
def test_allow_all_with_membership_rules_refuses_to_start(cls: type, config: dict) -> None:
    auth = cls(allow_all=True, **config)
    with pytest.raises(ValueError, match="allow_all = True would let every account"):
        auth.check_allow_config()


def test_allow_all_alone_is_accepted() -> None:
    GitHubAuthenticator(allow_all=True, group_map=GROUP_MAP).check_allow_config()


def test_username_is_the_login_never_the_email() -> None:
    auth = GitHubAuthenticator(username_claim="email")
    assert auth.user_info_to_username({"login": "Alice", "email": "a@example.org"}) == "Alice"


def _authenticator(github: FakeGitHub, **extra: Any) -> GitHubAuthenticator:
    return GitHubAuthenticator(
        github_url=github.url,
        client_id=github.client_id,
        client_secret=github.client_secret,
        allowed_organizations={ORG},
        admin_teams={ADMINS},
        group_map=GROUP_MAP,
        **extra,
    )


# login, public membership, scopes granted -> allowed, groups, admin, words of the refusal
CASES = [
    ("alice", False, ("read:org",), True, ["authenticated", "gpu-beta"], False, None),
    ("bob", False, ("read:org",), True, ["authenticated"], False, None),
    ("dave", False, ("read:org",), True, ["authenticated"], True, None),
    ("carol", False, ("read:org",), False, [], False, "is not a member"),
    ("erin", False, ("read:org",), False, [], False, "is not a member"),
    ("alice", False, (), False, [], False, "read:org"),
    ("alice", True, (), True, ["authenticated"], False, None),
]


@pytest.mark.parametrize(
    ("login", "public", "scopes", "allowed", "groups", "admin", "refusal"),
    CASES,
    ids=[
        "org-and-team-member",
        "org-member",
        "admin-team-member",
        "outsider",
        "other-org",
        "private-membership-without-read-org",
        "public-membership-without-read-org",
    ],
)
async def test_sign_in_decision(
    github: FakeGitHub,
    login: str,
    public: bool,
    scopes: tuple[str, ...],
    allowed: bool,
    groups: list[str],
    admin: bool,
    refusal: str | None,
) -> None:
    if public:
        github.state.public.add((ORG, login))
    auth = _authenticator(github)
    model = await auth._token_to_auth_model(github.issue_token(login, scopes))
    assert model["name"] == login
    assert model["groups"] == groups
    assert bool(model["admin"]) is admin
    if allowed:
        assert await auth.check_allowed(login, model) is True
    else:
        with pytest.raises(web.HTTPError) as info:
            await auth.check_allowed(login, model)
        assert info.value.status_code == 403
        assert refusal in info.value.log_message % info.value.args


@pytest.mark.parametrize(
    ("change", "still_allowed", "groups"),
    [
        pytest.param(lambda gh: None, True, ["authenticated", "gpu-beta"], id="unchanged"),
        pytest.param(
            lambda gh: gh.remove_from_team("alice", TEAM), True, ["authenticated"], id="left-team"
        ),
        pytest.param(lambda gh: gh.remove_from_org("alice", ORG), False, [], id="left-org"),
    ],
)
async def test_refresh_rechecks_membership(
    github: FakeGitHub, change: Any, still_allowed: bool, groups: list[str]
) -> None:
    auth = _authenticator(github)
    first = await auth._token_to_auth_model(github.issue_token("alice"))
    change(github)
    second = await auth._token_to_auth_model(first["auth_state"]["token_response"])
    assert second["groups"] == groups
    assert (await auth.recheck_refreshed(second) is not False) is still_allowed


async def test_unreachable_github_is_503(github: FakeGitHub) -> None:
    auth = _authenticator(github)
    token = github.issue_token("alice")
    await github.set_reachable(False)
    with pytest.raises(web.HTTPError) as info:
        await auth._token_to_auth_model(token)
    assert info.value.status_code == 503
    await github.set_reachable(True)
    github.state.fail_with = 502
    with pytest.raises(web.HTTPError) as info:
        await auth._token_to_auth_model(token)
    assert info.value.status_code == 503


class FakeUser:
    """What refresh_user and pre_spawn_start need of JupyterHub's User."""

    def __init__(self, name: str, auth_state: dict[str, Any]) -> None:
        self.name = name
        self._auth_state = auth_state

    async def get_auth_state(self) -> dict[str, Any]:
        return self._auth_state


@pytest.mark.parametrize(
    ("change", "refreshed", "spawn_status"),
    [
        pytest.param(lambda gh: None, "model", None, id="unchanged"),
        pytest.param(lambda gh: gh.remove_from_org("alice", ORG), False, 403, id="left-org"),
        pytest.param(lambda gh: gh.revoke_tokens("alice"), False, 403, id="token-revoked"),
        pytest.param(
            lambda gh: gh.state.__setattr__("fail_with", 502), True, 503, id="github-down"
        ),
    ],
)
async def test_refresh_user_and_pre_spawn_start(
    github: FakeGitHub, change: Any, refreshed: Any, spawn_status: int | None
) -> None:
    auth = _authenticator(github)
    first = await auth._token_to_auth_model(github.issue_token("alice"))
    user = FakeUser("alice", first["auth_state"])
    change(github)
    result = await auth.refresh_user(user)
    if refreshed == "model":
        assert result["groups"] == ["authenticated", "gpu-beta"]
    else:
        assert result is refreshed
    if spawn_status is None:
        await auth.pre_spawn_start(user, None)
    else:
        with pytest.raises(web.HTTPError) as info:
            await auth.pre_spawn_start(user, None)
        assert info.value.status_code == spawn_status


@pytest.mark.parametrize(
    ("claimed", "keep", "expected"),
    [
        pytest.param(["staff"], False, {"authenticated"}, id="mapped"),
        pytest.param(["staff", "gpu-users"], False, {"authenticated", "gpu-beta"}, id="two"),
        pytest.param(["staff", "other"], True, {"authenticated", "other"}, id="keep-unmapped"),
        pytest.param(["other"], False, set(), id="unmapped-dropped"),
    ],
)
async def test_oidc_groups_claim_is_mapped(claimed: list[str], keep: bool, expected: set) -> None:
    auth = OIDCAuthenticator(
        group_map={"staff": ["authenticated"], "gpu-users": ["gpu-beta"]},
        keep_unmapped_groups=keep,
    )
    assert await auth.get_user_groups({"oauth_user": {"groups": claimed}}) == expected
