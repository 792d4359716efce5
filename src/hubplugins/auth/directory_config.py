"""Configuration checks of ``DirectoryAuthenticator`` and the settings its workers get.

Functions of the authenticator (``self``), kept apart so that the authenticator's
module holds the traits and the sign-in flow only.
"""

from __future__ import annotations

import os
from typing import Any
from urllib.parse import urlsplit

from hubplugins.auth.ldap_directory import Settings
from hubplugins.auth.ldap_names import common_base, is_dn

GROUP_TRAITS = ("allowed_groups", "admin_groups", "group_allow_list", "group_rename")


def validate(self: Any) -> None:
    """Check the configuration at start; one ValueError naming every problem and its key."""
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
    by_cn = [
        f"{name}.{trait}"
        for trait in GROUP_TRAITS
        if any(not is_dn(g) for g in getattr(self, trait))
    ]
    if self.manage_groups:
        by_cn.append("Authenticator.manage_groups")
    if by_cn and not self.group_search_base:
        problems.append(
            f"{name}.group_search_base is empty, but {', '.join(by_cn)} name or sync "
            "groups by CN, which count only under it: set it (e.g. "
            "'OU=Groups,DC=ad,DC=example,DC=org') or name groups by full DN"
        )
    elif not membership_base(self):
        problems.append(f"{name}: group_search_base and the groups given as DNs share no base DN")
    if problems:
        raise ValueError("; ".join(problems))


def membership_base(self: Any) -> str:
    """Where a user's groups are searched: the group base and every group named by DN."""
    named = [g for trait in GROUP_TRAITS for g in getattr(self, trait) if is_dn(g)]
    bases = [self.group_search_base] if self.group_search_base else []
    if not bases and not named:
        return self.user_search_base
    return common_base(bases + named)


def worker_settings(self: Any) -> Settings:
    """What the worker processes need to know, from the authenticator's traits."""
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
        group_search_base=membership_base(self),
        security_groups_only=not self.include_distribution_groups,
        lock_attributes=list(self.account_lock_attributes),
        id_attribute="objectGUID" if self.directory_type == "ad" else "entryUUID",
        group_object_filter=self.group_object_filter,
        group_member_attribute=self.group_member_attribute,
        group_nesting_depth=self.group_nesting_depth,
        group_cache_seconds=self.group_cache_seconds,
        threads=self.worker_threads,
        spare_connections=self.spare_connections,
        nice=self.worker_nice,
    )
