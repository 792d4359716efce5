"""OpenID Connect sign-in with the same declarative group mapping as GitHub.

:class:`OIDCAuthenticator` is oauthenticator's ``GenericOAuthenticator`` whose
groups are the provider's groups claim mapped through ``group_map``. The
allow settings of oauthenticator (``allowed_groups``, ``admin_groups``) then
speak about the *mapped* JupyterHub groups, and are re-checked at every
refresh, so someone removed from a group upstream must sign in again.
"""

from __future__ import annotations

from typing import Any

from oauthenticator.generic import GenericOAuthenticator
from traitlets import Bool, default

from .binding import IdentityBindingMixin
from .groups import GroupMapMixin, map_groups


class OIDCAuthenticator(IdentityBindingMixin, GroupMapMixin, GenericOAuthenticator):
    """Sign in with an OpenID Connect provider; claim groups map to JupyterHub groups."""

    keep_unmapped_groups = Bool(
        False,
        config=True,
        help="""
        Also keep the provider's groups that no ``group_map`` key matches, under
        their own names. False (the default) means a user's JupyterHub groups
        are exactly the mapped ones. Example: True when the provider's group
        names are already the hub's group names.
        """,
    )

    @default("scope")
    def _scope_default(self) -> list[str]:
        return ["openid", "profile", "email", "groups"]

    identity_provider = "oidc"

    def stable_identity(self, auth_model: dict[str, Any]) -> str | None:
        """The ``sub`` claim, with the issuer where the provider names one."""
        claims = (auth_model.get("auth_state") or {}).get(self.user_auth_state_key) or {}
        sub = claims.get("sub")
        if sub is None:
            return None
        return f"{claims['iss']} {sub}" if claims.get("iss") else str(sub)

    async def get_user_groups(self, auth_state: dict[str, Any]) -> set[str]:
        """The groups claim (``auth_state_groups_key``) mapped through ``group_map``."""
        claimed = await super().get_user_groups(auth_state)
        groups = map_groups(claimed, self.group_map)
        if self.keep_unmapped_groups:
            groups |= {g for g in claimed if g not in self.group_map}
        return groups

    async def refresh_user(self, user: Any, handler: Any = None, **kwargs: Any) -> Any:
        """oauthenticator's refresh (tokens, groups), then the allow rules again."""
        model = await super().refresh_user(user, handler, **kwargs)
        return await self.recheck_refreshed(model, user, handler)
