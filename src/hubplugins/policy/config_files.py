"""The checks ``hubplugins check`` runs on a file, each a function returning problems.

Each takes the file as loaded (plain data: a helm values file, or a bare
policy table) and returns a list of :class:`~hubplugins.policy.errors.ConfigIssue`,
each naming its key path; none raises on a bad file. :data:`hubplugins.cli.CHECKS`
lists them, and ``check`` reports what all of them find in one pass.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from hubplugins.policy.errors import ConfigIssue, PolicyConfigError
from hubplugins.policy.profile_overrides import profile_override_issues, unknown_profile_issues
from hubplugins.policy.rules.profiles import profile_slug_issues
from hubplugins.policy.table import PolicyTable

__all__ = [
    "HELM_PATH",
    "PROFILES_PATH",
    "is_values_file",
    "policy_issues",
    "policy_table",
    "profile_resource_issues",
    "profile_slug_problems",
]

HELM_PATH = ("hub", "config", "HubPolicy", "policy")
PROFILES_PATH = "singleuser.profileList"  # the chart's KubeSpawner.profile_list


def is_values_file(document: Any) -> bool:
    """Is ``document`` a helm values file (rather than a bare policy table)?"""
    return (
        isinstance(document, Mapping)
        and "hub" in document
        and not {"defaults", "groups", "cluster"} & set(document)
    )


def _policy(document: Any) -> tuple[Any, str]:
    """(the policy as plain data, its key path) in ``document``; raises if there is none."""
    if not is_values_file(document):
        return document, ""
    node: Any = document
    for key in HELM_PATH:
        node = node.get(key) if isinstance(node, Mapping) else None
    if node is None:
        issue = ConfigIssue("", f"a helm values file without {'.'.join(HELM_PATH)}")
        raise PolicyConfigError([issue])
    return node, ".".join(HELM_PATH)


def policy_table(document: Any) -> PolicyTable:
    """The validated policy table of ``document``; raises :class:`PolicyConfigError`."""
    raw, prefix = _policy(document)
    return PolicyTable.from_dict(raw, prefix=prefix)


def policy_issues(document: Any) -> list[ConfigIssue]:
    """Every problem of the policy table (schema, values, cross-field rules)."""
    try:
        policy_table(document)
    except PolicyConfigError as exc:
        return exc.issues
    return []


def _profile_list(document: Any) -> Any:
    if not is_values_file(document):
        return None
    singleuser = document.get("singleuser")
    return singleuser.get("profileList") if isinstance(singleuser, Mapping) else None


def profile_slug_problems(document: Any) -> list[ConfigIssue]:
    """Profiles of ``singleuser.profileList`` that share a slug or have none."""
    if not is_values_file(document):
        return []
    return profile_slug_issues(_profile_list(document), path=PROFILES_PATH)


def profile_resource_issues(document: Any) -> list[ConfigIssue]:
    """Each profile's resources, as KubeSpawner reads them, against each tier that may pick it."""
    profiles = _profile_list(document)
    if not profiles:
        return []
    try:
        table: PolicyTable | None = policy_table(document)
    except PolicyConfigError:
        table = None  # reported by policy_issues; what KubeSpawner cannot read still is
    prefix = ".".join(HELM_PATH)
    return [
        *profile_override_issues(table, profiles, PROFILES_PATH, prefix=prefix),
        *unknown_profile_issues(table, profiles, PROFILES_PATH, prefix=prefix),
    ]
