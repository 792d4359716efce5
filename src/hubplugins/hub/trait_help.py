"""A setting's help: its words, then one example as ``jupyterhub_config.py`` and as chart values.

Every configurable trait's help ends the same way: the example as
``c.Class.trait = ...`` (a ``python`` code block), the same example as the Zero
to JupyterHub values (``hub: config: Class: trait: ...``, a ``yaml`` code block
written by PyYAML's safe dumper) and ``.. versionadded::``. Both forms come
from one Python value, so they cannot drift apart.

The Python is laid out in ``ruff format``'s style (88 columns, one item a
line when a collection does not fit); the YAML writes mappings as blocks and a list
of plain values inline exactly where the Python writes it on one line.
"""

from __future__ import annotations

import inspect
from collections.abc import Mapping
from typing import Any

import yaml

VERSION = "0.1"
WIDTH = 88  # the Python example's line length
_INDENT = 4
_PYTHON_CAPTION = "jupyterhub_config.py"
_VALUES_CAPTION = "Zero to JupyterHub values (config.yaml)"
_COLLECTIONS = (list, tuple, set, frozenset, dict)


class _Inline(list[Any]):
    """A list the YAML writes inline (``[a, b]``), as the Python does."""


class _Dumper(yaml.SafeDumper):
    """PyYAML's safe dumper, with a list indented under its key as the chart's docs write it."""

    def increase_indent(self, flow: bool = False, indentless: bool = False) -> None:
        super().increase_indent(flow, False)


_Dumper.add_representer(
    _Inline,
    lambda dumper, data: dumper.represent_sequence("tag:yaml.org,2002:seq", data, flow_style=True),
)


def _items(value: Any) -> list[Any]:
    """A collection's items in the order both forms show them (a set's sorted)."""
    return sorted(value) if isinstance(value, set | frozenset) else list(value)


def _flat(value: Any) -> str:
    """``value`` as Python source on one line, with double-quoted strings."""
    if isinstance(value, str):
        text = repr(value)
        return f'"{text[1:-1]}"' if text[0] == "'" and '"' not in value else text
    if isinstance(value, dict):
        return "{" + ", ".join(f"{_flat(k)}: {_flat(v)}" for k, v in value.items()) + "}"
    if isinstance(value, set | frozenset):
        return "{" + ", ".join(map(_flat, _items(value))) + "}" if value else "set()"
    if isinstance(value, tuple):
        return "(" + ", ".join(map(_flat, value)) + (",)" if len(value) == 1 else ")")
    if isinstance(value, list):
        return "[" + ", ".join(map(_flat, value)) + "]"
    return repr(value)


def _inline(value: Any) -> Any:
    """The YAML data of a value the Python writes on one line."""
    if isinstance(value, dict):
        return {k: _inline(v) for k, v in value.items()}
    if isinstance(value, _COLLECTIONS):
        items = [_inline(item) for item in _items(value)]
        return _Inline(items) if not any(isinstance(i, _COLLECTIONS) for i in items) else items
    return value


def _layout(value: Any, indent: int, taken: int) -> tuple[str, Any]:
    """``value`` as Python source on a line at ``indent`` whose other text takes
    ``taken`` columns, and as the YAML data laid out the same way."""
    flat = _flat(value)
    if indent + taken + len(flat) <= WIDTH or not isinstance(value, _COLLECTIONS) or not value:
        return flat, _inline(value)
    inner = " " * (indent + _INDENT)
    lines: list[str] = []
    data: Any
    if isinstance(value, dict):
        data = {}
        for key, item in value.items():
            head = f"{_flat(key)}: "
            text, data[key] = _layout(item, indent + _INDENT, len(head) + 1)
            lines.append(f"{inner}{head}{text},")
    else:
        data = []
        for item in _items(value):
            text, part = _layout(item, indent + _INDENT, 1)
            lines.append(f"{inner}{text},")
            data.append(part)
    brackets = "()" if isinstance(value, tuple) else "[]" if isinstance(value, list) else "{}"
    return "\n".join([brackets[0], *lines, " " * indent + brackets[1]]), data


def _statement(cls: str, name: str, value: Any) -> tuple[str, Any]:
    """``c.<cls>.<name> = <value>`` laid out, and the value's YAML data."""
    target = f"c.{cls}.{name} = "
    text, data = _layout(value, 0, len(target))
    fits_wrapped = _INDENT + len(text) <= WIDTH
    if "\n" not in text and len(target) + len(text) > WIDTH and fits_wrapped:
        text = f"(\n{' ' * _INDENT}{text}\n)"  # a long string goes on a line of its own
    return target + text, data


def _block(language: str, caption: str, code: list[str]) -> list[str]:
    """A code block of ``code``'s lines, with its caption."""
    body = [f"{' ' * _INDENT}{line}" if line else "" for line in code]
    return [f".. code-block:: {language}", f"    :caption: {caption}", "", *body, ""]


def example(
    cls: str,
    name: str,
    value: Any,
    *,
    comment: str | None = None,
    also: Mapping[str, Any] | None = None,
) -> str:
    """The end of a setting's help: ``c.<cls>.<name> = value`` in a ``python``
    block, the same value as chart values in a ``yaml`` block, ``versionadded``.

    ``comment`` follows the setting's first line in both forms; ``also`` holds
    further settings of ``cls`` the example needs, set after it.
    """
    settings = {name: value, **(also or {})}
    python: list[str] = []
    data: dict[str, Any] = {}
    for setting, item in settings.items():
        text, data[setting] = _statement(cls, setting, item)
        python.append(text)
    chart = yaml.dump(
        {"hub": {"config": {cls: data}}},
        Dumper=_Dumper,
        sort_keys=False,
        allow_unicode=True,
        default_flow_style=False,
        width=1 << 16,
    )
    code, values = "\n".join(python).splitlines(), chart.splitlines()
    if comment:
        code[0] += f"  # {comment}"
        at = next(i for i, line in enumerate(values) if line.startswith(f"      {name}:"))
        values[at] += f"  # {comment}"
    lines = [
        *_block("python", _PYTHON_CAPTION, code),
        *_block("yaml", _VALUES_CAPTION, values),
        f".. versionadded:: {VERSION}",
    ]
    return "\n".join(lines)


def trait_help(words: str, end: str) -> str:
    """A help: ``words`` (a docstring-like text, dedented here) and then ``end``,
    the :func:`example` blocks."""
    return f"{inspect.cleandoc(words)}\n\n{end}"
