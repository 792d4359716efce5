"""OpenID Connect sign-in: verified ID tokens, claims mapped to groups, accounts bound to ``sub``.

:class:`OIDCAuthenticator` is oauthenticator's ``GenericOAuthenticator`` (the
OAuth flow, PKCE, refresh tokens) with what OpenID Connect adds and
oauthenticator 17 does not do:

- **discovery**: with ``issuer`` set, the authorize, token and userinfo URLs
  come from ``{issuer}/.well-known/openid-configuration`` (those configured
  explicitly win), read at the first sign-in;
- **the ID token is verified**: signature against the provider's JWKS (kept
  in memory, read again for an unknown key id), ``iss``, ``aud`` (and
  ``azp``), ``exp``, and the ``nonce`` the sign-in page sent
  (:mod:`hubplugins.auth.oidc_keys`, :mod:`hubplugins.policy.rules.oidc_claims`); the
  userinfo answer must be about the token's ``sub``. A token that fails is a
  403 page naming the check, never a 500;
- **groups**: the values of the groups claim (``claim_groups_key``) and of
  the entitlements claim (``entitlements_claim``, e.g. e-INFRA's
  ``eduperson_entitlement`` URNs) are memberships, mapped through
  ``group_map`` to JupyterHub groups; ``allowed_groups`` and
  ``admin_groups`` speak about the mapped groups;
- **identity**: the account is bound to ``iss`` + ``sub`` of the verified
  token (:mod:`hubplugins.auth.binding`), so someone who later gets a freed
  ``preferred_username`` does not get the account;
- **refresh** (every ``auth_refresh_age``) reads the userinfo claims again
  (with the refresh token when the access token expired), so groups follow
  the provider, and the allow rules are checked again: someone whose
  entitlement was removed loses the groups, and access where
  ``allowed_groups`` requires them.
"""

from __future__ import annotations

import secrets
from functools import reduce
from typing import Any

from oauthenticator.generic import GenericOAuthenticator
from oauthenticator.oauth2 import OAuthLoginHandler, _deserialize_state, _serialize_state
from tornado.httpclient import HTTPClientError
from traitlets import Bool, Float, Unicode, default

from hubplugins.auth.binding import IdentityBindingMixin
from hubplugins.auth.groups import GroupMapMixin, map_groups
from hubplugins.auth.oidc_keys import ProviderKeys, ProviderUnavailable
from hubplugins.auth.provider_fetch import OutageMixin
from hubplugins.hub.refusals import record, refuse
from hubplugins.hub.trait_help import example, trait_help
from hubplugins.policy.errors import PolicyRefusal
from hubplugins.policy.rules.oidc_claims import check_same_subject, claim_missing, token_refused

CLAIMS_KEY = "id_token_claims"
"""Key of the verified ID token's claims in ``auth_state``."""


class OIDCLoginHandler(OAuthLoginHandler):
    """oauthenticator's login redirect, after discovery, with a ``nonce`` for the ID token."""

    async def get(self) -> None:
        await self.authenticator.discover()
        super().get()

    def set_state_cookie(self, state_cookie_value: str) -> None:
        # the nonce travels in the hub's signed state cookie and in the request
        state = _deserialize_state(state_cookie_value)
        state["nonce"] = self._nonce = secrets.token_urlsafe(24)
        super().set_state_cookie(_serialize_state(state))

    def authorize_redirect(self, *args: Any, **kwargs: Any) -> None:
        extra = dict(kwargs.pop("extra_params", None) or {})
        extra["nonce"] = self._nonce
        super().authorize_redirect(*args, extra_params=extra, **kwargs)


class OIDCAuthenticator(IdentityBindingMixin, GroupMapMixin, OutageMixin, GenericOAuthenticator):
    """Sign in with an OpenID Connect provider; claim values map to JupyterHub groups."""

    unavailable = ProviderUnavailable  # the provider's outage (see OutageMixin)

    login_handler = OIDCLoginHandler

    issuer = Unicode(
        "",
        config=True,
        help=trait_help(
            """
            The provider's issuer URL, exactly as its ID tokens name it in ``iss``.
            The authorize, token and userinfo URLs are read from
            ``{issuer}/.well-known/openid-configuration`` at the first sign-in
            unless configured, and every ID token is verified (signature by the
            keys at the provider's ``jwks_uri``, issuer, audience = ``client_id``,
            expiry, nonce). Empty (the default) means plain OAuth 2: no discovery
            and no ID token check (a warning is logged at start).
            """,
            example("OIDCAuthenticator", "issuer", "https://login.e-infra.cz/oidc/"),
        ),
    )

    entitlements_claim = Unicode(
        "eduperson_entitlement",
        config=True,
        help=trait_help(
            """
            A userinfo claim whose values (a list of strings, or one string) are
            memberships beside the groups claim (``claim_groups_key``), mapped by
            ``group_map`` like group names; keys of ``group_map`` are then whole
            entitlement URNs, compared exactly. Default
            ``"eduperson_entitlement"``; empty means no such claim.
            """,
            example(
                "OIDCAuthenticator",
                "entitlements_claim",
                "eduperson_entitlement",
                also={
                    "group_map": {
                        "urn:geant:cerit.cz:group:jupyter-gpu#perun.cerit.cz": ["gpu-beta"]
                    }
                },
            ),
        ),
    )

    id_token_leeway = Float(
        60,
        config=True,
        help=trait_help(
            """
            Seconds of clock difference allowed between the hub and the provider
            when checking an ID token's ``exp`` and ``iat``. Default 60; 0 means
            none (the clocks must agree to the second).
            """,
            example("OIDCAuthenticator", "id_token_leeway", 30),
        ),
    )

    keep_unmapped_groups = Bool(
        False,
        config=True,
        help=trait_help(
            """
            Also keep the provider's groups that no ``group_map`` key matches, under
            their own names. False (the default) means a user's JupyterHub groups
            are exactly the mapped ones. True suits a provider whose group names
            are already the hub's group names.
            """,
            example("OIDCAuthenticator", "keep_unmapped_groups", True),
        ),
    )

    @default("scope")
    def _scope_default(self) -> list[str]:
        return ["openid", "profile", "email", "groups"]

    @default("username_claim")
    def _username_claim_default(self) -> str:
        return "preferred_username"

    identity_provider = "oidc"

    def identity_space(self) -> str | None:
        """None with ``issuer`` (each subject carries it); else the provider's URL, where
        its subjects are unique: two such providers can give two people one ``sub``."""
        if self.issuer:
            return None
        return str(self.userdata_url or self.token_url or self.authorize_url).rstrip("/")

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self._provider: ProviderKeys | None = None
        if not self.issuer:
            self.log.warning(
                "%s.issuer is not set: ID tokens are not verified (plain OAuth 2 sign-in)",
                type(self).__name__,
            )

    def check_allow_config(self) -> None:
        super().check_allow_config()
        needed = ["authorize_url", "token_url"]
        if not getattr(self, "userdata_from_id_token", False):  # else the ID token is the user
            needed.append("userdata_url")
        missing = [u for u in needed if not getattr(self, u)]
        if not self.issuer and missing:
            # nothing is discovered: the sign-in would redirect nowhere, then read as an outage
            raise ValueError(
                f"{type(self).__name__}: set issuer (its discovery gives the provider's URLs), "
                f"or {', '.join(missing)}"
            )
        if not self.enable_auth_state:
            self.log.warning(
                "%s.enable_auth_state is False: entitlements cannot be re-checked after "
                "sign-in; an account whose access ends keeps it until its cookie expires.",
                type(self).__name__,
            )

    # -- the provider ----------------------------------------------------------

    @property
    def provider(self) -> ProviderKeys | None:
        """The provider's discovery and keys, None without ``issuer``."""
        if self._provider is None and self.issuer:
            self._provider = ProviderKeys(self.issuer, self._get_json)
        return self._provider

    async def _get_json(self, url: str, label: str) -> Any:
        return await self.httpfetch(
            url, label, method="GET", validate_cert=self.validate_server_cert
        )

    async def discover(self) -> None:
        """Fill the endpoint URLs not configured from the provider's discovery document."""
        if self.provider is None:
            return
        doc = await self.provider.metadata()
        if not self.authorize_url:
            self.authorize_url = doc["authorization_endpoint"]
        if not self.token_url:
            self.token_url = doc["token_endpoint"]
        if not self.userdata_url and not self.userdata_from_id_token:
            if isinstance(doc.get("userinfo_endpoint"), str):
                self.userdata_url = doc["userinfo_endpoint"]
            else:
                self.userdata_from_id_token = True

    # -- sign-in ---------------------------------------------------------------

    async def authenticate(self, handler: Any, data: Any = None, **kwargs: Any) -> Any:
        """oauthenticator's sign-in, with the ID token and the userinfo subject checked."""
        try:
            await self.discover()
            try:
                model = await super().authenticate(handler, data, **kwargs)
            except HTTPClientError as e:  # the provider refused the code, or the token
                raise PolicyRefusal(token_refused("the provider refused this sign-in", e)) from e
            except ValueError as e:  # no username claim (oauthenticator's user_info_to_username)
                raise PolicyRefusal(claim_missing(str(self.username_claim))) from e
            if isinstance(model, dict):
                state = model.get("auth_state") or {}
                claims = state.get(CLAIMS_KEY)
                if claims is not None:
                    check_same_subject(claims, state.get(self.user_auth_state_key)).enforce()
        except PolicyRefusal as refusal:
            raise refuse(self.log, "sign-in", refusal) from None
        return model

    async def get_token_info(self, handler: Any, params: dict[str, Any]) -> dict[str, Any]:
        """The provider's token answer, its ID token verified (under ``CLAIMS_KEY``)."""
        token_info = await super().get_token_info(handler, params)
        if self.provider is None:
            return token_info
        signing_in = params.get("grant_type") == "authorization_code"
        id_token = token_info.get("id_token")
        if signing_in or id_token:
            nonce = self._sign_in_nonce(handler) if signing_in else None
            token_info[CLAIMS_KEY] = await self.provider.verify(
                id_token, client_id=self.client_id, nonce=nonce, leeway=self.id_token_leeway
            )
        return token_info

    def _sign_in_nonce(self, handler: Any) -> str:
        cookie = handler.get_state_cookie() if hasattr(handler, "get_state_cookie") else ""
        nonce = _deserialize_state(cookie).get("nonce") if cookie else None
        # an empty string never equals a token's nonce: the sign-in is refused
        return nonce if isinstance(nonce, str) and nonce else ""

    def build_auth_state_dict(
        self, token_info: dict[str, Any], user_info: dict[str, Any]
    ) -> dict[str, Any]:
        claims = token_info.pop(CLAIMS_KEY, None)
        state: dict[str, Any] = super().build_auth_state_dict(token_info, user_info)
        if claims is not None:
            state[CLAIMS_KEY] = claims
        return state

    def stable_identity(self, auth_model: dict[str, Any]) -> str | None:
        """``iss`` and ``sub`` of the verified ID token (else of the userinfo answer)."""
        state = auth_model.get("auth_state") or {}
        claims = state.get(CLAIMS_KEY) or state.get(self.user_auth_state_key) or {}
        sub = claims.get("sub")
        if sub is None:
            return None
        return f"{claims['iss']} {sub}" if claims.get("iss") else str(sub)

    def refreshed_identity(self, auth_model: dict[str, Any]) -> str | None:
        """None: :meth:`refresh_user` compares the refreshed ``iss`` + ``sub`` itself.

        A refresh by the access token alone carries no new ID token.
        """
        return None

    def former_identities(self, auth_model: dict[str, Any]) -> list[str]:
        """The bare ``sub`` of the verified token: what was recorded when userinfo had no ``iss``.

        Only when the token is verified (``issuer`` set): the ``sub`` is then
        this issuer's.
        """
        claims = (auth_model.get("auth_state") or {}).get(CLAIMS_KEY) or {}
        sub = claims.get("sub")
        return [str(sub)] if sub else []

    # -- groups ----------------------------------------------------------------

    async def get_user_groups(self, auth_state: dict[str, Any]) -> set[str]:
        """The groups and entitlements claims mapped through ``group_map``."""
        claimed = set(await self._claimed_groups(auth_state))
        user_info = auth_state.get(self.user_auth_state_key) or {}
        if self.entitlements_claim and isinstance(user_info, dict):
            claimed |= set(_strings(user_info.get(self.entitlements_claim)))
        groups = map_groups(claimed, self.group_map)
        if self.keep_unmapped_groups:
            groups |= {g for g in claimed if g not in self.group_map}
        return groups

    async def _claimed_groups(self, auth_state: dict[str, Any]) -> list[str]:
        key = self.auth_state_groups_key
        if callable(key):
            return list(_strings(list(await super().get_user_groups(auth_state))))
        try:
            value = reduce(dict.get, key.split("."), auth_state)  # type: ignore[arg-type]
        except TypeError:
            value = None
        return list(_strings(value))  # a claim the provider did not send: no groups

    # -- refresh ---------------------------------------------------------------

    async def refresh_user(self, user: Any, handler: Any = None, **kwargs: Any) -> Any:
        """oauthenticator's refresh (userinfo again, refresh token), then the allow rules.

        A refreshed ID token must be about the same ``iss`` + ``sub``; a bad one
        ends the session (a new sign-in is needed). If the provider cannot be
        reached the session is kept and a warning logged.
        """
        get_state = getattr(user, "get_auth_state", None)
        before = ((await get_state()) if get_state else None) or {}
        try:
            await self.discover()
            model = await super().refresh_user(user, handler, **kwargs)
        except ProviderUnavailable as e:
            self.log.warning("Keeping %s signed in; cannot refresh: %s", user.name, e)
            return True
        except PolicyRefusal as refusal:
            record(self.log, "refresh", refusal, user=user.name)
            return False
        if isinstance(model, dict) and not self._same_person(model, before.get(CLAIMS_KEY)):
            self.log.warning("Refresh: %s answered for another subject; sign-in needed", user.name)
            return False
        return await self.recheck_refreshed(model, user, handler)

    def _same_person(self, model: dict[str, Any], before: Any) -> bool:
        state = model.get("auth_state") or {}
        claims = state.get(CLAIMS_KEY)
        if isinstance(before, dict):
            if claims is None:
                state[CLAIMS_KEY] = claims = before
            elif (claims.get("iss"), claims.get("sub")) != (before.get("iss"), before.get("sub")):
                return False
        if claims is None:
            return True
        return check_same_subject(claims, state.get(self.user_auth_state_key)).allowed


def _strings(value: Any) -> list[str]:
    """The string values of a claim (one string or a list); anything else is ignored."""
    if isinstance(value, str):
        return [value]
    if isinstance(value, (list, tuple, set)):
        return [v for v in value if isinstance(v, str)]
    return []
