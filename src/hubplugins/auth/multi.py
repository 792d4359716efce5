"""Several sign-in methods on one login page: :class:`MultiAuthenticator`.

Each child authenticator (e.g. ``GitHubAuthenticator`` and
``DirectoryAuthenticator``) keeps its own flow under its own URL prefix
(``/hub/github/oauth_login``, ``/hub/directory/login``); the hub's
``/hub/login`` page shows a button or a form per child. Every step the hub
asks of "the authenticator" after sign-in (``refresh_user``,
``pre_spawn_start``, ``post_spawn_stop``) goes to the child that owns the
user, found by the user's name prefix.

Usernames of different children must not collide: each child has a
``username_prefix`` (e.g. ``"gh-"``), no prefix may start another one, and at
most one child may have none. The child without a prefix owns every name
that carries no other child's prefix, and refuses (403) to sign in a name
that does. Lists (``allowed_users``, ``blocked_users``, ``admin_users``) are
written in hub names; each child gets the entries it owns, prefix removed, so
its own checks on the provider's name are checks on the hub name
(:mod:`hubplugins.auth.multi_names`). Every step after sign-in hands the child
the user under the provider's name.

jupyterhub-multiauthenticator (0.4.0 on PyPI) was considered: it forwards
neither ``refresh_user`` nor ``pre_spawn_start`` nor ``manage_groups`` to the
children, so membership re-checks and managed groups would silently stop.
"""

from __future__ import annotations

import difflib
import re
from html import escape
from inspect import isawaitable
from typing import Any

from jupyterhub.auth import Authenticator
from traitlets import Dict, List, default, import_item

from hubplugins.auth.binding import bind_new_account
from hubplugins.auth.multi_child import ChildMixin
from hubplugins.auth.multi_names import LISTS, nested_prefixes, owned_entries, owner, provider_name
from hubplugins.auth.revocation import Revocation
from hubplugins.hub.refusals import refuse
from hubplugins.hub.trait_help import example, trait_help
from hubplugins.policy.rules.sign_in import name_not_owned, no_sign_in_method

__all__ = ["MultiAuthenticator"]

# ends in a separator: "gh" would make the GitHub login "arris" the hub name "gharris"
_PREFIX = re.compile(r"^[a-z0-9][a-z0-9_.-]*[_.-]$")


def _load_class(spec: Any) -> type[Authenticator]:
    if isinstance(spec, type):
        return spec
    from importlib.metadata import entry_points

    for ep in entry_points(group="jupyterhub.authenticators"):
        if ep.name == spec:
            return ep.load()
    return import_item(spec)


async def _maybe(value: Any) -> Any:
    return await value if isawaitable(value) else value


class MultiAuthenticator(Revocation, Authenticator):
    """Offer several authenticators on one login page; route each user to theirs."""

    authenticators = List(
        Dict(),
        config=True,
        help=trait_help(
            """
            The sign-in methods, in the order shown on the login page. Each entry is a
            dict with:

            - ``class``: an authenticator class, its import path, or its entry-point
              name (``"hubplugins.GitHubAuthenticator"``, ``"directory"``; in the
              chart's values a name, not a class);
            - ``url_prefix``: where its pages live below ``/hub/`` (required, distinct);
            - ``username_prefix``: put before the provider's names to make the hub
              names of this child (default ``""``, none); no prefix may start another
              and at most one may be empty; the child without one refuses names that
              start with another child's prefix;
            - ``config``: optional trait values for this child only (the child also
              reads its own config section, e.g. ``c.GitHubAuthenticator``);
            - ``title``: heading of a password child's form (default "Sign in with a
              username and password"); redirecting children show "Sign in with
              <login_service>" instead.

            Empty (the default) is an error at start; so is an entry with another
            key, or without ``class`` or ``url_prefix``.
            """,
            example(
                "MultiAuthenticator",
                "authenticators",
                [
                    {
                        "class": "hubplugins.GitHubAuthenticator",
                        "url_prefix": "github",
                        "username_prefix": "gh-",
                    },
                    {"class": "hubplugins.DirectoryAuthenticator", "url_prefix": "directory"},
                ],
            ),
        ),
    )

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.children: list[Authenticator] = []
        self._check_entries()
        for entry in self.authenticators:
            base = _load_class(entry["class"])
            cls = type(
                base.__name__,
                (ChildMixin, base),
                {
                    "url_prefix": entry["url_prefix"].strip("/"),
                    "username_prefix": entry.get("username_prefix", ""),
                    "login_title": entry.get("title", "Sign in with a username and password"),
                    "multi": self,
                    "__module__": base.__module__,
                },
            )
            self._check_entry_config(len(self.children), cls)
            self.children.append(cls(parent=self, **entry.get("config", {})))
        self._check_identity_spaces()
        for i, child in enumerate(self.children):
            self._give_lists(i, child)

    def _check_entry_config(self, index: int, cls: type[Authenticator]) -> None:
        """Refuse a setting the child does not have: traitlets would drop it with a hidden
        warning, and a misspelled restriction (``allowed_organisations``) would let anyone in."""
        where = f"{type(self).__name__}.authenticators[{index}].config"
        known = set(cls.class_trait_names(config=True))
        for key in self.authenticators[index].get("config", {}):
            if key not in known:
                close = difflib.get_close_matches(str(key), sorted(known), n=1)
                hint = f"; did you mean {close[0]!r}?" if close else ""
                raise ValueError(f"{where}: {cls.__name__} has no setting {key!r}{hint}")

    def _check_identity_spaces(self) -> None:
        """Refuse two children whose people could have the same identity: two GitHub
        instances number their users apart (github.com's 4242 is not a GitHub Enterprise
        Server's 4242), and so do two OpenID providers named by no ``issuer``. Both people
        would share one account identity, with its volumes and SSH key."""
        where = f"{type(self).__name__}.authenticators"
        seen: dict[tuple[str, str], int] = {}
        for i, child in enumerate(self.children):
            space = getattr(child, "identity_space", lambda: None)()
            if space is None:
                continue
            kind = str(getattr(child, "identity_provider", ""))
            for (other_kind, other_space), j in seen.items():
                if other_kind == kind and other_space != space:
                    raise ValueError(
                        f"{where}[{j}] and [{i}] are both {kind} sign-ins, at {other_space} "
                        f"and at {space}: their ids are numbered apart, so two people could "
                        "get one account identity, with its data and SSH key. Keep one "
                        + (
                            "GitHub sign-in per hub."
                            if kind == "github"
                            else "of them, or set `issuer` on each."
                        )
                    )
            seen[(kind, space)] = i

    def _give_lists(self, index: int, child: Authenticator) -> None:
        """The child's allow, block and admin lists: its entries of the hub-name lists.

        A list set for the child alone (its config section or the entry's
        ``config``) may name only the child's names; the hub-wide lists
        (``c.Authenticator``) name everyone's, but each entry must be a name
        some child can produce.
        """
        prefixes = [c.username_prefix for c in self.children]  # type: ignore[attr-defined]
        entry_config = self.authenticators[index].get("config", {})
        for trait in LISTS:
            own = trait in entry_config or any(
                trait in child.config.get(cls.__name__, {})
                for cls in type(child).__mro__[1:]
                if issubclass(cls, Authenticator) and cls is not Authenticator
            )
            hub_wide = {self.normalize_username(n) for n in getattr(self, trait)}
            names = owned_entries(
                hub_wide, index, prefixes, f"Authenticator.{trait}", own_list=False
            )
            mine = {self.normalize_username(n) for n in getattr(child, trait)}
            where = f"{type(child).__name__}.{trait}" if own else f"Authenticator.{trait}"
            names |= owned_entries(mine, index, prefixes, where, own_list=own)
            setattr(child, trait, names)

    def _check_entries(self) -> None:
        where = f"{type(self).__name__}.authenticators"
        if not self.authenticators:
            raise ValueError(f"{where} is empty: list at least one sign-in method")
        urls: set[str] = set()
        prefixes: set[str] = set()
        for i, entry in enumerate(self.authenticators):
            unknown = set(entry) - {"class", "url_prefix", "username_prefix", "config", "title"}
            if unknown or "class" not in entry:
                raise ValueError(
                    f"{where}[{i}]: needs 'class' and 'url_prefix'; unknown keys {sorted(unknown)}"
                )
            url = str(entry.get("url_prefix", "")).strip("/")
            if not url or url in urls or url in ("login", "logout", "api", "spawn"):
                raise ValueError(f"{where}[{i}].url_prefix {url!r} is empty, taken or reserved")
            urls.add(url)
            for key, kind in (("username_prefix", str), ("title", str), ("config", dict)):
                if key in entry and not isinstance(entry[key], kind):
                    what = "text" if kind is str else "a mapping of settings"
                    raise ValueError(
                        f"{where}[{i}].{key} is {entry[key]!r}: it must be {what}"
                        + ("; leave it out for none" if entry[key] is None else "")
                    )
            prefix = entry.get("username_prefix", "")
            if prefix and not _PREFIX.match(prefix):
                raise ValueError(
                    f"{where}[{i}].username_prefix {prefix!r}: use lowercase letters, "
                    "digits, '-', '_' or '.', ending in '-', '_' or '.', e.g. 'gh-'"
                )
            if prefix in prefixes:
                what = "more than one child has no username_prefix" if not prefix else "is taken"
                raise ValueError(
                    f"{where}[{i}].username_prefix {prefix!r}: {what}; usernames of different "
                    "sign-in methods would collide. Give each but one a prefix, e.g. 'gh-'."
                )
            prefixes.add(prefix)
        labels = [
            f"{where}[{i}] ({str(e['class']).rsplit('.', 1)[-1]})"
            for i, e in enumerate(self.authenticators)
        ]
        nested = nested_prefixes(
            labels, [e.get("username_prefix", "") for e in self.authenticators]
        )
        if nested:
            raise ValueError(nested)

    # -- what the hub reads from "the authenticator" -------------------------------

    @default("manage_groups")
    def _manage_groups_default(self) -> bool:
        return any(child.manage_groups for child in self.children)

    @default("enable_auth_state")
    def _enable_auth_state_default(self) -> bool:
        return any(child.enable_auth_state for child in self.children)

    @default("refresh_pre_spawn")
    def _refresh_pre_spawn_default(self) -> bool:
        return any(child.refresh_pre_spawn for child in self.children)

    def child_for(self, username: str) -> Authenticator | None:
        """The child that owns hub name ``username`` (its prefix, else the unprefixed), or None."""
        found = owner(username, [c.username_prefix for c in self.children])  # type: ignore[attr-defined]
        return None if found is None else self.children[found]

    def check_owner(self, child: Authenticator, name: str) -> None:
        """Refuse (403) a hub name ``child`` produced that it does not own."""
        found = self.child_for(name)
        if found is child:
            return
        other = found.username_prefix if found is not None else ""  # type: ignore[attr-defined]
        self.log.warning(
            "Refusing %r from %s: the name is not one it owns", name, type(child).__name__
        )
        raise refuse(self.log, "sign-in", name_not_owned(name, other), user=name)

    def check_allow_config(self) -> None:
        for child in self.children:
            child.check_allow_config()

    def get_handlers(self, app: Any) -> list[tuple[str, Any]]:
        routes: list[tuple[str, Any]] = []
        for child in self.children:
            routes.extend(child.get_handlers(app))
        return routes

    def get_custom_html(self, base_url: str) -> str:
        """One button per redirecting child, one form per password child (a Jinja template)."""
        parts = ['<div class="hubplugins-login" id="hubplugins-login">']
        for i, child in enumerate(self.children):
            if i:
                parts.append('<p class="text-center text-muted my-3">or</p>')
            url = escape(child.login_url(base_url))
            if child.login_service:
                label = escape(f"Sign in with {child.login_service}")
                parts.append(
                    '<div class="service-login mb-3"><a role="button" class="btn btn-jupyter '
                    f'btn-lg" href="{url}{{% if next %}}?next={{{{ next }}}}{{% endif %}}">'
                    f"{label}</a></div>"
                )
            else:
                name = escape(child.url_prefix)  # type: ignore[attr-defined]
                parts.append(
                    f'<form action="{url}{{% if next %}}?next={{{{ next }}}}{{% endif %}}" '
                    f'method="post" class="auth-form-body m-auto mb-3" id="{name}-form">'
                    f'<p class="text-center"><strong>{escape(child.login_title)}</strong></p>'
                    '<input type="hidden" name="_xsrf" value="{{ xsrf }}" />'
                    f'<label for="{name}-username">Username:</label>'
                    f'<input id="{name}-username" class="form-control" name="username" '
                    'type="text" autocapitalize="off" autocorrect="off" autocomplete="username" />'
                    f'<label for="{name}-password">Password:</label>'
                    f'<input id="{name}-password" class="form-control" name="password" '
                    'type="password" autocomplete="current-password" />'
                    f'<input type="submit" id="{name}-submit" class="btn btn-jupyter form-control" '
                    'value="Sign in" /></form>'
                )
        parts.append("</div>")
        return "\n".join(parts)

    # -- steps after sign-in go to the owning child ----------------------------------

    async def refresh_user(self, user: Any, handler: Any = None) -> Any:
        """The owning child's refresh under the provider's name; False if nobody owns the name.

        A blocked name means a new sign-in. A person renamed at the provider
        keeps the account (the child's binding puts the account's name back,
        see :mod:`hubplugins.auth.binding`); a model under another name still
        means a new sign-in.
        """
        child = self.child_for(user.name)
        if child is None:
            self.log.warning(
                "Refresh: no sign-in method owns %r; a new sign-in is needed", user.name
            )
            return False
        provider = provider_name(user.name, child.username_prefix)  # type: ignore[attr-defined]
        if not await _maybe(child.check_blocked_users(provider, None)):
            self.log.warning("Refresh: %s is blocked; a new sign-in is needed", user.name)
            self.end_access(user, handler, "is blocked by the hub's administrators")
            return False
        result = await _maybe(child.as_provider("refresh_user", user, handler))  # type: ignore[attr-defined]
        if isinstance(result, dict):
            name = result.get("name")
            if name is not None and child.username_prefix + name != user.name:  # type: ignore[attr-defined]
                self.log.warning(
                    "Refresh: %s is now %r at its provider; a new sign-in is needed",
                    user.name,
                    name,
                )
                return False
            result = {**result, "name": user.name}
        return result

    async def pre_spawn_start(self, user: Any, spawner: Any) -> None:
        child = self.child_for(user.name)
        if child is None:
            raise refuse(self.log, "spawn", no_sign_in_method(user.name), user=user.name)
        await _maybe(child.as_provider("pre_spawn_start", user, spawner))  # type: ignore[attr-defined]

    async def post_spawn_stop(self, user: Any, spawner: Any) -> None:
        child = self.child_for(user.name)
        if child is not None:
            await _maybe(child.as_provider("post_spawn_stop", user, spawner))  # type: ignore[attr-defined]

    def add_user(self, user: Any) -> None:
        """The hub's own list only: a child's allow list is what its configuration says.

        JupyterHub calls this for every user in the database at start and for
        every new user; passing those on (``allow_existing_users``) would let
        someone removed from an allowed organization or group back in.
        A new user made by a child's sign-in gets that sign-in's identity
        (see :mod:`hubplugins.auth.binding`).
        """
        super().add_user(user)
        bind_new_account(user, self.log)

    async def get_authenticated_user(self, handler: Any, data: Any) -> Any:
        """A form posted to ``/hub/login`` goes to the first password child, with its checks."""
        for child in self.children:
            if not child.login_service:
                return await child.get_authenticated_user(handler, data)
        return None

    async def authenticate(self, handler: Any, data: Any = None) -> Any:
        return None  # every sign-in goes through a child (get_authenticated_user)
