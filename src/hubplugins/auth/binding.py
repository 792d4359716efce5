"""Bind each hub account to the provider's immutable id at its first sign-in.

:class:`IdentityBindingMixin` is mixed into every authenticator of the
package (GitHub, OpenID Connect, the directory). After the authenticator's
own checks, :meth:`get_authenticated_user` reads the stable identity from
the auth model (:meth:`stable_identity`, one small method per provider) and:

- a new account: the identity is recorded as the account is created
  (:meth:`add_user`, which JupyterHub calls right after making the user);
- an account with no identity yet (made before this existed, or by an
  admin): the identity is recorded now;
- an account bound to another identity: refused with 403 before anything
  is stored, the page telling the person to ask an admin; one structured
  log line names both identities so the admin can re-link
  (``PUT /hub/api/hubplugins/identities/<user>``, see :mod:`hubplugins.hub.identity_api`).

A sign-in without an identity (the provider sent none) is let through
unbound, as before.

Admin accounts that JupyterHub makes at its start for ``admin_users`` (or
that an admin made through the REST API) have no identity until their first
sign-in, and the first person to sign in under such a name would become the
account, with its admin rights (a GitHub login freed and taken by someone
else, a directory entry deleted and re-made). Once the hub has started
(:func:`settle_admins`), each such account whose provider can look a name up
without a sign-in (:meth:`IdentityBindingMixin.lookup_identity`: GitHub) is
bound to the id its name has then; one warning names the accounts left, with
the endpoint that links each to its person (:func:`name_unbound_admins`).

:meth:`refresh_user` holds the same rule at every refresh, below each
authenticator's own re-checks: a refreshed model about another identity
than the account's ends the session, and a person the provider renamed
(a new GitHub login, ``preferred_username`` or directory name for the same
identity) keeps the account and its name. JupyterHub itself puts the
account's name back into a refreshed model (a refresh cannot rename), but
the checks that read the name (``admin_users``, ``blocked_users``,
``allowed_users``, a combined page's prefixes) would otherwise judge the
provider's new name: a login renamed to one in ``admin_users`` would make
the account an admin, and a blocked account renamed upstream would pass.
"""

from __future__ import annotations

import asyncio
import logging
from typing import Any

from hubplugins.auth.multi_names import provider_name
from hubplugins.hub import identity
from hubplugins.hub.refusals import enforce
from hubplugins.hub.started import hub_app, when_started
from hubplugins.policy.rules.identity import check_binding

log = logging.getLogger(__name__)


class IdentityBindingMixin:
    """Refuse a sign-in whose identity differs from the one bound to the account."""

    identity_provider = "provider"
    """The provider's name in the identity store (``github``, ``oidc``, ``directory``)."""

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        app = hub_app()
        if app is not None:
            when_started(app, "binding the admin accounts with no identity", settle_admins)

    def stable_identity(self, auth_model: dict[str, Any]) -> str | None:
        """The provider's immutable id of the person in ``auth_model``, or None."""
        return None

    async def get_authenticated_user(self, handler: Any, data: Any) -> Any:
        model = await super().get_authenticated_user(handler, data)  # type: ignore[misc]
        if not isinstance(model, dict) or handler is None or getattr(handler, "db", None) is None:
            return model
        subject = self.stable_identity(model)
        if subject is None or subject == "":
            return model
        presented = (self.identity_provider, str(subject))
        name = self.account_name(model["name"])
        from jupyterhub import orm

        orm_user = orm.User.find(handler.db, name)
        if orm_user is None:
            # the account is made by JupyterHub right after this returns
            self._pending_identities()[name] = presented
            return model
        bound, decided = identity.link(handler.db, orm_user.id)
        if not decided:
            # no identity recorded (an account from before, or made by an admin): the
            # one its saved auth_state names, if any, is the person who used it
            saved = await _saved_subject(self, orm_user)
            bound = (self.identity_provider, saved) if saved is not None else None
        if bound is not None and bound[0] == presented[0]:
            if bound[1] in self.former_identities(model):
                presented = bound  # the same person, recorded in an earlier form
        enforce(self._identity_log, "sign-in", check_binding(name, bound, presented), user=name)
        if identity.bind(handler.db, orm_user.id, *presented) != "kept":
            self._log_bound(name, presented)
        return model

    async def refresh_user(self, user: Any, handler: Any = None, **kwargs: Any) -> Any:
        model = await super().refresh_user(user, handler, **kwargs)  # type: ignore[misc]
        if not isinstance(model, dict):
            return model
        if not self._refreshed_same_identity(user, handler, model):
            self._identity_log.warning(
                "Refresh: %s answered for another identity than the account's; sign-in needed",
                user.name,
            )
            return False
        renamed = model.get("name")
        if renamed is not None and renamed != user.name:
            self._identity_log.info("Refresh: %s is now %r at the provider", user.name, renamed)
            model = {**model, "name": user.name}
            admins = getattr(self, "admin_users", set())
            if user.name in admins:
                model["admin"] = True
            elif model.get("admin") and renamed in admins:
                model["admin"] = None  # granted by the new name only: unchanged
        return model

    def bound_subject(self, user: Any) -> str | None:
        """The subject this provider bound the account to, or None."""
        db, user_id = getattr(user, "db", None), getattr(user, "id", None)
        if db is None or user_id is None:
            return None
        bound = identity.bound_identity(db, user_id)
        return bound[1] if bound is not None and bound[0] == self.identity_provider else None

    def _refreshed_same_identity(self, user: Any, handler: Any, model: dict[str, Any]) -> bool:
        subject = self.refreshed_identity(model)
        db = getattr(handler, "db", None) or getattr(user, "db", None)
        user_id = getattr(user, "id", None)
        if subject is None or subject == "" or db is None or user_id is None:
            return True
        bound = identity.bound_identity(db, user_id)
        if bound is None:
            return True
        if bound[0] != self.identity_provider:
            return False
        return bound[1] == str(subject) or bound[1] in self.former_identities(model)

    def refreshed_identity(self, auth_model: dict[str, Any]) -> str | None:
        """The identity a refreshed model must match the account's with (None: not checked here).

        :meth:`stable_identity` unless a provider checks refreshes its own way.
        """
        return self.stable_identity(auth_model)

    def identity_space(self) -> str | None:
        """Where this provider's ids are unique, when two providers of its kind could give
        two people the same id (a GitHub instance's URL); None where its ids are unique
        everywhere (UUIDs; subjects that carry their issuer)."""
        return None

    async def lookup_identity(self, login: str) -> str | None:
        """The provider's immutable id of the person named ``login`` there now, looked up
        without a sign-in; None where there is none or the provider cannot say (the default).

        Raises where the provider could not be asked; the caller logs it.
        """
        return None

    def former_identities(self, auth_model: dict[str, Any]) -> list[str]:
        """Earlier forms of this sign-in's identity that an account may be bound to (none).

        A provider whose :meth:`stable_identity` changed form lists what older
        versions recorded for the same person, so those accounts keep signing in.
        """
        return []

    def account_name(self, name: str) -> str:
        """The hub account a model's name signs in as (a combined authenticator adds its prefix)."""
        return name

    def add_user(self, user: Any) -> Any:
        result = super().add_user(user)  # type: ignore[misc]
        bind_new_account(user, getattr(self, "log", log))
        return result

    # -- helpers ---------------------------------------------------------------

    @property
    def _identity_log(self) -> Any:
        return getattr(self, "log", log)

    def _pending_identities(self) -> dict[str, tuple[str, str]]:
        return _PENDING

    def _log_bound(self, name: str, presented: tuple[str, str]) -> None:
        _log_bound(self._identity_log, name, presented)


_PENDING: dict[str, tuple[str, str]] = {}
"""Account name -> identity of a sign-in whose account JupyterHub is about to make."""


def bind_new_account(user: Any, logger: Any = log) -> None:
    """Record the identity of the sign-in that made ``user`` (from ``add_user``)."""
    presented = _PENDING.pop(user.name, None)
    if presented is not None:
        identity.bind(user.db, user.id, *presented)
        _log_bound(logger, user.name, presented)


def _log_bound(logger: Any, name: str, presented: tuple[str, str]) -> None:
    logger.info("hubplugins identity: %s bound to %s id %s", name, presented[0], presented[1])


NAMED_AT_MOST = 20
"""Unbound admin accounts the start warning names; it counts the others."""


def admin_accounts(db: Any) -> tuple[int, list[str]]:
    """How many admin accounts there are, and the names of those that no sign-in has bound
    to an identity yet."""
    from jupyterhub import orm

    admins = db.query(orm.User).filter(orm.User.admin.is_(True)).order_by(orm.User.name).all()
    unbound = [user.name for user in admins if identity.bound_identity(db, user.id) is None]
    return len(admins), unbound


def name_unbound_admins(app: Any) -> None:
    """Say, once the hub has started, which admin accounts have no identity yet."""
    count, names = admin_accounts(app.db)
    logger = getattr(app.authenticator, "log", log)
    if not names:
        logger.info("hubplugins identity: every admin account (%d) has an identity", count)
        return
    shown = ", ".join(names[:NAMED_AT_MOST])
    if len(names) > NAMED_AT_MOST:
        shown += f" and {len(names) - NAMED_AT_MOST} more"
    logger.warning(
        "hubplugins identity: %d admin account(s) with no identity yet: %s. The first person "
        "to sign in under such a name becomes that account, with its admin rights. Link each "
        "to its person first: PUT /hub/api/hubplugins/identities/<name> with "
        '{"provider": "github", "subject": "<numeric id>"} (or "oidc", "directory")',
        len(names),
        shown,
    )


_SETTLING: set[asyncio.Task[None]] = set()


def settle_admins(app: Any) -> None:
    """Once the hub has started: bind the admin accounts a provider can look up, then say
    which are left (:func:`bind_admins`, :func:`name_unbound_admins`)."""
    task = asyncio.ensure_future(_settle_admins(app))
    _SETTLING.add(task)
    task.add_done_callback(_SETTLING.discard)


async def _settle_admins(app: Any) -> None:
    try:
        await bind_admins(app)
    except Exception:
        log.exception("hubplugins identity: binding the admin accounts failed")
    name_unbound_admins(app)


async def bind_admins(app: Any) -> list[str]:
    """Bind each unbound admin account, where its provider can say who it is: to the
    identity its saved ``auth_state`` names (it was used before), else to the id its
    login has at the provider now (GitHub); the names bound. One after another: admins
    are few. A name ``username_map`` maps to or from is no login to look up: left, and
    named by :func:`name_unbound_admins`."""
    from jupyterhub import orm

    top = app.authenticator
    logger = getattr(top, "log", log)
    bound = []
    for name in admin_accounts(app.db)[1]:
        found = orm.User.find(app.db, name)
        child = top.child_for(name) if hasattr(top, "child_for") else top
        if found is None or not isinstance(child, IdentityBindingMixin):
            continue
        if identity.unlinked(app.db, found.id):
            continue  # an admin unlinked it: the next sign-in's, as the endpoint says
        subject, why = await _saved_subject(child, found), "its saved auth_state's id"
        login = provider_name(name, getattr(child, "username_prefix", ""))
        if subject is None:
            mapped = getattr(child, "username_map", None) or {}
            if login in mapped or login in mapped.values():
                continue
            try:
                subject = await child.lookup_identity(login)
            except Exception as error:
                logger.warning(
                    "hubplugins identity: could not look up admin account %s at %s: %s",
                    name,
                    child.identity_provider,
                    error,
                )
                continue
            why = f"the id of {login!r} at the hub's start"
        if subject is None or orm.User.find(app.db, name) is not found:
            continue  # no such login, or the account deleted meanwhile
        if identity.unlinked(app.db, found.id):
            continue  # an admin unlinked it while its login was looked up
        outcome = identity.bind(app.db, found.id, child.identity_provider, subject)
        if outcome == "kept":  # a sign-in bound it meanwhile
            held = identity.bound_identity(app.db, found.id)
            if held != (child.identity_provider, subject):
                logger.warning(
                    "hubplugins identity: admin account %s is bound to %s id %s, but %s is %s",
                    name,
                    *(held or ("no provider", "none")),
                    why,
                    subject,
                )
            continue
        logger.info(
            "hubplugins identity: admin account %s bound to %s id %s, %s",
            name,
            child.identity_provider,
            subject,
            why,
        )
        bound.append(name)
    return bound


async def _saved_subject(child: IdentityBindingMixin, user: Any) -> str | None:
    """The identity the account's saved ``auth_state`` names for ``child``'s provider, or
    None (none saved, or it cannot be read: the key it was saved with is gone)."""
    if user.encrypted_auth_state is None:
        return None
    from jupyterhub.crypto import decrypt

    try:
        state = await decrypt(user.encrypted_auth_state)
    except Exception:
        return None
    subject = child.stable_identity({"auth_state": state}) if isinstance(state, dict) else None
    return str(subject) if subject else None
