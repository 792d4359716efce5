"""Test data of the directory tests: people, groups, and a handle on each running directory.

Both directories hold the same people and groups:

    staff       <- alice, frank, gina, team-a          (allowed group)
    team-a      <- bob, team-a-sub                      (nested)
    team-a-sub  <- carol                                (nested twice)
    admins      <- alice
    gpu-beta    <- bob
    cycle-1     <- alice, cycle-2;  cycle-2 <- cycle-1  (a cycle; OpenLDAP only)
    dave: in no group; erin: disabled (AD only)
    hank-team <- hank;  mallory-team <- mallory
    mailing-list <- dave                                (AD: a distribution group)
    admins under ou=elsewhere <- dave                   (same CN outside the group base)

On AD, mallory's UPN is ``hank@corp.example.org``: the UPN bind template
``{username}@corp.example.org`` binds mallory for "hank". frank, gina and ivan are changed by the
refresh and revocation tests; the tests put them back. OpenLDAP accounts are
disabled by ``employeeType: disabled``, which the configured user filter excludes.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ldap3 import MODIFY_ADD, MODIFY_DELETE, MODIFY_REPLACE, Connection, Server, Tls
from services.ldap_servers import (
    SAMBA_BASE,
    SLAPD_SERVICE_DN,
    SLAPD_SERVICE_PW,
    SLAPD_SUFFIX,
    SambaRecipe,
    TlsFiles,
)

PASSWORDS = {
    "alice": "Alice-Passw0rd!",
    "bob": "Bob-Passw0rd!",
    "carol": "Carol-Passw0rd!",
    "dave": "Dave-Passw0rd!",
    "erin": "Erin-Passw0rd!",
    "frank": "Frank-Passw0rd!",
    "gina": "Gina-Passw0rd!",
    "hank": "Hank-Passw0rd!",
    "mallory": "Mallory-Passw0rd!",
    "ivan": "Ivan-Passw0rd!",
}
SERVICE_PASSWORD = "Svc-Passw0rd!"
GROUPS = {
    "staff": ["alice", "frank", "gina", "ivan", "team-a"],
    "team-a": ["bob", "team-a-sub"],
    "team-a-sub": ["carol"],
    "admins": ["alice"],
    "gpu-beta": ["bob"],
    "hank-team": ["hank"],
    "mallory-team": ["mallory"],
}
UPN_SUFFIX = "corp.example.org"
DISTRIBUTION = {"mailing-list": ["dave"]}  # AD only
ELSEWHERE = "ou=elsewhere"  # below the suffix: a second "admins" group lives there
LDAP_USER_FILTER = "(&(objectClass=inetOrgPerson)(uid={username})(!(employeeType=disabled)))"
CYCLE = {"cycle-1": ["alice", "cycle-2"], "cycle-2": ["cycle-1"]}


def slapd_ldif() -> str:
    people, groups = f"ou=people,{SLAPD_SUFFIX}", f"ou=groups,{SLAPD_SUFFIX}"
    entries = [
        f"dn: {SLAPD_SUFFIX}\nobjectClass: dcObject\nobjectClass: organization\n"
        "o: Example\ndc: example",
        f"dn: {people}\nobjectClass: organizationalUnit\nou: people",
        f"dn: {groups}\nobjectClass: organizationalUnit\nou: groups",
        f"dn: ou=service,{SLAPD_SUFFIX}\nobjectClass: organizationalUnit\nou: service",
        f"dn: {SLAPD_SERVICE_DN}\nobjectClass: person\ncn: hubsvc\nsn: svc\n"
        f"userPassword: {SLAPD_SERVICE_PW}",
    ]
    for user, password in PASSWORDS.items():
        if user == "erin":
            continue
        entries.append(
            f"dn: uid={user},{people}\nobjectClass: inetOrgPerson\nuid: {user}\ncn: {user}\n"
            f"sn: {user}\nuserPassword: {password}"
        )

    def member(name: str) -> str:
        ou = people if name in PASSWORDS else groups
        return f"{'uid' if ou == people else 'cn'}={name},{ou}"

    for group, members in {**GROUPS, **CYCLE}.items():
        lines = "".join(f"\nmember: {member(m)}" for m in members)
        entries.append(f"dn: cn={group},{groups}\nobjectClass: groupOfNames\ncn: {group}{lines}")
    elsewhere = f"{ELSEWHERE},{SLAPD_SUFFIX}"
    entries.append(f"dn: {elsewhere}\nobjectClass: organizationalUnit\nou: elsewhere")
    entries.append(
        f"dn: cn=admins,{elsewhere}\nobjectClass: groupOfNames\ncn: admins\n"
        f"member: uid=dave,{people}"
    )
    return "\n\n".join(entries) + "\n"


SAMBA_RECIPE = SambaRecipe(
    users={**PASSWORDS, "hubsvc": SERVICE_PASSWORD},
    groups=GROUPS,
    disabled=["erin"],
    distribution=DISTRIBUTION,
)


@dataclass
class DirectoryUnderTest:
    """One running directory and how to configure and change it."""

    kind: str  # "openldap" | "samba"
    server: Any  # Slapd | SambaDC
    tls: TlsFiles
    config: dict[str, Any]  # DirectoryAuthenticator traits
    admin_dn: str
    admin_pw: str
    people: str
    groups: str
    domains: tuple[str, ...]

    def user_dn(self, name: str) -> str:
        attr = "CN" if self.kind == "samba" else "uid"
        return f"{attr}={name},{self.people}"

    def group_dn(self, name: str) -> str:
        return f"cn={name},{self.groups}"

    @property
    def base(self) -> str:
        return SAMBA_BASE if self.kind == "samba" else SLAPD_SUFFIX

    def elsewhere_admins_dn(self) -> str:
        return f"cn=admins,{ELSEWHERE},{self.base}"

    def _admin(self) -> Connection:
        import ssl

        server = Server(
            self.server.ldaps_url,
            tls=Tls(validate=ssl.CERT_REQUIRED, ca_certs_file=str(self.tls.ca)),
        )
        return Connection(server, self.admin_dn, self.admin_pw, auto_bind=True)

    def _modify(self, dn: str, changes: dict) -> None:
        conn = self._admin()
        try:
            if not conn.modify(dn, changes):
                raise RuntimeError(f"modify {dn}: {conn.result}")
        finally:
            conn.unbind()

    async def add_member(self, group: str, user: str) -> None:
        change = {"member": [(MODIFY_ADD, [self.user_dn(user)])]}
        await asyncio.to_thread(self._modify, self.group_dn(group), change)

    async def remove_member(self, group: str, user: str) -> None:
        change = {"member": [(MODIFY_DELETE, [self.user_dn(user)])]}
        await asyncio.to_thread(self._modify, self.group_dn(group), change)

    async def set_disabled(self, user: str, disabled: bool) -> None:
        if self.kind == "samba":
            change = {"userAccountControl": [(MODIFY_REPLACE, ["514" if disabled else "512"])]}
        else:
            change = {"employeeType": [(MODIFY_REPLACE, ["disabled"] if disabled else [])]}
        await asyncio.to_thread(self._modify, self.user_dn(user), change)

    async def set_expired(self, user: str, expired: bool) -> None:
        """AD: ``accountExpires`` one day after 1601 (long past) or never."""
        value = str(864_000_000_000) if expired else str(0x7FFFFFFFFFFFFFFF)
        change = {"accountExpires": [(MODIFY_REPLACE, [value])]}
        await asyncio.to_thread(self._modify, self.user_dn(user), change)

    def seed_ad_extras(self) -> None:
        """AD: the UPN look-alikes and the same-CN group outside the group base."""
        conn = self._admin()
        try:
            # Samba refuses a UPN in its own realm that implies another sAMAccountName;
            # AD allows it, and in any other UPN suffix Samba does too
            dn, upn = self.user_dn("mallory"), f"hank@{UPN_SUFFIX}"
            if not conn.modify(dn, {"userPrincipalName": [(MODIFY_REPLACE, [upn])]}):
                raise RuntimeError(f"modify {dn}: {conn.result}")
            ou = f"OU=elsewhere,{SAMBA_BASE}"
            conn.add(ou, ["top", "organizationalUnit"])
            attrs = {
                "sAMAccountName": "elsewhere-admins",
                "groupType": str(-2147483646),  # global security group
                "member": [self.user_dn("dave")],
            }
            if not conn.add(f"CN=admins,{ou}", ["top", "group"], attrs):
                raise RuntimeError(f"add CN=admins,{ou}: {conn.result}")
        finally:
            conn.unbind()


def closed_port_url(scheme: str = "ldaps") -> str:
    """A URL where nothing listens."""
    from services.ldap_servers import free_port

    return f"{scheme}://127.0.0.1:{free_port()}"


def repo_root() -> Path:
    return Path(__file__).resolve().parents[2]
