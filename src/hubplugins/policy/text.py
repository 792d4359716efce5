"""How a message shows what a user sent: bounded, quoted, controls escaped.

Every refusal that quotes user input goes through these, so that no message
echoes a huge or hostile value back: :func:`echo` for text, :func:`kind_of` for
a JSON value of any type, :func:`bounded_repr` for a value in a config problem.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

__all__ = ["bounded_repr", "echo", "kind_of"]


def echo(text: str, limit: int = 40) -> str:
    """Quote user input for a message, bounded in length and with controls escaped."""
    short = text[:limit]
    quoted = json.dumps(short, ensure_ascii=False)
    return quoted[:-1] + '..."' if len(text) > limit else quoted


def kind_of(value: Any) -> str:
    """What a JSON value is, for a message: ``a list``, ``null``, ``"abc"``, ``"1.5"``."""
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "a boolean"
    if isinstance(value, list | tuple):
        return "a list"
    if isinstance(value, Mapping):
        return "an object"
    if isinstance(value, str):
        return echo(value)
    return echo(repr(value))


def bounded_repr(value: object, limit: int = 60) -> str:
    """``repr(value)``, cut to ``limit`` characters with ``...``."""
    text = repr(value)
    return text if len(text) <= limit else text[: limit - 3] + "..."
