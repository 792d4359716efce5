"""Declarative mapping from identity-provider memberships to JupyterHub groups.

Shared by :class:`hubplugins.auth.github.GitHubAuthenticator` (memberships are
``org`` and ``org:team``) and :class:`hubplugins.auth.oidc.OIDCAuthenticator`
(memberships are the values of the provider's groups claim). The mixin also
holds the two behaviours both need on top of oauthenticator:

- refuse to start when ``allow_all`` would bypass membership rules;
- re-check the allow rules whenever ``refresh_user`` produced a fresh model,
  so that someone removed upstream loses access at the next refresh.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from inspect import isawaitable
from typing import Any

from traitlets import Dict, List, Unicode, default, validate

from hubplugins.auth.revocation import Revocation
from hubplugins.hub.trait_help import example, trait_help

EVERYONE = "*"


def validate_group_map(value: Mapping[str, Any], where: str) -> dict[str, list[str]]:
    """Check a group map and return it normalised (values as sorted lists).

    ``where`` names the trait in error messages, e.g.
    ``"GitHubAuthenticator.group_map"``.
    """
    if not isinstance(value, Mapping):
        raise ValueError(f"{where} must be a mapping, got {type(value).__name__}")
    result: dict[str, list[str]] = {}
    for key, groups in value.items():
        path = f"{where}[{key!r}]"
        if not isinstance(key, str) or not key.strip():
            raise ValueError(f"{path}: keys must be non-empty strings")
        if isinstance(groups, str):
            raise ValueError(f"{path} must be a list of group names, e.g. [{groups!r}]")
        if not isinstance(groups, Iterable):
            raise ValueError(f"{path} must be a list of group names")
        names = []
        for i, name in enumerate(groups):
            if not isinstance(name, str) or not name.strip():
                raise ValueError(f"{path}[{i}]: group names must be non-empty strings")
            names.append(name.strip())
        result[key.strip()] = sorted(set(names))
    return result


def map_groups(memberships: Iterable[str], group_map: Mapping[str, Iterable[str]]) -> set[str]:
    """JupyterHub groups for someone with ``memberships`` under ``group_map``.

    A key matches when it is one of the memberships; the key ``"*"`` matches
    everyone who signed in.
    """
    have = set(memberships)
    groups: set[str] = set()
    for key, names in group_map.items():
        if key == EVERYONE or key in have:
            groups.update(names)
    return groups


class GroupMapMixin(Revocation):
    """Traits and hooks shared by the group-mapping OAuth authenticators.

    Mix in before the oauthenticator class:
    ``class X(GroupMapMixin, GitHubOAuthenticator)``.
    """

    @default("manage_groups")
    def _manage_groups_default(self) -> bool:
        return True

    @default("enable_auth_state")
    def _enable_auth_state_default(self) -> bool:
        # the provider's tokens must be kept to re-check memberships on refresh
        return True

    group_map = Dict(
        key_trait=Unicode(),
        value_trait=List(Unicode()),
        config=True,
        help=trait_help(
            """
            Declarative mapping from provider memberships to JupyterHub groups.

            Keys are memberships as the provider names them (for GitHub ``org`` or
            ``org:team``, team by its URL slug; for OpenID Connect a value of the
            groups claim or of ``entitlements_claim``); ``"*"`` matches everyone who
            signs in. Values are lists of JupyterHub group names. A user's groups
            are the union of the values of every matching key, recomputed at each
            sign-in and each refresh (``manage_groups`` is on by default, so groups
            assigned by hand are replaced). Empty (the default) means no groups
            from memberships. A key only grants groups, never access: use the
            allow settings for that. Set on ``GitHubAuthenticator`` or
            ``OIDCAuthenticator``.
            """,
            example(
                "GitHubAuthenticator",
                "group_map",
                {"bioimage-io": ["authenticated"], "bioimage-io:gpu-beta": ["gpu-beta"]},
            ),
        ),
    )

    @validate("group_map")
    def _validate_group_map(self, proposal: Any) -> dict[str, list[str]]:
        return validate_group_map(proposal.value, f"{type(self).__name__}.group_map")

    def membership_allow_rules(self) -> list[str]:
        """Names of configured allow rules that depend on memberships.

        ``allow_all`` would bypass them; subclasses extend the list.
        """
        rules = []
        if getattr(self, "allowed_users", None):  # on a combined page, the hub-wide list's
            rules.append("allowed_users")
        if getattr(self, "allowed_groups", None):
            rules.append("allowed_groups")
        return rules

    def check_allow_config(self) -> None:
        """Refuse to start when ``allow_all`` would bypass membership rules."""
        rules = self.membership_allow_rules()
        if self.allow_all and rules:  # type: ignore[attr-defined]
            name = type(self).__name__
            listed = ", ".join(f"{name}.{rule}" for rule in rules)
            raise ValueError(
                f"{name}.allow_all = True would let every account of the provider in and "
                f"bypass {listed}. Remove allow_all (set it to False) to sign in only "
                "members, or remove the membership rules to let everyone in."
            )
        parent = super()
        if hasattr(parent, "check_allow_config"):
            parent.check_allow_config()  # type: ignore[misc]

    async def recheck_refreshed(self, model: Any, user: Any = None, handler: Any = None) -> Any:
        """Apply the sign-in checks again to a model that ``refresh_user`` built.

        Returns ``False`` (the user must sign in again, and will then see why
        they are refused) when the refreshed model is no longer allowed, the
        model unchanged otherwise. With ``user``, a refusal also stops the
        user's running servers (:meth:`~.revocation.Revocation.end_access`).
        """
        result = await self._recheck(model)
        if result is False and user is not None:
            self.end_access(user, handler, "is no longer allowed to use this hub")
        return result

    async def _recheck(self, model: Any) -> Any:
        if not isinstance(model, dict):
            return model
        name = model["name"]
        blocked = self.check_blocked_users(name, model)  # type: ignore[attr-defined]
        if isawaitable(blocked):
            blocked = await blocked
        if blocked is False:
            self.log.warning("Refresh: %s is now blocked; a new sign-in is needed", name)  # type: ignore[attr-defined]
            return False
        allowed = await self.refresh_allowed(name, model)
        if not allowed:
            self.log.warning(  # type: ignore[attr-defined]
                "Refresh: %s is no longer allowed; a new sign-in is needed", name
            )
            return False
        return model

    async def refresh_allowed(self, username: str, model: dict[str, Any]) -> bool:
        """Whether a refreshed model still passes the allow rules (no exceptions)."""
        allowed = self.check_allowed(username, model)  # type: ignore[attr-defined]
        if isawaitable(allowed):
            allowed = await allowed
        return bool(allowed)
