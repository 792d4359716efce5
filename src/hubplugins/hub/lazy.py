"""Classes a module builds on first use: a module ``__getattr__`` (PEP 562).

The modules that serve the package's hub endpoints define their tornado
handlers inside a function, because the handlers subclass JupyterHub's
``APIHandler``: importing such a module (for its paths and rules, from the
lifecycle service or a test) then needs no JupyterHub. ``lazy_classes`` gives
the module the ``__getattr__`` that builds them once and keeps them.
"""

from __future__ import annotations

import sys
from collections.abc import Callable
from typing import Any

__all__ = ["lazy_classes"]


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
