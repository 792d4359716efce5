"""GitHub sign-in with declarative org/team -> group mapping that stays current.

:class:`GitHubAuthenticator` is oauthenticator's ``GitHubOAuthenticator`` with
other defaults and a few steps replaced; the OAuth flow is oauthenticator's.

- ``update_auth_model`` asks GitHub once per sign-in or refresh about every
  ``org`` / ``org:team`` the configuration names, and stores the answer in
  ``auth_state["memberships"]`` (and what it could not see in
  ``auth_state["hidden_memberships"]``).
- ``get_user_groups`` maps those memberships through ``group_map``.
- ``check_allowed`` decides from the stored memberships and refuses with a
  page that says why (not a member, or membership hidden from the hub).
- ``refresh_user`` (every ``auth_refresh_age``) and ``pre_spawn_start``
  re-check membership; someone removed upstream must sign in again and is
  then refused.
- Any failure to reach GitHub is answered with 503, not 500.
"""

from __future__ import annotations

import asyncio
import json
import re
from html import escape
from inspect import isawaitable
from typing import Any
from urllib.parse import quote

from oauthenticator.github import GitHubOAuthenticator
from oauthenticator.oauth2 import OAuthenticator
from tornado import web
from tornado.httpclient import HTTPClientError
from traitlets import Set, Unicode, default, validate

from hubplugins.auth.binding import IdentityBindingMixin
from hubplugins.auth.groups import EVERYONE, GroupMapMixin, map_groups
from hubplugins.auth.provider_fetch import OutageMixin
from hubplugins.hub.refusals import refuse
from hubplugins.hub.trait_help import example, trait_help
from hubplugins.policy.decision import Decision
from hubplugins.policy.rules.sign_in import github_membership, github_sign_in_again

READ_ORG_SCOPES = {"read:org", "write:org", "admin:org"}


class GitHubUnavailable(web.HTTPError):
    """GitHub could not be reached or answered with a server error (503)."""

    # a start refused for this is not a failure of the hub (see failure_count)
    hubplugins_not_a_failure = True

    def __init__(self, detail: str) -> None:
        super().__init__(
            503,
            "GitHub cannot be reached right now (%s), so this hub cannot check who you "
            "are. Nothing is wrong with your account: try again in a few minutes.",
            detail,
            reason="GitHub unreachable",
        )
        # JupyterHub 5.5 shows the reason instead of the message unless this is set
        self.jupyterhub_message = self.log_message % self.args


def _linkify(text: str) -> str:
    return re.sub(r"(https://\S+?)(?=[\s,.)]*(\s|$))", r'<a href="\1">\1</a>', escape(text))


def _check_org_team(value: str, where: str) -> str:
    parts = value.split(":")
    if len(parts) > 2 or not all(p.strip() for p in parts):
        raise ValueError(
            f"{where}: {value!r} is not 'org' or 'org:team' "
            "(names as in the URL, e.g. 'jupyterhub:mybinder-org-operators')"
        )
    return value.strip()


class GitHubAuthenticator(IdentityBindingMixin, GroupMapMixin, OutageMixin, GitHubOAuthenticator):
    """Sign in with GitHub; org and team memberships become JupyterHub groups."""

    unavailable = GitHubUnavailable  # the provider's outage (see OutageMixin)

    admin_teams = Set(
        Unicode(),
        config=True,
        help=trait_help(
            """
            Members of these organizations or teams (``org`` or ``org:team``, names
            as in the GitHub URL) sign in as JupyterHub admins; everyone else loses
            admin status at their next sign-in or refresh unless listed in
            ``admin_users`` or in a group of ``admin_groups``. Members of an admin
            team are allowed in even if no other rule allows them. Empty (the
            default) means admin status is not taken from GitHub. Teams are read
            with the ``read:org`` scope, part of the default ``scope``.
            """,
            example("GitHubAuthenticator", "admin_teams", {"bioimage-io:hub-admins"}),
        ),
    )

    @validate("allowed_organizations", "admin_teams")
    def _validate_org_teams(self, proposal: Any) -> set[str]:
        where = f"{type(self).__name__}.{proposal.trait.name}"
        return {_check_org_team(v, where) for v in proposal.value}

    @validate("group_map")
    def _validate_group_map(self, proposal: Any) -> dict[str, list[str]]:
        value = super()._validate_group_map(proposal)
        where = f"{type(self).__name__}.group_map"
        for key in value:
            if key != EVERYONE:
                _check_org_team(key, where)
        return value

    # -- defaults that differ from oauthenticator ------------------------------

    @default("scope")
    def _scope_default(self) -> list[str]:
        # without read:org, GitHub hides private org membership and all teams
        return ["read:org"]

    @default("http_request_kwargs")
    def _http_request_kwargs_default(self) -> dict[str, Any]:
        return {"connect_timeout": 10, "request_timeout": 20}

    @default("custom_403_message")
    def _custom_403_message_default(self) -> str:
        return (
            "Your GitHub account is not allowed on this hub. "
            "Ask the hub administrators which organization or team gives access."
        )

    # -- configuration checks ----------------------------------------------------

    def membership_allow_rules(self) -> list[str]:
        rules = super().membership_allow_rules()
        if self.allowed_organizations:
            rules.append("allowed_organizations")
        return rules

    def check_allow_config(self) -> None:
        super().check_allow_config()
        if self.username_claim != "login":
            self.log.warning(
                "%s.username_claim = %r is ignored: usernames are always the GitHub login.",
                type(self).__name__,
                self.username_claim,
            )
        if not self.enable_auth_state:
            self.log.warning(
                "%s.enable_auth_state is False: GitHub membership cannot be re-checked "
                "after sign-in; removed members keep access until their cookie expires.",
                type(self).__name__,
            )

    def membership_keys(self) -> set[str]:
        """Every ``org`` / ``org:team`` whose membership matters to this config."""
        keys = set(self.allowed_organizations) | set(self.admin_teams) | set(self.group_map)
        keys.discard(EVERYONE)
        return keys

    # -- steps of oauthenticator's flow --------------------------------------------

    identity_provider = "github"

    def stable_identity(self, auth_model: dict[str, Any]) -> str | None:
        """GitHub's numeric user id: a login can be freed and taken, the id cannot."""
        user = (auth_model.get("auth_state") or {}).get(self.user_auth_state_key) or {}
        return str(user["id"]) if user.get("id") is not None else None

    def identity_space(self) -> str:
        """The GitHub instance: each numbers its users from 1."""
        return str(self.github_url).rstrip("/").lower()

    async def lookup_identity(self, login: str) -> str | None:
        """The numeric id of the GitHub user ``login`` now (``GET /users/{login}``), or None
        for no such user or an organisation. Asked as the OAuth app where it has a secret."""
        auth = {}
        if self.client_id and self.client_secret:
            auth = {"auth_username": self.client_id, "auth_password": self.client_secret}
        resp = await self.httpfetch(
            f"{self.github_api}/users/{quote(login, safe='')}",
            "looking up a GitHub login",
            parse_json=False,
            raise_error=False,
            method="GET",
            headers={"Accept": "application/vnd.github+json"},
            follow_redirects=False,
            validate_cert=self.validate_server_cert,
            **auth,
        )
        if resp.code == 404:
            return None
        if resp.code != 200:
            raise GitHubUnavailable(f"looking up a GitHub login: HTTP {resp.code}")
        try:
            user = json.loads(resp.body)
        except ValueError:
            raise GitHubUnavailable("looking up a GitHub login: not JSON") from None
        if not isinstance(user, dict) or user.get("type", "User") != "User":
            return None
        if str(user.get("login", "")).lower() != login.lower() or user.get("id") is None:
            return None
        return str(user["id"])

    def user_info_to_username(self, user_info: dict[str, Any]) -> str:
        """The GitHub ``login``, never an email, whatever ``username_claim`` says."""
        login = user_info.get("login")
        if not login:
            raise ValueError("GitHub returned a user without a login")
        return str(login)

    async def update_auth_model(self, auth_model: dict[str, Any]) -> dict[str, Any]:
        auth_model = await super().update_auth_model(auth_model)
        auth_state = auth_model["auth_state"]
        member, hidden = await self._fetch_memberships(auth_state)
        auth_state["memberships"] = sorted(member)
        auth_state["hidden_memberships"] = sorted(hidden)
        if self.admin_teams and not auth_model["admin"]:
            auth_model["admin"] = bool(member & self.admin_teams)
        return auth_model

    async def get_user_groups(self, auth_state: dict[str, Any]) -> set[str]:
        groups = map_groups(auth_state.get("memberships", []), self.group_map)
        if self.auth_state_groups_key:
            groups |= await super().get_user_groups(auth_state)
        return groups

    async def check_allowed(self, username: str, auth_model: dict[str, Any] | None) -> bool:
        """Allow by oauthenticator's generic rules, then by stored memberships.

        GitHubOAuthenticator's own check asks GitHub again for every entry of
        ``allowed_organizations``; the answers are already in ``auth_state``,
        so the generic rules of its base class are called instead.
        A refusal raises 403 with a message saying why.
        """
        if await OAuthenticator.check_allowed(self, username, auth_model):
            return True
        decision = self.membership(auth_model)
        if decision.allowed:
            return True
        raise self._refuse("sign-in", decision, username)

    def membership(self, auth_model: dict[str, Any] | None) -> Decision:
        """Do the memberships stored in ``auth_model`` let it in (see :func:`github_membership`)?"""
        if auth_model is None:
            return Decision.allow("github.membership")
        auth_state = auth_model.get("auth_state") or {}
        login = (auth_state.get(self.user_auth_state_key) or {}).get("login", auth_model["name"])
        return github_membership(
            login,
            self.allowed_organizations,
            auth_state.get("memberships", []),
            auth_state.get("hidden_memberships", []),
            self.github_url,
            self.custom_403_message,
        )

    def _refuse(self, event: str, decision: Decision, user: str) -> web.HTTPError:
        error = refuse(self.log, event, decision, user=user)
        # JupyterHub's error page shows this instead of the escaped message
        error.jupyterhub_html_message = _linkify(decision.message)  # type: ignore[attr-defined]
        return error

    async def refresh_allowed(self, username: str, model: dict[str, Any]) -> bool:
        if await OAuthenticator.check_allowed(self, username, model):
            return True
        return self.membership(model).allowed

    async def refresh_user(self, user: Any, handler: Any = None, **kwargs: Any) -> Any:
        """oauthenticator's refresh (token, auth state, groups), then the allow rules.

        If GitHub cannot be reached the current session is kept (a warning is
        logged); the next spawn is refused with 503 until GitHub answers.
        """
        try:
            model = await super().refresh_user(user, handler, **kwargs)
        except GitHubUnavailable as e:
            self.log.warning(
                "Keeping %s signed in; cannot refresh: %s", user.name, e.log_message % e.args
            )
            return True
        return await self.recheck_refreshed(model, user, handler)

    async def pre_spawn_start(self, user: Any, spawner: Any) -> None:
        """Refuse a spawn for someone no longer allowed (403), or if GitHub is down (503)."""
        started = super().pre_spawn_start(user, spawner)
        if isawaitable(started):
            await started
        if not self.enable_auth_state:
            return
        auth_state = await user.get_auth_state()
        token = (auth_state or {}).get("token_response")
        if not token:
            raise self._refuse("spawn", github_sign_in_again(expired=False), user.name)
        try:
            model = await self._token_to_auth_model(token)
        except HTTPClientError:
            raise self._refuse("spawn", github_sign_in_again(expired=True), user.name) from None
        if await OAuthenticator.check_allowed(self, user.name, model):
            return
        decision = self.membership(model)
        if not decision.allowed:
            raise self._refuse("spawn", decision, user.name)

    # -- GitHub API ------------------------------------------------------------------

    async def _fetch_memberships(self, auth_state: dict[str, Any]) -> tuple[set[str], set[str]]:
        keys = sorted(self.membership_keys())
        if not keys:
            return set(), set()
        token = auth_state["token_response"]
        headers = self.build_userdata_request_headers(token["access_token"], token["token_type"])
        login = auth_state[self.user_auth_state_key]["login"]
        granted = {s for entry in auth_state.get("scope") or [] for s in re.split(r"[\s,]+", entry)}
        can_read_org = bool(READ_ORG_SCOPES & granted)
        answers = await asyncio.gather(
            *(self._membership(key, login, headers, can_read_org) for key in keys)
        )
        member = {k for k, a in zip(keys, answers, strict=True) if a == "member"}
        hidden = {k for k, a in zip(keys, answers, strict=True) if a == "hidden"}
        return member, hidden

    async def _get(self, url: str, headers: dict[str, str]) -> Any:
        resp = await self.httpfetch(
            url,
            "checking GitHub membership",
            parse_json=False,
            raise_error=False,
            method="GET",
            headers=headers,
            follow_redirects=False,
            validate_cert=self.validate_server_cert,
        )
        if resp.code == 599 or resp.code >= 500:
            raise GitHubUnavailable(f"checking GitHub membership: HTTP {resp.code}")
        if resp.code == 401:
            # token revoked or expired: let refresh_user require a new sign-in
            raise HTTPClientError(401, "GitHub token no longer valid", resp)
        return resp

    async def _membership(
        self, key: str, login: str, headers: dict[str, str], can_read_org: bool
    ) -> str:
        """``"member"``, ``"not-member"`` or ``"hidden"`` for one org or team."""
        if ":" in key:
            org, team = key.split(":")
            url = f"{self.github_api}/orgs/{org}/teams/{team}/memberships/{login}"
            resp = await self._get(url, headers)
            if resp.code == 200:
                state = json.loads(resp.body or b"{}").get("state")
                return "member" if state == "active" else "not-member"
            # without read:org GitHub answers 404 for every team
            return "not-member" if can_read_org and resp.code == 404 else "hidden"
        url = f"{self.github_api}/orgs/{key}/members/{login}"
        resp = await self._get(url, headers)
        if resp.code == 204:
            return "member"
        if resp.code == 302:
            # GitHub's answer when the requester is not a member it can see:
            # only public membership is visible
            public = await self._get(
                f"{self.github_api}/orgs/{key}/public_members/{login}", headers
            )
            if public.code == 204:
                return "member"
            # with read:org a private member would have got 204: not a member
            return "not-member" if can_read_org else "hidden"
        if resp.code == 404:
            return "not-member"
        return "hidden"
