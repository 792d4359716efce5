"""Names a module gives on first use: a module ``__getattr__`` (PEP 562).

:func:`lazy_names` serves a package's public names from the modules that hold
them, so that ``import hubplugins`` imports no JupyterHub. :func:`lazy_classes`
serves classes a module builds in a function: the modules that serve the
package's hub endpoints define their tornado handlers that way, because the
handlers subclass JupyterHub's ``APIHandler``, and importing such a module (for
its paths and rules, from the lifecycle service or a test) then needs no
JupyterHub.
"""

from __future__ import annotations

import importlib
import sys
from collections.abc import Callable, Mapping
from typing import Any

__all__ = ["lazy_classes", "lazy_names"]


def lazy_names(package: str, names: Mapping[str, str]) -> Callable[[str], Any]:
    """``__getattr__`` for ``package``: each of ``names`` from the module it maps to, kept."""

    def __getattr__(name: str) -> Any:
        module = names.get(name)
        if module is None:
            raise AttributeError(f"module {package!r} has no attribute {name!r}")
        value = getattr(importlib.import_module(module), name)
        setattr(sys.modules[package], name, value)
        return value

    return __getattr__


def lazy_classes(module: str, build: Callable[[], Any], *names: str) -> Callable[[str], Any]:
    """``__getattr__`` for ``module``: ``build()`` gives the classes ``names``, in order.

    ``build`` returns one class, or a tuple of as many classes as ``names``.
    """

    def __getattr__(name: str) -> Any:
        if name not in names:
            raise AttributeError(f"module {module!r} has no attribute {name!r}")
        built = build()
        classes = built if isinstance(built, tuple) else (built,)
        namespace = vars(sys.modules[module])
        namespace.update(zip(names, classes, strict=True))
        return namespace[name]

    return __getattr__
