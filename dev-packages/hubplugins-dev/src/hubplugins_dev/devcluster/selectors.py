"""Label and field selectors, parsed once into a predicate over an object."""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any

from .errors import ApiError

Matcher = Callable[[dict[str, Any]], bool]

_SET_EXPR = re.compile(r"^\s*(!?)\s*([^\s!=(),]+)\s*(?:(notin|in)\s*\(([^)]*)\))?\s*$")


def _split_top_level(text: str) -> list[str]:
    """Split on commas that are not inside ``(...)``."""
    parts, depth, current = [], 0, []
    for ch in text:
        if ch == "(":
            depth += 1
        elif ch == ")":
            depth -= 1
        if ch == "," and depth == 0:
            parts.append("".join(current))
            current = []
        else:
            current.append(ch)
    parts.append("".join(current))
    return [p.strip() for p in parts if p.strip()]


def _label_requirement(expr: str) -> Callable[[dict[str, str]], bool]:
    for op in ("!=", "==", "="):
        if op in expr and "(" not in expr:
            key, _, value = expr.partition(op)
            key, value = key.strip(), value.strip()
            if not key:
                break
            if op == "!=":
                return lambda labels: labels.get(key) != value
            return lambda labels: labels.get(key) == value
    match = _SET_EXPR.match(expr)
    if not match:
        raise ApiError(400, f"unable to parse requirement: {expr!r}", reason="BadRequest")
    negate, key, op, values_text = match.groups()
    if op:
        if negate:
            raise ApiError(400, f"unable to parse requirement: {expr!r}", reason="BadRequest")
        values = {v.strip() for v in values_text.split(",") if v.strip()}
        if op == "in":
            return lambda labels: labels.get(key) in values
        return lambda labels: labels.get(key) not in values
    if negate:
        return lambda labels: key not in labels
    return lambda labels: key in labels


def label_matcher(selector: str | None) -> Matcher:
    """``a=b``, ``a==b``, ``a!=b``, ``a in (x,y)``, ``a notin (x)``, ``a``, ``!a``, comma-joined."""
    if not selector:
        return lambda obj: True
    requirements = [_label_requirement(e) for e in _split_top_level(selector)]

    def match(obj: dict[str, Any]) -> bool:
        labels = (obj.get("metadata") or {}).get("labels") or {}
        return all(req(labels) for req in requirements)

    return match


def lookup_path(obj: Any, path: str) -> Any:
    """Follow a dotted path (``status.phase``) through nested dicts; None if absent."""
    current = obj
    for part in path.split("."):
        if not isinstance(current, dict):
            return None
        current = current.get(part)
    return current


def _field_text(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


def field_matcher(selector: str | None) -> Matcher:
    """``path=value``, ``path==value``, ``path!=value``, comma-joined."""
    if not selector:
        return lambda obj: True
    requirements: list[tuple[str, bool, str]] = []
    for expr in _split_top_level(selector):
        for op in ("!=", "==", "="):
            if op in expr:
                path, _, value = expr.partition(op)
                requirements.append((path.strip(), op == "!=", value.strip()))
                break
        else:
            raise ApiError(
                400, f"invalid field selector: {expr!r}: expected path=value", reason="BadRequest"
            )

    def match(obj: dict[str, Any]) -> bool:
        for path, negate, value in requirements:
            equal = _field_text(lookup_path(obj, path)) == value
            if equal == negate:
                return False
        return True

    return match


def selector_matcher(label_selector: str | None, field_selector: str | None) -> Matcher:
    labels = label_matcher(label_selector)
    fields = field_matcher(field_selector)
    return lambda obj: labels(obj) and fields(obj)
