"""The child side of :class:`~hubplugins.auth.multi.MultiAuthenticator`.

:class:`ChildMixin` goes in front of each child authenticator's class: it puts
the child's pages under its URL prefix, its names behind its username prefix,
refuses (403, :func:`~hubplugins.policy.rules.sign_in.name_not_owned`)
a name the child does not own, and sends
every step the hub asks of the child after sign-in back through the combined
authenticator, which hands it to the owning child as a :class:`ProviderUser`.
"""

from __future__ import annotations

from inspect import isawaitable
from typing import TYPE_CHECKING, Any

from jupyterhub.utils import url_path_join

from hubplugins.auth.multi_names import provider_name

if TYPE_CHECKING:
    from hubplugins.auth.multi import MultiAuthenticator


class ProviderUser:
    """The hub's user as a child knows it: every attribute the user's, the name the provider's."""

    def __init__(self, user: Any, name: str) -> None:
        object.__setattr__(self, "_user", user)
        object.__setattr__(self, "name", name)

    def __getattr__(self, attr: str) -> Any:
        return getattr(self._user, attr)

    def __setattr__(self, attr: str, value: Any) -> None:
        if attr == "name":
            raise AttributeError("a sign-in method cannot rename a hub user")
        setattr(self._user, attr, value)


class ChildMixin:
    """Puts a child's URLs under its prefix and its usernames under its prefix.

    What the hub asks of the child after sign-in (from the child's own pages
    too) goes through the :class:`MultiAuthenticator`, which routes it to the
    child that owns the user, under the provider's name.
    """

    url_prefix = ""
    username_prefix = ""
    login_title = ""
    multi: MultiAuthenticator

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

    async def run_post_auth_hook(self, handler: Any, auth_model: dict[str, Any]) -> Any:
        """The last step of a sign-in that passed every check: the name becomes the hub name.

        ``post_auth_hook`` then sees the hub name (``gh-alice``), as the lists do.
        """
        auth_model["name"] = self.username_prefix + auth_model["name"]
        model = super().run_post_auth_hook(handler, auth_model)  # type: ignore[misc]
        return await model if isawaitable(model) else model

    async def get_authenticated_user(self, handler: Any, data: Any) -> Any:
        model = super().get_authenticated_user(handler, data)  # type: ignore[misc]
        if isawaitable(model):
            model = await model
        if model:
            self.multi.check_owner(self, model["name"])
        return model

    def validate_username(self, username: str) -> bool:
        """The child's own rules on the provider's name, then: is the hub name ours?"""
        if not super().validate_username(username):  # type: ignore[misc]
            return False
        self.multi.check_owner(self, self.username_prefix + username)
        return True

    def as_provider(self, method: str, user: Any, *args: Any) -> Any:
        """Call the child's own ``method`` with ``user`` under the provider's name."""
        if self.username_prefix:
            user = ProviderUser(user, provider_name(user.name, self.username_prefix))
        return getattr(super(), method)(user, *args)

    async def refresh_user(self, user: Any, handler: Any = None, **kwargs: Any) -> Any:
        return await self.multi.refresh_user(user, handler)

    async def pre_spawn_start(self, user: Any, spawner: Any) -> None:
        await self.multi.pre_spawn_start(user, spawner)

    async def post_spawn_stop(self, user: Any, spawner: Any) -> None:
        await self.multi.post_spawn_stop(user, spawner)

    def add_user(self, user: Any) -> None:
        self.multi.add_user(user)

    def delete_user(self, user: Any) -> None:
        self.multi.delete_user(user)
