"""Shared pieces of the GitHub sign-in tests: the local GitHub's world and the OAuth walk."""

from __future__ import annotations

import secrets
import textwrap

from harness.oauth import sign_in
from services.fake_github import FakeGitHub

ORG = "bioimage-io"
TEAM = "bioimage-io:gpu-beta"
ADMINS = "bioimage-io:hub-admins"

# the configuration of docs/github.md, pointed at the local GitHub
GITHUB_CONFIG = """\
c.JupyterHub.authenticator_class = "hubplugins.GitHubAuthenticator"
c.Authenticator.allow_all = False
c.JupyterHub.redirect_to_server = False
c.GitHubAuthenticator.github_url = {url!r}
c.GitHubAuthenticator.client_id = {client_id!r}
c.GitHubAuthenticator.client_secret = {client_secret!r}
c.GitHubAuthenticator.allowed_organizations = {{"bioimage-io"}}
c.GitHubAuthenticator.admin_teams = {{"bioimage-io:hub-admins"}}
c.GitHubAuthenticator.group_map = {{
    "bioimage-io": ["authenticated"],
    "bioimage-io:gpu-beta": ["gpu-beta"],
}}
"""

# GitHub (names prefixed gh-) and the DirectoryAuthenticator on one page
WITH_DIRECTORY = """\
c.JupyterHub.authenticator_class = "hubplugins.auth.multi.MultiAuthenticator"
c.MultiAuthenticator.authenticators = [
    {"class": "hubplugins.GitHubAuthenticator", "url_prefix": "github",
     "username_prefix": "gh-"},
    {"class": "directory", "url_prefix": "directory",
     "title": "Sign in with your institute account"},
]
c.DirectoryAuthenticator.manage_groups = True
c.DirectoryAuthenticator.allowed_groups = {"staff"}
c.DirectoryAuthenticator.worker_processes = 1
"""


def with_directory(directory_config: dict[str, object]) -> str:
    """WITH_DIRECTORY plus the settings of one test directory server."""
    lines = [f"c.DirectoryAuthenticator.{k} = {v!r}" for k, v in directory_config.items()]
    return WITH_DIRECTORY + "\n".join(lines) + "\n"


def github_config(github: FakeGitHub, extra: str = "") -> str:
    text = GITHUB_CONFIG.format(
        url=github.url, client_id=github.client_id, client_secret=github.client_secret
    )
    return text + textwrap.dedent(extra)


def populate(server: FakeGitHub) -> None:
    """The test users: members, a team member, an admin, outsiders."""
    server.add_user("alice", orgs=[ORG], teams=[TEAM])
    server.add_user("bob", orgs=[ORG])
    server.add_user("carol")
    server.add_user("dave", orgs=[ORG], teams=[ADMINS])
    server.add_user("erin", orgs=["other-org"])


def crypt_env() -> dict[str, str]:
    return {"JUPYTERHUB_CRYPT_KEY": secrets.token_hex(32)}


# the sign-in walk is the harness's, for every provider
oauth_sign_in = sign_in
