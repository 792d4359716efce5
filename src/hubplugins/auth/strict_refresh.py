"""A refresh that says no ends token requests too.

JupyterHub calls ``Authenticator.refresh_user`` at most every
``auth_refresh_age`` seconds; every hubplugins authenticator answers False
there when the account is revoked upstream (disabled in the directory, out of
the allowed GitHub organisations, ...). JupyterHub 5.5 then ends every kind of
access. JupyterHub 6.1 ends only browser sessions unless
``Authenticator.auth_refresh_strict`` is True, and keeps honouring API tokens
on the stale sign-in, so a revoked account could go on starting servers with a
token made before. :class:`StrictRefresh` makes True the default on 6.1+ (an
admin may still set it to False).
"""

from __future__ import annotations

from jupyterhub.auth import Authenticator
from traitlets import default
from traitlets.config import Configurable


class StrictRefresh(Configurable):
    """Mixin for authenticators: ``auth_refresh_strict`` defaults to True."""

    if "auth_refresh_strict" in Authenticator.class_trait_names():  # JupyterHub 6.1+

        @default("auth_refresh_strict")
        def _default_refresh_strict(self) -> bool:
            return True
