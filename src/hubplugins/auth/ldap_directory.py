"""Blocking ldap3 work for one worker process: servers, kept connections, login, lookup.

Runs only inside a worker process (see ``ldap_worker``), never in the hub's
process: ldap3 is pure Python and holds the GIL for its whole exchange.

Connections kept alive across requests:

* service-account connections (one per concurrent request, reused), and
* a few spare anonymous TLS connections, opened ahead of time, each used for
  exactly one user bind and then unbound; a replacement is opened in the
  background.

A login with a service account is two round trips on kept connections: the
user search, then the user bind and the group search at the same time.
"""

from __future__ import annotations

import math
import queue
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlsplit

from ldap3 import BASE, NONE, SIMPLE, SUBTREE, Connection, Server
from ldap3.core.exceptions import LDAPException
from ldap3.utils.conv import escape_bytes, escape_filter_chars
from ldap3.utils.dn import escape_rdn

from hubplugins.auth.ldap_account import (
    account_state,
    ad_bind_name,
    ad_bound_dn,
    bind_refusal,
    domain_root,
    who_am_i,
)
from hubplugins.auth.ldap_names import dn_under
from hubplugins.auth.ldap_tls import CheckedTls

AD_MATCHING_RULE = "1.2.840.113556.1.4.1941"
AD_BIT_AND_RULE = "1.2.840.113556.1.4.803"
AD_SECURITY_GROUP = 0x80000000
INVALID_CREDENTIALS = 49
AD_ACCOUNT_ATTRIBUTES = ["sAMAccountName", "userAccountControl", "accountExpires", "lockoutTime"]


class Unavailable(Exception):
    """No configured server answered."""


@dataclass
class Settings:
    servers: list[str]
    ca_file: str | None = None
    allow_plaintext: bool = False
    connect_timeout: float = 3.0
    receive_timeout: float = 10.0
    server_retry_after: float = 30.0
    service_dn: str = ""
    service_password: str = ""
    bind_templates: list[str] = field(default_factory=list)
    user_search_base: str = ""
    user_search_filter: str = ""
    username_attribute: str = "uid"
    active_directory: bool = False
    group_search_base: str = ""
    security_groups_only: bool = True
    lock_attributes: list[str] = field(default_factory=list)
    id_attribute: str = ""  # objectGUID / entryUUID: tells a reused name from its old owner
    group_object_filter: str = "(objectClass=groupOfNames)"
    group_member_attribute: str = "member"
    group_nesting_depth: int = 10
    group_cache_seconds: float = 60.0
    threads: int = 48
    spare_connections: int = 2
    spare_max_age: float = 30.0
    nice: int = 5


@dataclass
class _Endpoint:
    url: str
    server: Server
    starttls: bool
    down_until: float = 0.0


class Directory:
    """The directory as seen from one worker process. Thread-safe."""

    def __init__(self, settings: Settings) -> None:
        self.s = settings
        tls = CheckedTls(ca_certs_file=settings.ca_file)
        self.endpoints: list[_Endpoint] = []
        for url in settings.servers:
            parts = urlsplit(url)
            ldaps = parts.scheme.lower() == "ldaps"
            server = Server(
                parts.hostname or "",
                port=parts.port or (636 if ldaps else 389),
                use_ssl=ldaps,
                tls=tls,
                get_info=NONE,
                connect_timeout=settings.connect_timeout,
            )
            starttls = not ldaps and not settings.allow_plaintext
            self.endpoints.append(_Endpoint(url, server, starttls))
        self._service: queue.LifoQueue[tuple[Connection, str]] = queue.LifoQueue()
        self._spares: queue.LifoQueue[tuple[Connection, str, float]] = queue.LifoQueue()
        self._aux = ThreadPoolExecutor(max(2, settings.threads), thread_name_prefix="ldap-aux")
        self._lock = threading.Lock()
        self._refilling = 0
        self._parent_cache: dict[str, tuple[float, list[str]]] = {}
        self._filling: set[str] = set()

    # -- connections ---------------------------------------------------------

    def _open(self, user: str | None = None, password: str | None = None) -> tuple[Connection, str]:
        """Open (and bind, when given credentials) on the first server that answers."""
        now = time.monotonic()
        order = [e for e in self.endpoints if e.down_until <= now]
        order += [e for e in self.endpoints if e.down_until > now]
        errors = []
        for ep in order:
            conn = Connection(
                ep.server,
                user=user,
                password=password,
                receive_timeout=max(1, math.ceil(self.s.receive_timeout)),  # ldap3 wants int
                raise_exceptions=False,
                read_only=True,
                auto_referrals=False,
            )
            try:
                conn.open()
                if ep.starttls:
                    conn.start_tls()
            except (LDAPException, OSError) as exc:
                ep.down_until = time.monotonic() + self.s.server_retry_after
                errors.append(f"{ep.url}: {type(exc).__name__}")
                _close(conn)
                continue
            ep.down_until = 0.0
            if user is not None and not conn.bind():
                _close(conn)
                raise Unavailable(f"service account bind refused on {ep.url}")
            return conn, ep.url
        raise Unavailable("; ".join(errors) or "no server configured")

    def _service_call(self, fn: Any) -> Any:
        """Run ``fn(conn)`` on a kept service connection; one retry on a fresh one."""
        for attempt in (1, 2):
            try:
                conn, url = self._service.get_nowait()
            except queue.Empty:
                conn, url = self._open(self.s.service_dn, self.s.service_password)
            try:
                value = fn(conn)
            except LDAPException:
                _close(conn)
                if attempt == 2:
                    raise Unavailable(f"{url}: connection lost") from None
                continue
            self._service.put((conn, url))
            return value, url
        raise AssertionError("unreachable")

    def _take_spare(self) -> tuple[Connection, str]:
        now = time.monotonic()
        while True:
            try:
                conn, url, born = self._spares.get_nowait()
            except queue.Empty:
                return self._open()
            if now - born < self.s.spare_max_age and not conn.closed:
                return conn, url
            _close(conn)

    def refill_spares(self) -> None:
        with self._lock:
            missing = self.s.spare_connections - self._spares.qsize() - self._refilling
            if missing <= 0:
                return
            self._refilling += missing
        for _ in range(missing):
            self._aux.submit(self._add_spare)

    def _add_spare(self) -> None:
        try:
            conn, url = self._open()
            self._spares.put((conn, url, time.monotonic()))
        except Unavailable:
            pass
        finally:
            with self._lock:
                self._refilling -= 1

    # -- directory reads -----------------------------------------------------

    def _user_filter(self, login: str) -> str:
        return self.s.user_search_filter.replace("{username}", escape_filter_chars(login))

    def _find_user(
        self, conn: Connection, login: str, dn: str | None = None, bound_name: str | None = None
    ) -> list[dict]:
        """Entries that ``user_search_filter`` finds for ``login`` (always applied).

        ``dn``: only that entry (it must lie under ``user_search_base``);
        ``bound_name``: only the account of that ``sAMAccountName`` (AD "Who am I?").
        """
        attrs = [self.s.username_attribute]
        attrs += AD_ACCOUNT_ATTRIBUTES if self.s.active_directory else self.s.lock_attributes
        if self.s.id_attribute:
            attrs.append(self.s.id_attribute)
        flt = self._user_filter(login)
        if bound_name is not None:
            flt = f"(&{flt}(sAMAccountName={escape_filter_chars(bound_name)}))"
        if dn is not None:
            if not dn_under(dn, self.s.user_search_base):
                return []
            conn.search(dn, flt, BASE, attributes=attrs, size_limit=1)
        else:
            conn.search(self.s.user_search_base, flt, SUBTREE, attributes=attrs, size_limit=2)
        return [r for r in (conn.response or []) if r.get("type") == "searchResEntry"]

    def _find_by_id(self, conn: Connection, entry_id: str) -> list[dict]:
        """The entry ``user_search_filter`` admits (any name) whose id is ``entry_id``."""
        try:
            raw = bytes.fromhex(entry_id)
        except ValueError:
            return []
        # entryUUID is text (ldap3 checks its syntax), objectGUID 16 raw bytes
        text = raw.decode("ascii", "replace")
        value = escape_filter_chars(text) if text.isprintable() else escape_bytes(raw)
        anyone = self.s.user_search_filter.replace("{username}", "*")
        flt = f"(&{anyone}({self.s.id_attribute}={value}))"
        attrs = [self.s.username_attribute, self.s.id_attribute]
        attrs += AD_ACCOUNT_ATTRIBUTES if self.s.active_directory else self.s.lock_attributes
        conn.search(self.s.user_search_base, flt, SUBTREE, attributes=attrs, size_limit=2)
        return [r for r in (conn.response or []) if r.get("type") == "searchResEntry"]

    def _groups(self, conn: Connection, user_dn: str) -> tuple[list[str], bool]:
        """DNs of every group the user is in, directly or through nesting; (dns, truncated)."""
        base = self.s.group_search_base or self.s.user_search_base
        member = self.s.group_member_attribute
        if self.s.active_directory:
            security = (
                f"(groupType:{AD_BIT_AND_RULE}:={AD_SECURITY_GROUP})"
                if self.s.security_groups_only
                else ""
            )
            flt = (
                f"(&{self.s.group_object_filter}{security}"
                f"({member}:{AD_MATCHING_RULE}:={escape_filter_chars(user_dn)}))"
            )
            conn.search(base, flt, SUBTREE, attributes=["cn"])
            entries = conn.response or []
            return [r["dn"] for r in entries if r.get("type") == "searchResEntry"], False
        seen: dict[str, str] = {}
        frontier = self._search_parents(conn, [user_dn])  # direct membership: always fresh
        for level in range(1, self.s.group_nesting_depth + 1):
            fresh = [dn for dn in frontier if dn.casefold() not in seen]  # cycle guard
            for dn in fresh:
                seen[dn.casefold()] = dn
            if not fresh:
                return sorted(seen.values()), False
            if level == self.s.group_nesting_depth:
                break
            frontier = self._parents_of_groups(conn, fresh)
        return sorted(seen.values()), True  # depth bound reached: there may be more

    def _search_parents(self, conn: Connection, dns: list[str]) -> list[str]:
        """Groups that hold any of ``dns`` as a member (one search)."""
        member = self.s.group_member_attribute
        base = self.s.group_search_base or self.s.user_search_base
        ors = "".join(f"({member}={escape_filter_chars(dn)})" for dn in dns)
        conn.search(base, f"(&{self.s.group_object_filter}(|{ors}))", SUBTREE, attributes=["cn"])
        return [r["dn"] for r in conn.response or [] if r.get("type") == "searchResEntry"]

    def _parents_of_groups(self, conn: Connection, groups: list[str]) -> list[str]:
        """Parent groups of groups, from the cache where fresh; the rest in one search.

        Nesting (group in group) changes rarely and is the same for every user, so
        it is cached for ``group_cache_seconds``; a user's own memberships never are.
        """
        if self.s.group_cache_seconds <= 0:
            return self._search_parents(conn, groups)
        now = time.monotonic()
        found: list[str] = []
        missing: list[str] = []
        for dn in groups:
            hit = self._parent_cache.get(dn.casefold())
            if hit is not None and hit[0] > now:
                found.extend(hit[1])
            else:
                missing.append(dn)
        if missing:
            found.extend(self._search_parents(conn, missing))
            self._fill_parent_cache(missing)
        return found

    def _fill_parent_cache(self, groups: list[str]) -> None:
        """Cache each group's parents, one search per group, in the background."""
        with self._lock:
            todo = [g for g in groups if g.casefold() not in self._filling]
            self._filling.update(g.casefold() for g in todo)
        if not todo:
            return

        def fill(conn: Connection) -> None:
            for dn in todo:
                parents = self._search_parents(conn, [dn])
                expires = time.monotonic() + self.s.group_cache_seconds
                self._parent_cache[dn.casefold()] = (expires, parents)

        def run() -> None:
            try:
                self._service_call(fill)
            except Unavailable:
                pass
            finally:
                with self._lock:
                    self._filling.difference_update(g.casefold() for g in todo)

        self._aux.submit(run)

    def _account(
        self, entry: dict, groups: list[str], truncated: bool, url: str, *, bound: bool
    ) -> dict:
        attrs = entry.get("attributes") or {}
        name = attrs.get(self.s.username_attribute)
        if isinstance(name, list):
            name = name[0] if name else None
        state = account_state(
            attrs,
            active_directory=self.s.active_directory,
            lock_attributes=self.s.lock_attributes,
            now=time.time(),
            bound=bound,
        )
        raw = (entry.get("raw_attributes") or {}).get(self.s.id_attribute) or [b""]
        return {
            "outcome": state,
            "id": (raw[0] if isinstance(raw, list) else raw).hex() or None,
            "dn": entry["dn"],
            "name": str(name) if name else None,
            "groups": groups,
            "groups_truncated": truncated,
            "server": url,
        }

    # -- operations ----------------------------------------------------------

    def login(self, login: str, password: str) -> dict:
        if self.s.service_dn:
            return self._login_with_service(login, password)
        return self._login_with_templates(login, password)

    def _login_with_service(self, login: str, password: str) -> dict:
        found, url = self._service_call(lambda c: self._find_user(c, login))
        if len(found) != 1:
            outcome = "not_found" if not found else "ambiguous"
            return {"outcome": outcome, "server": url}
        dn = found[0]["dn"]
        groups_job = self._aux.submit(self._service_call, lambda c: self._groups(c, dn))
        bind_outcome, bind_url = self._user_bind(dn, password)
        (groups, truncated), _ = groups_job.result()
        if bind_outcome != "ok":
            return {"outcome": bind_outcome, "server": bind_url, "dn": dn}
        return self._account(found[0], groups, truncated, bind_url, bound=True)

    def _user_bind(self, bind_name: str, password: str) -> tuple[str, str]:
        """Bind once on a spare connection, then unbind it: ("ok"|"bad_credentials"|..., url)."""
        conn, url = self._take_spare()
        try:
            _set_credentials(conn, bind_name, password)
            try:
                ok = conn.bind()
            except LDAPException:
                _close(conn)
                conn, url = self._open()
                _set_credentials(conn, bind_name, password)
                ok = conn.bind()
            if ok:
                return "ok", url
            if conn.result and conn.result.get("result") == INVALID_CREDENTIALS:
                return bind_refusal(str(conn.result.get("message") or "")), url
            return "refused", url
        except LDAPException as exc:
            raise Unavailable(f"{url}: {type(exc).__name__} during bind") from None
        finally:
            conn.password = None
            _close(conn)
            self.refill_spares()

    def _login_with_templates(self, login: str, password: str) -> dict:
        """Bind as the user, then read the entry of the account that bound.

        Who bound comes from the "Who am I?" operation, else from the DN of a DN
        template, else (AD without that operation, as Samba) from the account the
        bind name resolves to by AD's own rule (explicit UPN first) -- never from
        the typed name alone: on AD a UPN may name another account's
        ``sAMAccountName``, and that account must not be the one read.
        """
        outcome, url = "bad_credentials", ""
        for template in self.s.bind_templates:
            is_dn = "=" in template
            value = escape_rdn(login) if is_dn else login
            bind_name = template.replace("{username}", value)
            conn, url = self._open()
            try:
                _set_credentials(conn, bind_name, password)
                if not conn.bind():
                    refusal = bind_refusal(str((conn.result or {}).get("message") or ""))
                    if refusal != "bad_credentials":
                        outcome = refusal
                    continue
                conn.password = None
                bound_dn, bound_name = who_am_i(conn.extend.standard.who_am_i())
                if bound_dn is None and bound_name is None:
                    bound_dn = bind_name if is_dn else self._ad_bound_dn(conn, bind_name)
                    if bound_dn is None:  # cannot tell who bound: never guess
                        outcome = "identity_unknown"
                        continue
                found = self._find_user(conn, login, bound_dn, bound_name)
                if len(found) != 1:
                    return {"outcome": "not_found", "server": url}
                groups, truncated = self._groups(conn, found[0]["dn"])
                return self._account(found[0], groups, truncated, url, bound=True)
            except LDAPException as exc:
                raise Unavailable(f"{url}: {type(exc).__name__}") from None
            finally:
                _close(conn)
        return {"outcome": outcome, "server": url}

    def _ad_bound_dn(self, conn: Connection, bind_name: str) -> str | None:
        """AD without "Who am I?" (Samba): the account the bind name resolves to."""
        if not self.s.active_directory:
            return None
        upn, sam = ad_bind_name(bind_name)
        ors = "".join(
            f"({attr}={escape_filter_chars(value)})"
            for attr, value in (("userPrincipalName", upn), ("sAMAccountName", sam))
            if value
        )
        if not ors:
            return None
        conn.search(  # the whole domain: the UPN's holder may live outside the user base
            domain_root(self.s.user_search_base) or self.s.user_search_base,
            f"(&(objectClass=user)(|{ors}))",
            SUBTREE,
            attributes=["userPrincipalName", "sAMAccountName"],
            size_limit=4,
        )
        rows = [
            (
                r["dn"],
                r["attributes"].get("userPrincipalName"),
                r["attributes"].get("sAMAccountName"),
            )
            for r in conn.response or []
            if r.get("type") == "searchResEntry"
        ]
        return ad_bound_dn(rows, upn, sam)

    def lookup(self, login: str, dn: str | None, entry_id: str | None = None) -> dict:
        """Re-read an account and its groups with the service account (refresh, spawn).

        ``user_search_filter`` applies to the saved DN too; an account whose DN
        moved is found again by the filter, and one renamed in the directory
        by its saved ``entry_id`` (hex of the ``id_attribute`` value).
        """
        found, url = self._service_call(lambda c: self._find_user(c, login, dn))
        if len(found) != 1 and dn:
            found, url = self._service_call(lambda c: self._find_user(c, login))
        if len(found) != 1 and entry_id and self.s.id_attribute:
            found, url = self._service_call(lambda c: self._find_by_id(c, entry_id))
        if len(found) != 1:
            return {"outcome": "not_found", "server": url}
        user_dn = found[0]["dn"]
        (groups, truncated), _ = self._service_call(lambda c: self._groups(c, user_dn))
        return self._account(found[0], groups, truncated, url, bound=False)

    def close(self) -> None:
        for q in (self._service, self._spares):
            while True:
                try:
                    item = q.get_nowait()
                except queue.Empty:
                    break
                _close(item[0])
        self._aux.shutdown(wait=False, cancel_futures=True)


def _set_credentials(conn: Connection, user: str, password: str) -> None:
    conn.user, conn.password, conn.authentication = user, password, SIMPLE


def _close(conn: Connection) -> None:
    try:
        if not conn.closed:
            conn.unbind()
    except Exception:
        pass
