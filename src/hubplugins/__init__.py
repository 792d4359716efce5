"""Policy-enforcing plugins for JupyterHub on Kubernetes.

The classes are imported lazily so that ``import hubplugins`` stays cheap and
the pure policy core can be used without JupyterHub's heavier imports.
"""

from __future__ import annotations

import importlib
from typing import Any

from hubplugins import _moved

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


def __getattr__(name: str) -> Any:
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module 'hubplugins' has no attribute {name!r}")
    value = getattr(importlib.import_module(module), name)
    globals()[name] = value
    return value
