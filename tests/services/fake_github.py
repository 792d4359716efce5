"""A small local GitHub (Enterprise-style URLs) for sign-in tests.

oauthenticator derives every URL from ``github_url``: the OAuth pages under
it and the REST API under ``{github_url}/api/v3``. :class:`FakeGitHub` serves
those on a free loopback port with the status codes GitHub uses, and lets a
test change the world between requests (memberships, tokens, outages).

    github = await FakeGitHub().start()
    github.add_user("alice", orgs=["bioimage-io"], teams=["bioimage-io:gpu-beta"])
    ...  # c.GitHubAuthenticator.github_url = github.url
    github.remove_from_team("alice", "bioimage-io:gpu-beta")
    await github.set_reachable(False)
    await github.stop()
"""

from __future__ import annotations

import html
import json
import secrets
import socket
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlencode

from tornado import httputil, web
from tornado.httpserver import HTTPServer
from tornado.netutil import bind_sockets

CLIENT_ID = "fake-client-id"
CLIENT_SECRET = "fake-client-secret"
READ_ORG = {"read:org", "write:org", "admin:org"}


@dataclass
class Token:
    login: str
    scopes: set[str]


@dataclass
class GitHubState:
    """Everything the fake knows; tests edit it through :class:`FakeGitHub`."""

    users: dict[str, dict[str, Any]] = field(default_factory=dict)
    orgs: dict[str, set[str]] = field(default_factory=dict)  # org -> logins
    public: set[tuple[str, str]] = field(default_factory=set)  # (org, login) shown publicly
    teams: dict[tuple[str, str], set[str]] = field(default_factory=dict)  # (org, team) -> logins
    codes: dict[str, Token] = field(default_factory=dict)
    tokens: dict[str, Token] = field(default_factory=dict)
    withheld_scopes: set[str] = field(default_factory=set)  # never granted (org restrictions)
    fail_with: int | None = None  # every request answers this status (e.g. 502)
    requests: list[str] = field(default_factory=list)


class _Base(web.RequestHandler):
    @property
    def state(self) -> GitHubState:
        return self.settings["github_state"]

    def prepare(self) -> None:
        self.state.requests.append(f"{self.request.method} {self.request.path}")
        if self.state.fail_with is not None:
            self.set_status(self.state.fail_with)
            self.finish({"message": "Service unavailable"})

    def check_xsrf_cookie(self) -> None:
        pass

    def token(self) -> Token:
        auth = self.request.headers.get("Authorization", "")
        parts = auth.split(None, 1)
        if len(parts) == 2 and parts[0].lower() in ("token", "bearer"):
            token = self.state.tokens.get(parts[1])
            if token is not None:
                return token
        self.set_status(401)
        self.finish({"message": "Bad credentials"})
        raise web.Finish()

    def can_read_org(self, token: Token) -> bool:
        return bool(token.scopes & READ_ORG)

    def empty(self, code: int) -> None:
        self.set_status(code)
        self.finish()

    def not_found(self) -> None:
        self.set_status(404)
        self.finish({"message": "Not Found"})


class AuthorizeHandler(_Base):
    """The consent page: pick a test user, or ``?login=name`` to skip the page."""

    def get(self) -> None:
        login = self.get_argument("login", "")
        if login:
            self._grant(login)
            return
        rows = []
        for name in sorted(self.state.users):
            hidden = "".join(
                f'<input type="hidden" name="{html.escape(k)}" value="{html.escape(v)}">'
                for k, v in self._params().items()
            )
            rows.append(
                f'<li><form method="post">{hidden}'
                f'<input type="hidden" name="login" value="{html.escape(name)}">'
                f"<span>@{html.escape(name)}</span> "
                f'<button type="submit" name="authorize" value="{html.escape(name)}">'
                f"Authorize as {html.escape(name)}</button></form></li>"
            )
        scope = html.escape(self.get_argument("scope", ""))
        self.finish(
            "<!doctype html><html><head><title>Authorize application</title></head><body>"
            f"<h1>Authorize JupyterHub</h1><p>Requested scopes: <code>{scope}</code></p>"
            f"<ul>{''.join(rows)}</ul></body></html>"
        )

    def post(self) -> None:
        self._grant(self.get_argument("login"))

    def _params(self) -> dict[str, str]:
        names = ("client_id", "redirect_uri", "state", "scope")
        return {n: self.get_argument(n, "") for n in names}

    def _grant(self, login: str) -> None:
        params = self._params()
        if params["client_id"] != CLIENT_ID or login not in self.state.users:
            self.set_status(400)
            self.finish("unknown client or user")
            return
        wanted = {s for s in params["scope"].replace(",", " ").split() if s}
        code = secrets.token_hex(8)
        self.state.codes[code] = Token(login, wanted - self.state.withheld_scopes)
        query = urlencode({"code": code, "state": params["state"]})
        sep = "&" if "?" in params["redirect_uri"] else "?"
        self.redirect(f"{params['redirect_uri']}{sep}{query}")


class AccessTokenHandler(_Base):
    def post(self) -> None:
        code = self.get_argument("code", "")
        grant = self.state.codes.pop(code, None)
        if (
            grant is None
            or self.get_argument("client_id", "") != CLIENT_ID
            or self.get_argument("client_secret", "") != CLIENT_SECRET
        ):
            # GitHub answers 200 with an error body
            self.finish(
                {"error": "bad_verification_code", "error_description": "The code is incorrect."}
            )
            return
        token = "gho_" + secrets.token_hex(12)
        self.state.tokens[token] = grant
        self.finish(
            {"access_token": token, "token_type": "bearer", "scope": ",".join(sorted(grant.scopes))}
        )


class UserHandler(_Base):
    def get(self) -> None:
        token = self.token()
        self.finish(self.state.users[token.login])


class PublicUserHandler(_Base):
    """``/users/{login}``: the public profile of a user, whoever asks; 404 for none."""

    def get(self, login: str) -> None:
        found = {k.lower(): v for k, v in self.state.users.items()}.get(login.lower())
        if found is None:
            self.set_status(404)
            self.finish({"message": "Not Found"})
            return
        self.finish({"type": "User", **found})


class UserTeamsHandler(_Base):
    def get(self) -> None:
        token = self.token()
        if not self.can_read_org(token):
            self.finish(json.dumps([]))
            return
        teams = [
            {"slug": team, "name": team, "organization": {"login": org}}
            for (org, team), members in sorted(self.state.teams.items())
            if token.login in members
        ]
        self.set_header("Content-Type", "application/json")
        self.finish(json.dumps(teams))


class OrgMemberHandler(_Base):
    """``/orgs/{org}/members/{user}``: 204 member, 404 not, 302 requester cannot tell."""

    def get(self, org: str, login: str) -> None:
        token = self.token()
        members = self.state.orgs.get(org, set())
        requester_sees = token.login in members and (
            self.can_read_org(token) or (org, token.login) in self.state.public
        )
        if not requester_sees:
            self.redirect(f"{self.settings['api']}/orgs/{org}/public_members/{login}")
            return
        self.empty(204) if login in members else self.not_found()


class OrgPublicMemberHandler(_Base):
    def get(self, org: str, login: str) -> None:
        self.token()
        if (org, login) in self.state.public and login in self.state.orgs.get(org, set()):
            self.empty(204)
        else:
            self.not_found()


class TeamMemberHandler(_Base):
    """Legacy ``/orgs/{org}/teams/{team}/members/{user}``: 204 or 404."""

    def get(self, org: str, team: str, login: str) -> None:
        token = self.token()
        if self.can_read_org(token) and login in self.state.teams.get((org, team), set()):
            self.empty(204)
        else:
            self.not_found()


class TeamMembershipHandler(_Base):
    """``/orgs/{org}/teams/{team}/memberships/{user}``: 200 with state, or 404."""

    def get(self, org: str, team: str, login: str) -> None:
        token = self.token()
        if self.can_read_org(token) and login in self.state.teams.get((org, team), set()):
            self.finish({"state": "active", "role": "member"})
        else:
            self.not_found()


class FakeGitHub:
    """The server: ``url`` is what ``GitHubAuthenticator.github_url`` points at."""

    client_id = CLIENT_ID
    client_secret = CLIENT_SECRET

    def __init__(self) -> None:
        self.state = GitHubState()
        self._sockets: list[socket.socket] = []
        self._server: HTTPServer | None = None
        self.port = 0

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def api(self) -> str:
        return f"{self.url}/api/v3"

    def _app(self) -> web.Application:
        name = r"([^/]+)"
        api = "/api/v3"
        return web.Application(
            [
                (r"/login/oauth/authorize", AuthorizeHandler),
                (r"/login/oauth/access_token", AccessTokenHandler),
                (rf"{api}/user", UserHandler),
                (rf"{api}/user/teams", UserTeamsHandler),
                (rf"{api}/users/{name}", PublicUserHandler),
                (rf"{api}/orgs/{name}/members/{name}", OrgMemberHandler),
                (rf"{api}/orgs/{name}/public_members/{name}", OrgPublicMemberHandler),
                (rf"{api}/orgs/{name}/teams/{name}/members/{name}", TeamMemberHandler),
                (rf"{api}/orgs/{name}/teams/{name}/memberships/{name}", TeamMembershipHandler),
            ],
            github_state=self.state,
            api=self.api,
        )

    async def start(self) -> FakeGitHub:
        self._listen(self.port)
        return self

    def _listen(self, port: int) -> None:
        self._sockets = bind_sockets(port, "127.0.0.1")
        self.port = self._sockets[0].getsockname()[1]
        self._server = HTTPServer(self._app())
        self._server.add_sockets(self._sockets)

    async def stop(self) -> None:
        if self._server is not None:
            self._server.stop()
            await self._server.close_all_connections()
            self._server = None

    async def set_reachable(self, reachable: bool) -> None:
        """Close the listening socket (connections are refused) or listen again."""
        if reachable and self._server is None:
            self._listen(self.port)
        elif not reachable:
            await self.stop()

    # -- the world -------------------------------------------------------------

    async def reset(self) -> None:
        """Forget every user, membership and token; listen again if stopped."""
        self.state.__dict__.update(GitHubState().__dict__)
        await self.set_reachable(True)

    def add_user(
        self,
        login: str,
        *,
        orgs: tuple[str, ...] | list[str] = (),
        teams: tuple[str, ...] | list[str] = (),
        public: bool = False,
        email: str | None = None,
    ) -> None:
        """Create a user, member of ``orgs`` and ``org:team`` entries in ``teams``."""
        self.state.users[login] = {
            "login": login,
            "id": len(self.state.users) + 1,
            "name": login.title(),
            "email": email,
        }
        for org in orgs:
            self.add_to_org(login, org, public=public)
        for team in teams:
            self.add_to_team(login, team)

    def add_to_org(self, login: str, org: str, *, public: bool = False) -> None:
        self.state.orgs.setdefault(org, set()).add(login)
        if public:
            self.state.public.add((org, login))

    def remove_from_org(self, login: str, org: str) -> None:
        self.state.orgs.get(org, set()).discard(login)
        self.state.public.discard((org, login))
        for (team_org, _), members in self.state.teams.items():
            if team_org == org:
                members.discard(login)

    def add_to_team(self, login: str, org_team: str) -> None:
        org, team = org_team.split(":")
        self.add_to_org(login, org, public=(org, login) in self.state.public)
        self.state.teams.setdefault((org, team), set()).add(login)

    def remove_from_team(self, login: str, org_team: str) -> None:
        org, team = org_team.split(":")
        self.state.teams.get((org, team), set()).discard(login)

    def rename(self, login: str, new_login: str) -> None:
        """The user changes their login: same id, memberships and tokens, the new login."""
        user = self.state.users.pop(login)
        self.state.users[new_login] = {**user, "login": new_login}
        for members in (*self.state.orgs.values(), *self.state.teams.values()):
            if login in members:
                members.discard(login)
                members.add(new_login)
        self.state.public = {(o, new_login if m == login else m) for o, m in self.state.public}
        for grant in (*self.state.tokens.values(), *self.state.codes.values()):
            if grant.login == login:
                grant.login = new_login

    def revoke_tokens(self, login: str) -> None:
        for token, grant in list(self.state.tokens.items()):
            if grant.login == login:
                del self.state.tokens[token]

    def issue_token(self, login: str, scopes: tuple[str, ...] = ("read:org",)) -> dict[str, str]:
        """A token response as the token endpoint gives it, without the browser dance."""
        token = "gho_" + secrets.token_hex(12)
        granted = set(scopes) - self.state.withheld_scopes
        self.state.tokens[token] = Token(login, granted)
        return {"access_token": token, "token_type": "bearer", "scope": ",".join(sorted(granted))}

    def authorize_url(self, **params: str) -> str:
        return httputil.url_concat(f"{self.url}/login/oauth/authorize", params)
