"""Policy-enforcing plugins for JupyterHub on Kubernetes.

The classes are imported lazily so that ``import hubplugins`` stays cheap and
the pure policy core can be used without JupyterHub's heavier imports.
"""

from __future__ import annotations

from hubplugins import _moved
from hubplugins._lazy import lazy_names

__version__ = "0.1.0"

_LAZY = {
    "PolicySpawner": "hubplugins.spawner",
    "DirectoryAuthenticator": "hubplugins.auth.directory",
    "GitHubAuthenticator": "hubplugins.auth.github",
    "OIDCAuthenticator": "hubplugins.auth.oidc",
    "MultiAuthenticator": "hubplugins.auth.multi",
    "HubPolicy": "hubplugins.hub.config",
    "setup": "hubplugins.hub.config",
}

__all__ = [*_LAZY, "__version__"]

_moved.install()  # the module paths of earlier releases still import

__getattr__ = lazy_names(__name__, _LAZY)
