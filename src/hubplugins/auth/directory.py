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

from jupyterhub.auth import Authenticator
from tornado import web
from traitlets import Bool, CaselessStrEnum, Dict, Float, Int, List, Set, Unicode, default

from hubplugins.auth.binding import IdentityBindingMixin
from hubplugins.auth.directory_access import AccessMixin
from hubplugins.auth.directory_config import validate, worker_settings
from hubplugins.auth.ldap_account import REVOKED_STATES
from hubplugins.auth.ldap_names import (
    GroupRule,
    LoginRefused,
    bounded,
    normalize_login,
)
from hubplugins.auth.ldap_pool import UNAVAILABLE, WorkerPool
from hubplugins.hub import identity
from hubplugins.hub.refusals import refuse
from hubplugins.hub.trait_help import example, trait_help
from hubplugins.policy.rules.sign_in import account_revoked, name_reused

UNAVAILABLE_MESSAGE = (
    "Sign-in service unavailable: the directory server cannot be reached. "
    "Please try again in a few minutes."
)

_AD_USER_FILTER = "(&(objectCategory=person)(objectClass=user)(sAMAccountName={username}))"
_LDAP_USER_FILTER = "(&(objectClass=inetOrgPerson)(uid={username}))"


class DirectoryAuthenticator(IdentityBindingMixin, AccessMixin, Authenticator):
    """Sign in against Active Directory or another LDAP directory (OpenLDAP, 389 DS)."""

    # -- servers and transport ---------------------------------------------------

    server_urls = List(
        Unicode(),
        config=True,
        help=trait_help(
            """
            Directory servers, tried in order (failover): ``ldaps://host:636`` or
            ``ldap://host:389`` (StartTLS unless ``allow_plaintext``). Required:
            empty (the default) stops the hub at start.
            """,
            example(
                "DirectoryAuthenticator",
                "server_urls",
                ["ldaps://dc1.ad.example.org", "ldaps://dc2.ad.example.org"],
            ),
        ),
    )

    tls_ca_file = Unicode(
        None,
        allow_none=True,
        config=True,
        help=trait_help(
            """
            PEM file of the CA(s) that signed the servers' certificates, e.g. a
            Secret mounted into the hub pod. ``None`` (the default) means the
            system's trusted CAs. Certificates and host names are always checked;
            a file that does not exist stops the hub at start.
            """,
            example("DirectoryAuthenticator", "tls_ca_file", "/etc/hub/ad-ca.pem"),
        ),
    )

    allow_plaintext = Bool(
        False,
        config=True,
        help=trait_help(
            """
            Talk plain LDAP on ``ldap://`` URLs, without StartTLS. Passwords then
            cross the network in clear text; a warning is logged at start. False
            (the default) means ``ldap://`` URLs always use StartTLS. Meant for a
            test directory only.
            """,
            example("DirectoryAuthenticator", "allow_plaintext", True),
        ),
    )

    connect_timeout = Float(
        3.0,
        config=True,
        help=trait_help(
            """
            Seconds to wait for a TCP + TLS connection to one server before trying
            the next (default 3).
            """,
            example("DirectoryAuthenticator", "connect_timeout", 5),
        ),
    )

    receive_timeout = Float(
        10.0,
        config=True,
        help=trait_help(
            """
            Seconds to wait for one directory answer before the server counts as
            down (default 10).
            """,
            example("DirectoryAuthenticator", "receive_timeout", 20),
        ),
    )

    server_retry_after = Float(
        30.0,
        config=True,
        help=trait_help(
            """
            Seconds a server that failed is tried last, after the others (default
            30). 0 means never skip: every sign-in tries the servers in order.
            """,
            example("DirectoryAuthenticator", "server_retry_after", 120),
        ),
    )

    # -- accounts ---------------------------------------------------------------------

    directory_type = CaselessStrEnum(
        ["ad", "ldap"],
        default_value="ad",
        config=True,
        help=trait_help(
            """
            ``ad`` (the default) for Active Directory / Samba AD (sAMAccountName,
            nested groups by the matching rule, ``userAccountControl`` disabled
            bit) or ``ldap`` for OpenLDAP and others (uid, nested groups by a
            bounded transitive lookup). Compared without case. It sets the
            defaults of ``user_search_filter``, ``username_attribute``,
            ``group_object_filter`` and ``account_lock_attributes``.
            """,
            example("DirectoryAuthenticator", "directory_type", "ldap"),
        ),
    )

    service_account_dn = Unicode(
        "",
        config=True,
        help=trait_help(
            """
            DN (or, on AD, UPN) of a read-only account used to find users and read
            groups (search-then-bind), and to re-check accounts at refresh. Empty
            (the default) means bind with ``bind_templates`` only, and no refresh
            checks: a disabled account keeps access until its cookie expires (a
            warning is logged at start).
            """,
            example(
                "DirectoryAuthenticator",
                "service_account_dn",
                "CN=jupyterhub,OU=Service,DC=ad,DC=example,DC=org",
            ),
        ),
    )

    service_account_password = Unicode(
        config=True,
        help=trait_help(
            """
            Password of ``service_account_dn``. Defaults to the environment
            variable ``DIRECTORY_SERVICE_PASSWORD`` (in the chart, from a Secret
            with ``hub.extraEnv``), which keeps it out of the config; empty with a
            ``service_account_dn`` stops the hub at start. Never logged.
            """,
            example("DirectoryAuthenticator", "service_account_password", "the-password"),
        ),
    )

    @default("service_account_password")
    def _default_service_password(self) -> str:
        return os.environ.get("DIRECTORY_SERVICE_PASSWORD", "")

    bind_templates = List(
        Unicode(),
        config=True,
        help=trait_help(
            """
            Used when no ``service_account_dn`` is set: bind names tried in order,
            with ``{username}`` replaced by the normalized login (DN-escaped in DN
            templates); a template without ``{username}`` stops the hub at start.
            Empty (the default) needs a ``service_account_dn``. A UPN template
            suits AD, a DN template other directories
            (``uid={username},ou=people,dc=example,dc=org``).
            """,
            example("DirectoryAuthenticator", "bind_templates", ["{username}@ad.example.org"]),
        ),
    )

    user_search_base = Unicode(
        "",
        config=True,
        help=trait_help(
            """
            Base DN under which users are searched. Required: empty (the default)
            stops the hub at start.
            """,
            example("DirectoryAuthenticator", "user_search_base", "DC=ad,DC=example,DC=org"),
        ),
    )

    user_search_filter = Unicode(
        config=True,
        help=trait_help(
            f"""
            LDAP filter that finds one account; ``{{username}}`` is replaced by the
            filter-escaped login (a filter without it stops the hub at start).
            Default on AD: ``{_AD_USER_FILTER}``; elsewhere:
            ``{_LDAP_USER_FILTER}``. Add conditions to refuse accounts, e.g. those
            outside a department.
            """,
            example(
                "DirectoryAuthenticator",
                "user_search_filter",
                "(&(objectClass=inetOrgPerson)(uid={username})(!(employeeType=disabled)))",
            ),
        ),
    )

    @default("user_search_filter")
    def _default_user_filter(self) -> str:
        return _AD_USER_FILTER if self.directory_type == "ad" else _LDAP_USER_FILTER

    username_attribute = Unicode(
        config=True,
        help=trait_help(
            """
            Attribute whose value, lowercased, is the JupyterHub username. Default:
            ``sAMAccountName`` on AD, ``uid`` elsewhere.
            """,
            example("DirectoryAuthenticator", "username_attribute", "cn"),
        ),
    )

    @default("username_attribute")
    def _default_username_attribute(self) -> str:
        return "sAMAccountName" if self.directory_type == "ad" else "uid"

    domains = List(
        Unicode(),
        config=True,
        help=trait_help(
            """
            Domains a user may type: ``alice@<domain>`` or ``<domain>\\alice``,
            compared without case. Any other domain is refused. Empty (the
            default) means only plain names.
            """,
            example("DirectoryAuthenticator", "domains", ["ad.example.org", "ADEX"]),
        ),
    )

    account_lock_attributes = List(
        Unicode(),
        config=True,
        help=trait_help(
            """
            Non-AD directories: attributes whose presence on a user's entry means
            the account is locked (refused at sign-in, signed out at refresh).
            Default: ``["pwdAccountLockedTime"]`` (OpenLDAP password policy) on
            ``ldap``, ``[]`` on AD; empty means none. Accounts disabled some other
            way are best excluded by ``user_search_filter``. On AD
            ``userAccountControl``, ``accountExpires`` and ``lockoutTime`` are
            always read.
            """,
            example(
                "DirectoryAuthenticator",
                "account_lock_attributes",
                ["pwdAccountLockedTime", "nsAccountLock"],
            ),
        ),
    )

    @default("account_lock_attributes")
    def _default_lock_attributes(self) -> list[str]:
        return [] if self.directory_type == "ad" else ["pwdAccountLockedTime"]

    max_username_length = Int(
        256,
        config=True,
        help=trait_help(
            """
            Longest username (in characters, as typed) that is sent to the
            directory (default 256); longer ones are refused at once. 0 means no
            limit.
            """,
            example("DirectoryAuthenticator", "max_username_length", 64),
        ),
    )

    # -- groups -----------------------------------------------------------------

    group_search_base = Unicode(
        "",
        config=True,
        help=trait_help(
            """
            Base DN for groups. Groups named by CN (in ``allowed_groups``,
            ``admin_groups``, ``group_allow_list``, ``group_rename``) and groups
            synced with ``manage_groups`` count only under it: a group of the same
            CN elsewhere grants nothing. Groups given as full DNs count wherever
            they are. Required when groups are named by CN or synced (the hub
            stops at start otherwise); empty (the default) suits groups named by
            DN only.
            """,
            example(
                "DirectoryAuthenticator", "group_search_base", "OU=Groups,DC=ad,DC=example,DC=org"
            ),
        ),
    )

    include_distribution_groups = Bool(
        False,
        config=True,
        help=trait_help(
            """
            AD: let distribution groups (mailing lists, ``groupType`` without the
            security bit 0x80000000) count for ``allowed_groups``,
            ``admin_groups`` and synced groups. False (the default) means only
            security groups count.
            """,
            example("DirectoryAuthenticator", "include_distribution_groups", True),
        ),
    )

    group_object_filter = Unicode(
        config=True,
        help=trait_help(
            """
            LDAP filter that selects group entries. Default: ``(objectClass=group)``
            on AD, ``(objectClass=groupOfNames)`` elsewhere.
            """,
            example(
                "DirectoryAuthenticator", "group_object_filter", "(objectClass=groupOfUniqueNames)"
            ),
        ),
    )

    @default("group_object_filter")
    def _default_group_filter(self) -> str:
        if self.directory_type == "ad":
            return "(objectClass=group)"
        return "(objectClass=groupOfNames)"

    group_member_attribute = Unicode(
        "member",
        config=True,
        help=trait_help(
            """
            Attribute of a group entry that holds its members' DNs (default
            ``member``).
            """,
            example("DirectoryAuthenticator", "group_member_attribute", "uniqueMember"),
        ),
    )

    group_nesting_depth = Int(
        10,
        config=True,
        help=trait_help(
            """
            Non-AD directories: how many levels of nested groups are followed
            (default 10; cycles are cut). 1 means direct membership only; less
            than 1 stops the hub at start. A user whose groups were cut is logged.
            """,
            example("DirectoryAuthenticator", "group_nesting_depth", 3),
        ),
    )

    group_cache_seconds = Float(
        60.0,
        config=True,
        help=trait_help(
            """
            Non-AD directories: seconds a group's parent groups are cached in each
            worker (default 60; nesting is the same for every user and changes
            rarely). A user's own group memberships are always read fresh. 0 means
            no cache.
            """,
            example("DirectoryAuthenticator", "group_cache_seconds", 300),
        ),
    )

    group_allow_list = List(
        Unicode(),
        config=True,
        help=trait_help(
            """
            Directory groups synced into JupyterHub groups with ``manage_groups``,
            by CN (under ``group_search_base``) or full DN. Empty (the default)
            means all of a user's groups under ``group_search_base``.
            """,
            example(
                "DirectoryAuthenticator",
                "group_allow_list",
                ["gpu-beta", "CN=hpc,OU=Projects,DC=ad,DC=example,DC=org"],
            ),
        ),
    )

    group_rename = Dict(
        value_trait=Unicode(),
        config=True,
        help=trait_help(
            """
            Directory group (CN under ``group_search_base``, or full DN) ->
            JupyterHub group name, for the groups synced with ``manage_groups``.
            Empty (the default) means a synced group keeps its CN.
            """,
            example("DirectoryAuthenticator", "group_rename", {"Domain Users": "everyone"}),
        ),
    )

    allowed_groups = Set(
        Unicode(),
        config=True,
        help=trait_help(
            """
            Users in any of these groups (nested membership counts) may sign in.
            A name is a full DN, or a CN / JupyterHub group name of a group under
            ``group_search_base``, compared without case. Works together with
            ``allowed_users`` and ``allow_all``. Empty (the default) means group
            membership allows no one.
            """,
            example(
                "DirectoryAuthenticator",
                "allowed_groups",
                {"CN=hpc,OU=Projects,DC=ad,DC=example,DC=org", "jupyter-users"},
            ),
        ),
    ).tag(allow_config=True)

    admin_groups = Set(
        Unicode(),
        config=True,
        help=trait_help(
            """
            Users in any of these groups (full DN, or CN under
            ``group_search_base``) are JupyterHub admins; when set, other users
            lose admin at their next sign-in or refresh (unless in
            ``admin_users``). Empty (the default) means admin status is not taken
            from the directory.
            """,
            example("DirectoryAuthenticator", "admin_groups", {"hub-admins"}),
        ),
    )

    # -- workers ----------------------------------------------------------------

    worker_processes = Int(
        2,
        config=True,
        help=trait_help(
            """
            Worker processes that do the directory work, each keeping its own
            connections (default 2, which suits most hubs). 1-8: other values stop
            the hub at start.
            """,
            example("DirectoryAuthenticator", "worker_processes", 4),
        ),
    )

    worker_threads = Int(
        48,
        config=True,
        help=trait_help(
            """
            Sign-ins one worker process serves at once (default 48; each mostly
            waits on the network). At least 1: less stops the hub at start.
            """,
            example("DirectoryAuthenticator", "worker_threads", 96),
        ),
    )

    worker_nice = Int(
        5,
        config=True,
        help=trait_help(
            """
            Niceness added to the worker processes (0-19, default 5), so that under
            load the hub's own event loop gets the CPU first. 0 means the same
            priority as the hub.
            """,
            example("DirectoryAuthenticator", "worker_nice", 10),
        ),
    )

    spare_connections = Int(
        2,
        config=True,
        help=trait_help(
            """
            Per worker process: TLS connections opened ahead of time for user binds
            (default 2; each is used once, then unbound). 0 means open one per
            sign-in.
            """,
            example("DirectoryAuthenticator", "spare_connections", 4),
        ),
    )

    # -- start -------------------------------------------------------------------

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        validate(self)
        self._group_rule = GroupRule.build(
            self.group_search_base, self.group_allow_list, self.group_rename
        )
        self._pool = WorkerPool(
            worker_settings(self),
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
            if outcome in REVOKED_STATES:  # the password was right: say why
                raise refuse(self.log, "sign-in", account_revoked(outcome), user=login)
            return None
        model = self._auth_model(result, login)
        if await self._name_reused(handler, model):
            self._log_outcome(typed, "replaced", result, started)
            raise refuse(self.log, "sign-in", name_reused(), user=login)
        if not self.check_allowed(model["name"], model):
            self._log_outcome(typed, "not_allowed", result, started)
        else:
            self._log_outcome(typed, "ok", result, started)
        return model

    # -- the stable identity (see hubplugins.auth.binding) ---------------------------

    identity_provider = "directory"

    def stable_identity(self, auth_model: dict) -> str | None:
        return (auth_model.get("auth_state") or {}).get("directory_id")

    async def _name_reused(self, handler: Any, model: dict) -> bool:
        """Whether the hub's user of this name was signed in from another directory entry
        (a deleted account's name given to someone else): then they must not inherit it."""
        new_id = model["auth_state"].get("directory_id")
        find_user = getattr(handler, "find_user", None)
        if not new_id or find_user is None or not self.enable_auth_state:
            return False
        # the hub's name: on a combined page, behind this method's prefix
        user = find_user(getattr(self, "username_prefix", "") + model["name"])
        if user is None:
            return False
        db = getattr(handler, "db", None)
        if db is not None and identity.link(db, user.id)[1]:
            return False  # the binding decides (an admin may have re-linked or unlinked it)
        old_id = (await user.get_auth_state() or {}).get("directory_id")
        return bool(old_id) and old_id != new_id

    def _auth_model(self, result: dict, login: str) -> dict:
        name = (result.get("name") or login).lower()
        dns = list(result.get("groups") or [])
        model: dict[str, Any] = {
            "name": name,
            "auth_state": {
                "dn": result.get("dn"),
                "directory_id": result.get("id"),
                "directory_groups": self._group_rule.named(dns),
                "directory_group_dns": dns,
            },
        }
        if self.manage_groups:
            model["groups"] = self._group_rule.map(dns)
        if self.admin_groups:
            model["admin"] = name in self.admin_users or self._group_rule.matches(
                self.admin_groups, dns
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
            dns = state.get("directory_group_dns") or []
            return self._group_rule.matches(self.allowed_groups, dns)
        return False

    # -- staying current: refresh_user and pre_spawn_start are in AccessMixin ---------

    async def recheck(self, user: Any) -> tuple[str, dict[str, Any] | None]:
        """Look the account up again: ("ok", fresh model), ("unavailable", None), or
        (why access ends: not_found, disabled, expired, locked, not_allowed, ..., None)."""
        started = time.perf_counter()
        state = await user.get_auth_state() or {}
        saved_id = state.get("directory_id") or self.bound_subject(user)
        result = await self._pool.call(
            "lookup", {"login": user.name, "dn": state.get("dn"), "entry_id": saved_id}
        )
        outcome = result.get("outcome", UNAVAILABLE)
        model = None
        if outcome == "ok":
            model = self._auth_model(result, user.name)
            if saved_id and result.get("id") and saved_id != result["id"]:
                outcome = "replaced"
            elif model["name"] != user.name and not (saved_id and saved_id == result.get("id")):
                outcome = "name_mismatch"  # renamed with the same entry: kept (binding)
            elif self.check_blocked_users(user.name, model) is False:
                outcome = "blocked"
            elif not self.check_allowed(user.name, model):
                outcome = "not_allowed"
        if outcome != "ok":
            self._log_outcome(user.name, f"recheck_{outcome}", result, started)
            return outcome, None
        return outcome, model
