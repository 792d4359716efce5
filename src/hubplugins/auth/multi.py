"""Several sign-in methods on one login page: :class:`MultiAuthenticator`.

Each child authenticator (e.g. ``GitHubAuthenticator`` and
``DirectoryAuthenticator``) keeps its own flow under its own URL prefix
(``/hub/github/oauth_login``, ``/hub/directory/login``); the hub's
``/hub/login`` page shows a button or a form per child. Every step the hub
asks of "the authenticator" after sign-in (``refresh_user``,
``pre_spawn_start``, ``post_spawn_stop``) goes to the child that owns the
user, found by the user's name prefix.

Usernames of different children must not collide: each child has a
``username_prefix`` (e.g. ``"gh-"``), the prefixes must be distinct, and at
most one child may have none. The child without a prefix owns every name
that carries no other child's prefix. Give the prefix to the OAuth child:
its checks run on the provider's own name, before the prefix is added.

jupyterhub-multiauthenticator (0.4.0 on PyPI) was considered: it forwards
neither ``refresh_user`` nor ``pre_spawn_start`` nor ``manage_groups`` to the
children, so membership re-checks and managed groups would silently stop.
"""

from __future__ import annotations

import re
from html import escape
from inspect import isawaitable
from typing import Any

from jupyterhub.auth import Authenticator
from jupyterhub.utils import url_path_join
from traitlets import Dict, List, default, import_item

from .binding import bind_new_account

_PREFIX = re.compile(r"^[a-z0-9][a-z0-9_.-]*$")


def _load_class(spec: Any) -> type[Authenticator]:
    if isinstance(spec, type):
        return spec
    from importlib.metadata import entry_points

    for ep in entry_points(group="jupyterhub.authenticators"):
        if ep.name == spec:
            return ep.load()
    return import_item(spec)


class _ChildMixin:
    """Puts a child's URLs under its prefix and its usernames under its prefix."""

    url_prefix = ""
    username_prefix = ""
    login_title = ""

    def login_url(self, base_url: str) -> str:
        return super().login_url(url_path_join(base_url, self.url_prefix))  # type: ignore[misc]

    def logout_url(self, base_url: str) -> str:
        return url_path_join(base_url, "logout")

    def get_callback_url(self, handler: Any = None) -> str:
        configured = getattr(self, "oauth_callback_url", "")
        if configured or handler is None:
            return super().get_callback_url(handler)  # type: ignore[misc]
        base = url_path_join(handler.hub.server.base_url, self.url_prefix, "oauth_callback")
        return f"{handler.request.protocol}://{handler.request.host}{base}"

    def get_handlers(self, app: Any) -> list[tuple[str, Any]]:
        routes = []
        for path, handler in super().get_handlers(app):  # type: ignore[misc]
            if path.rstrip("/").endswith("/logout"):
                continue  # one logout for the whole hub
            bound = type(handler.__name__, (handler,), {"authenticator": self})
            routes.append((url_path_join("/", self.url_prefix, path), bound))
        return routes

    def account_name(self, name: str) -> str:
        # the identity binding (auth/binding.py) checks the prefixed hub account
        return self.username_prefix + name

    async def get_authenticated_user(self, handler: Any, data: Any) -> Any:
        model = super().get_authenticated_user(handler, data)  # type: ignore[misc]
        if isawaitable(model):
            model = await model
        if model and self.username_prefix:
            model["name"] = self.username_prefix + model["name"]
        return model


class MultiAuthenticator(Authenticator):
    """Offer several authenticators on one login page; route each user to theirs."""

    authenticators = List(
        Dict(),
        config=True,
        help="""
        The sign-in methods, in the order shown on the login page. Each entry is a
        dict with:

        - ``class``: an authenticator class, its import path, or its entry-point
          name (``"hubplugins.GitHubAuthenticator"``, ``"directory"``);
        - ``url_prefix``: where its pages live below ``/hub/`` (required, distinct);
        - ``username_prefix``: added to the names it signs in (default ``""``,
          none); prefixes must be distinct and at most one may be empty;
        - ``config``: optional trait values for this child only (the child also
          reads its own config section, e.g. ``c.GitHubAuthenticator``);
        - ``title``: heading of a password child's form (default "Sign in with a
          username and password"); redirecting children show "Sign in with
          <login_service>" instead.

        Empty (the default) is an error at start. Example::

            [{"class": "hubplugins.GitHubAuthenticator", "url_prefix": "github",
              "username_prefix": "gh-"},
             {"class": "hubplugins.DirectoryAuthenticator", "url_prefix": "directory"}]
        """,
    )

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.children: list[Authenticator] = []
        self._check_entries()
        for entry in self.authenticators:
            base = _load_class(entry["class"])
            cls = type(
                base.__name__,
                (_ChildMixin, base),
                {
                    "url_prefix": entry["url_prefix"].strip("/"),
                    "username_prefix": entry.get("username_prefix", ""),
                    "login_title": entry.get("title", "Sign in with a username and password"),
                    "__module__": base.__module__,
                },
            )
            self.children.append(cls(parent=self, **entry.get("config", {})))

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
            prefix = entry.get("username_prefix", "")
            if prefix and not _PREFIX.match(prefix):
                raise ValueError(
                    f"{where}[{i}].username_prefix {prefix!r}: use lowercase letters, "
                    "digits, '-', '_' or '.', e.g. 'gh-'"
                )
            if prefix in prefixes:
                what = "more than one child has no username_prefix" if not prefix else "is taken"
                raise ValueError(
                    f"{where}[{i}].username_prefix {prefix!r}: {what}; usernames of different "
                    "sign-in methods would collide. Give each but one a prefix, e.g. 'gh-'."
                )
            prefixes.add(prefix)

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
        """The child that owns ``username``: longest matching prefix, else the unprefixed."""
        best: Authenticator | None = None
        for child in self.children:
            prefix = child.username_prefix  # type: ignore[attr-defined]
            if prefix and username.startswith(prefix):
                if best is None or len(prefix) > len(best.username_prefix):  # type: ignore[attr-defined]
                    best = child
        if best is None:
            best = next((c for c in self.children if not c.username_prefix), None)  # type: ignore[attr-defined]
        return best

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
        child = self.child_for(user.name)
        if child is None:
            return True
        result = child.refresh_user(user, handler)
        return await result if isawaitable(result) else result

    async def pre_spawn_start(self, user: Any, spawner: Any) -> None:
        child = self.child_for(user.name)
        if child is not None:
            result = child.pre_spawn_start(user, spawner)
            if isawaitable(result):
                await result

    async def post_spawn_stop(self, user: Any, spawner: Any) -> None:
        child = self.child_for(user.name)
        if child is not None:
            result = child.post_spawn_stop(user, spawner)
            if isawaitable(result):
                await result

    async def get_authenticated_user(self, handler: Any, data: Any) -> Any:
        """A form posted to ``/hub/login`` goes to the first password child, with its checks."""
        for child in self.children:
            if not child.login_service:
                return await child.get_authenticated_user(handler, data)
        return None

    async def authenticate(self, handler: Any, data: Any = None) -> Any:
        return None  # every sign-in goes through a child (get_authenticated_user)

    def add_user(self, user: Any) -> Any:
        result = super().add_user(user)
        bind_new_account(user, self.log)  # a password child's sign-in at /hub/login
        return result
