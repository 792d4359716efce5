"""``DirectoryAuthenticator``: Active Directory / LDAP sign-in that never stalls the hub.

The hub process only normalizes names, maps groups and decides; every ldap3 call
runs in a small pool of worker processes (``ldap_pool``) with connect and receive
timeouts, over StartTLS or LDAPS with certificate validation.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import time
from typing import Any
from urllib.parse import urlsplit

from jupyterhub.auth import Authenticator
from tornado import web
from traitlets import Bool, CaselessStrEnum, Dict, Float, Int, List, Set, Unicode, default

from hubplugins.auth.binding import IdentityBindingMixin
from hubplugins.auth.ldap_directory import Settings
from hubplugins.auth.ldap_names import (
    GroupRule,
    LoginRefused,
    bounded,
    matches_any,
    normalize_login,
    short_name,
)
from hubplugins.auth.ldap_pool import UNAVAILABLE, WorkerPool

UNAVAILABLE_MESSAGE = (
    "Sign-in service unavailable: the directory server cannot be reached. "
    "Please try again in a few minutes."
)

_AD_USER_FILTER = "(&(objectCategory=person)(objectClass=user)(sAMAccountName={username}))"
_LDAP_USER_FILTER = "(&(objectClass=inetOrgPerson)(uid={username}))"


class DirectoryAuthenticator(IdentityBindingMixin, Authenticator):
    """Sign in against Active Directory or another LDAP directory (OpenLDAP, 389 DS)."""

    # -- servers and transport ---------------------------------------------------

    server_urls = List(
        Unicode(),
        help="""Directory servers, tried in order (failover): `ldaps://host:636` or
        `ldap://host:389` (StartTLS unless `allow_plaintext`). Required.
        Example: `["ldaps://dc1.ad.example.org", "ldaps://dc2.ad.example.org"]`.""",
    ).tag(config=True)

    tls_ca_file = Unicode(
        None,
        allow_none=True,
        help="""PEM file of the CA(s) that signed the servers' certificates.
        None = the system's trusted CAs. Certificates and host names are always checked.
        Example: `/etc/hub/ad-ca.pem`.""",
    ).tag(config=True)

    allow_plaintext = Bool(
        False,
        help="""Talk plain LDAP on `ldap://` URLs, without StartTLS. Passwords then cross
        the network in clear text; a warning is logged at start. Default: False.""",
    ).tag(config=True)

    connect_timeout = Float(
        3.0,
        help="Seconds to wait for a TCP + TLS connection to one server before the next. "
        "Example: 3.",
    ).tag(config=True)

    receive_timeout = Float(
        10.0,
        help="Seconds to wait for one directory answer before the server counts as down.",
    ).tag(config=True)

    server_retry_after = Float(
        30.0,
        help="Seconds a server that failed is tried last, after the others. 0 = never skip.",
    ).tag(config=True)

    # -- accounts ---------------------------------------------------------------------

    directory_type = CaselessStrEnum(
        ["ad", "ldap"],
        default_value="ad",
        help="""`ad` for Active Directory / Samba AD (sAMAccountName, nested groups by the
        matching rule, `userAccountControl` disabled bit) or `ldap` for OpenLDAP and
        others (uid, nested groups by a bounded transitive lookup).""",
    ).tag(config=True)

    service_account_dn = Unicode(
        "",
        help="""DN (or, on AD, UPN) of a read-only account used to find users and read
        groups (search-then-bind), and to re-check accounts at refresh.
        Empty = bind with `bind_templates` only (no refresh checks).
        Example: `CN=jupyterhub,OU=Service,DC=ad,DC=example,DC=org`.""",
    ).tag(config=True)

    service_account_password = Unicode(
        help="""Password of `service_account_dn`. Defaults to the environment variable
        `DIRECTORY_SERVICE_PASSWORD`. Never logged.""",
    ).tag(config=True)

    @default("service_account_password")
    def _default_service_password(self) -> str:
        return os.environ.get("DIRECTORY_SERVICE_PASSWORD", "")

    bind_templates = List(
        Unicode(),
        help="""Used when no service account is set: bind names tried in order, with
        `{username}` replaced by the normalized login (DN-escaped in DN templates).
        Examples: `["{username}@ad.example.org"]` (UPN),
        `["uid={username},ou=people,dc=example,dc=org"]` (DN).""",
    ).tag(config=True)

    user_search_base = Unicode(
        "",
        help="Base DN under which users are searched. Required. "
        "Example: `DC=ad,DC=example,DC=org`.",
    ).tag(config=True)

    user_search_filter = Unicode(
        help="Filter that finds one account; `{username}` is replaced by the filter-escaped "
        f"login. Default on AD: `{_AD_USER_FILTER}`; elsewhere: `{_LDAP_USER_FILTER}`.",
    ).tag(config=True)

    @default("user_search_filter")
    def _default_user_filter(self) -> str:
        return _AD_USER_FILTER if self.directory_type == "ad" else _LDAP_USER_FILTER

    username_attribute = Unicode(
        help="Attribute whose value, lowercased, is the JupyterHub username. "
        "Default: `sAMAccountName` on AD, `uid` elsewhere.",
    ).tag(config=True)

    @default("username_attribute")
    def _default_username_attribute(self) -> str:
        return "sAMAccountName" if self.directory_type == "ad" else "uid"

    domains = List(
        Unicode(),
        help="""Domains a user may type: `alice@<domain>` or `<domain>\\alice`, compared
        without case. Any other domain is refused. Empty = only plain names.
        Example: `["ad.example.org", "ADEX"]`.""",
    ).tag(config=True)

    max_username_length = Int(
        256,
        help="Longer typed usernames are refused at once, before the directory is asked. "
        "0 = no limit.",
    ).tag(config=True)

    # -- groups -----------------------------------------------------------------

    group_search_base = Unicode(
        "",
        help="Base DN for groups. Empty = `user_search_base`. Example: `OU=Groups,DC=ad,...`.",
    ).tag(config=True)

    group_object_filter = Unicode(
        help="Filter that selects group entries. Default: `(objectClass=group)` on AD, "
        "`(objectClass=groupOfNames)` elsewhere.",
    ).tag(config=True)

    @default("group_object_filter")
    def _default_group_filter(self) -> str:
        if self.directory_type == "ad":
            return "(objectClass=group)"
        return "(objectClass=groupOfNames)"

    group_member_attribute = Unicode(
        "member", help="Attribute of a group that holds its members' DNs."
    ).tag(config=True)

    group_nesting_depth = Int(
        10,
        help="Non-AD directories: how many levels of nested groups are followed "
        "(cycles are cut). 1 = direct membership only.",
    ).tag(config=True)

    group_cache_seconds = Float(
        60.0,
        help="""Non-AD directories: seconds a group's parent groups are cached in each worker
        (nesting is the same for every user and changes rarely). A user's own group
        memberships are always read fresh. 0 = no cache.""",
    ).tag(config=True)

    group_allow_list = List(
        Unicode(),
        help="""Directory groups (short names, i.e. the CN) synced into JupyterHub groups
        with `manage_groups`. Empty = all of a user's groups. Example: `["gpu-beta"]`.""",
    ).tag(config=True)

    group_rename = Dict(
        value_trait=Unicode(),
        help="""Directory group short name -> JupyterHub group name.
        Example: `{"Domain Users": "everyone"}`.""",
    ).tag(config=True)

    allowed_groups = Set(
        Unicode(),
        help="""Users in any of these groups (nested membership counts) may sign in.
        A name matches a group's CN or its JupyterHub name, without case.
        Works together with `allowed_users` and `allow_all`.""",
    ).tag(config=True, allow_config=True)

    admin_groups = Set(
        Unicode(),
        help="""Users in any of these groups are JupyterHub admins; when set, other users
        lose admin at their next sign-in or refresh (unless in `admin_users`).""",
    ).tag(config=True)

    # -- workers ----------------------------------------------------------------

    worker_processes = Int(
        2,
        help="Worker processes that do the directory work (each keeps its connections). "
        "1-8; 2 suits most hubs.",
    ).tag(config=True)

    worker_threads = Int(
        48,
        help="Sign-ins one worker process serves at once (each mostly waits on the network).",
    ).tag(config=True)

    worker_nice = Int(
        5,
        help="""Niceness added to the worker processes (0-19), so that under load the hub's
        own event loop gets the CPU first. 0 = same priority as the hub.""",
    ).tag(config=True)

    spare_connections = Int(
        2,
        help="Per worker: TLS connections opened ahead of time for user binds "
        "(each used once, then unbound). 0 = open one per sign-in.",
    ).tag(config=True)

    # -- start -------------------------------------------------------------------

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self._validate()
        self._group_rule = GroupRule.build(self.group_allow_list, self.group_rename)
        self._pool = WorkerPool(
            self._settings(),
            self.worker_processes,
            timeout=self.connect_timeout * max(1, len(self.server_urls)) + 3 * self.receive_timeout,
            log=self.log,
        )
        if self.allow_plaintext and any(u.lower().startswith("ldap:") for u in self.server_urls):
            self.log.warning(
                "DirectoryAuthenticator.allow_plaintext is set: passwords cross the network "
                "unencrypted to %s",
                ", ".join(self.server_urls),
            )
        if not self.service_account_dn:
            self.log.warning(
                "DirectoryAuthenticator: no service_account_dn; refresh cannot re-check "
                "accounts, so a disabled account keeps access until its cookie expires"
            )
        try:
            loop = asyncio.get_running_loop()
        except RuntimeError:
            return
        self._warmup = loop.create_task(self._pool.start())
        self._warmup.add_done_callback(self._warmed)

    def _warmed(self, task: asyncio.Task) -> None:
        if not task.cancelled() and task.exception() is not None:
            self.log.warning("directory workers did not start: %s", task.exception())

    def _validate(self) -> None:
        name = "DirectoryAuthenticator"
        problems = []
        if not self.server_urls:
            problems.append(f"{name}.server_urls is empty: give at least one ldaps:// URL")
        for url in self.server_urls:
            parts = urlsplit(url)
            if parts.scheme.lower() not in ("ldap", "ldaps") or not parts.hostname:
                problems.append(f"{name}.server_urls: {url!r} is not ldap://host or ldaps://host")
        if not self.user_search_base:
            problems.append(f"{name}.user_search_base is empty")
        if self.service_account_dn and not self.service_account_password:
            problems.append(f"{name}.service_account_password is empty")
        if not self.service_account_dn and not self.bind_templates:
            problems.append(f"{name}: set service_account_dn or bind_templates")
        for template in self.bind_templates:
            if "{username}" not in template:
                problems.append(f"{name}.bind_templates: {template!r} lacks {{username}}")
        if "{username}" not in self.user_search_filter:
            problems.append(f"{name}.user_search_filter lacks {{username}}")
        if self.tls_ca_file and not os.path.isfile(self.tls_ca_file):
            problems.append(f"{name}.tls_ca_file: no such file {self.tls_ca_file!r}")
        if not 1 <= self.worker_processes <= 8:
            problems.append(f"{name}.worker_processes must be 1-8")
        if self.worker_threads < 1 or self.group_nesting_depth < 1:
            problems.append(f"{name}.worker_threads and group_nesting_depth must be >= 1")
        if problems:
            raise ValueError("; ".join(problems))

    def _settings(self) -> Settings:
        return Settings(
            servers=list(self.server_urls),
            ca_file=self.tls_ca_file,
            allow_plaintext=self.allow_plaintext,
            connect_timeout=self.connect_timeout,
            receive_timeout=self.receive_timeout,
            server_retry_after=self.server_retry_after,
            service_dn=self.service_account_dn,
            service_password=self.service_account_password,
            bind_templates=list(self.bind_templates),
            user_search_base=self.user_search_base,
            user_search_filter=self.user_search_filter,
            username_attribute=self.username_attribute,
            active_directory=self.directory_type == "ad",
            group_search_base=self.group_search_base,
            group_object_filter=self.group_object_filter,
            group_member_attribute=self.group_member_attribute,
            group_nesting_depth=self.group_nesting_depth,
            group_cache_seconds=self.group_cache_seconds,
            threads=self.worker_threads,
            spare_connections=self.spare_connections,
            nice=self.worker_nice,
        )

    async def close(self) -> None:
        """Stop the worker processes (tests and embedding; the hub's exit closes them too)."""
        warmup = getattr(self, "_warmup", None)
        if warmup is not None:
            with contextlib.suppress(Exception):
                await warmup
        await self._pool.close()

    # -- sign-in ------------------------------------------------------------------

    def _log_outcome(self, typed: str, outcome: str, result: dict, started: float) -> None:
        self.log.info(
            "directory sign-in username=%s outcome=%s server=%s duration_ms=%.0f%s",
            bounded(typed),
            outcome,
            result.get("server") or "-",
            (time.perf_counter() - started) * 1000,
            f" detail={result['detail']!r}" if result.get("detail") else "",
        )

    async def authenticate(self, handler: Any, data: dict[str, str]) -> dict | None:
        started = time.perf_counter()
        typed = str(data.get("username") or "")
        password = str(data.get("password") or "")
        try:
            login = normalize_login(typed, self.domains, self.max_username_length)
        except LoginRefused as exc:
            self._log_outcome(typed, "refused", {"detail": exc.reason}, started)
            return None
        if not password.strip():
            self._log_outcome(typed, "refused", {"detail": "empty password"}, started)
            return None
        result = await self._pool.call("login", {"login": login, "password": password})
        outcome = result.get("outcome", UNAVAILABLE)
        if outcome == UNAVAILABLE:
            self._log_outcome(typed, outcome, result, started)
            raise web.HTTPError(503, UNAVAILABLE_MESSAGE)
        if outcome == "ok" and (result.get("name") or login).lower() != login:
            # the directory matched a look-alike (e.g. full-width letters): refuse
            outcome = "name_mismatch"
        if outcome != "ok":
            self._log_outcome(typed, outcome, result, started)
            return None
        model = self._auth_model(result, login)
        if not self.check_allowed(model["name"], model):
            self._log_outcome(typed, "not_allowed", result, started)
        else:
            self._log_outcome(typed, "ok", result, started)
        return model

    # -- the stable identity (see hubplugins.auth.binding) ---------------------------

    identity_provider = "directory"

    def stable_identity(self, auth_model: dict) -> str | None:
        return (auth_model.get("auth_state") or {}).get("directory_id")

    def _auth_model(self, result: dict, login: str) -> dict:
        name = (result.get("name") or login).lower()
        dns = list(result.get("groups") or [])
        shorts = [short_name(dn) for dn in dns]
        mapped = self._group_rule.map(dns)
        model: dict[str, Any] = {
            "name": name,
            "auth_state": {
                "dn": result.get("dn"),
                "directory_groups": shorts,
                "directory_id": result.get("guid"),  # objectGUID / entryUUID
            },
        }
        if self.manage_groups:
            model["groups"] = mapped
        if self.admin_groups:
            model["admin"] = name in self.admin_users or matches_any(
                self.admin_groups, shorts, mapped
            )
        if result.get("groups_truncated"):
            self.log.warning(
                "directory groups of %s cut at group_nesting_depth=%d",
                name,
                self.group_nesting_depth,
            )
        return model

    def check_allowed(self, username: str, authentication: dict | None = None) -> bool:
        if super().check_allowed(username, authentication):
            return True
        if self.allowed_groups and authentication:
            state = authentication.get("auth_state") or {}
            shorts = state.get("directory_groups") or []
            mapped = self._group_rule.map_names(shorts)
            return matches_any(self.allowed_groups, shorts, mapped)
        return False

    # -- staying current ----------------------------------------------------------

    async def refresh_user(self, user: Any, handler: Any = None) -> bool | dict:
        if not self.service_account_dn:
            return True
        started = time.perf_counter()
        state = await user.get_auth_state() or {}
        result = await self._pool.call("lookup", {"login": user.name, "dn": state.get("dn")})
        outcome = result.get("outcome", UNAVAILABLE)
        if outcome == UNAVAILABLE:
            self._log_outcome(user.name, "refresh_unavailable", result, started)
            return True
        if outcome != "ok":
            self._log_outcome(user.name, f"refresh_{outcome}", result, started)
            return False
        model = self._auth_model(result, user.name)
        if model["name"] != user.name or not self.check_allowed(user.name, model):
            self._log_outcome(user.name, "refresh_not_allowed", result, started)
            return False
        return model
