"""What a user asks for: ``user_options`` -> :class:`Request`.

Accepted ``user_options`` keys:

- ``cpu`` (cores: ``2``, ``"500m"``), ``memory`` (a quantity: ``"4G"``,
  ``"4Gi"``, or a number of bytes), ``gpu`` (a whole number): each sets the
  server's *limit*; the guarantee becomes ``min(default guarantee, limit)``.
- ``resources``: text in the ``.resources`` file format, one ``key=value`` a
  line, ``#`` comments and blank lines allowed. Keys: ``gpu``, ``cpur`` / ``cpul``
  (CPU guarantee / limit in cores), ``memr`` / ``meml`` (memory guarantee /
  limit in **GB = 10⁹ bytes**, a plain number with no unit, matching the
  Kubernetes ``G``). A missing line keeps the default.
- ``profile`` and ``profile-option-*``: KubeSpawner's own form fields.

Form posts give lists of strings; a one-element list is read as its element and
an empty string as "not given". Anything else (an unknown key, a unit where
none belongs, a duplicate line, a negative, NaN or infinite value) raises
:class:`~hubplugins.errors.PolicyRefusal` with a 400 decision naming the
option or line.
"""

from __future__ import annotations

import re
from collections.abc import Collection, Mapping
from dataclasses import dataclass
from decimal import ROUND_CEILING, Decimal
from typing import Any

from .decisions import Decision, echo
from .errors import PolicyRefusal, QuantityError
from .quantities import parse_cpu, parse_memory

__all__ = ["RESOURCE_KEYS", "Request", "parse_request", "parse_resources_text"]

RULE = "request"
RESOURCE_KEYS = ("gpu", "cpur", "cpul", "memr", "meml")
OPTION_KEYS = ("cpu", "memory", "gpu", "resources", "profile")
PROFILE_OPTION_PREFIX = "profile-option-"
MAX_TEXT = 4096
MAX_LINES = 64
_NUMBER = re.compile(r"[0-9]+(?:\.[0-9]*)?|\.[0-9]+")
_FIELDS = {
    "cpur": "cpu_guarantee",
    "cpul": "cpu_limit",
    "memr": "memory_guarantee",
    "meml": "memory_limit",
    "gpu": "gpu",
}


@dataclass(frozen=True)
class Request:
    """Resources a user asked for; ``None`` keeps the policy's default."""

    cpu_guarantee: float | None = None
    cpu_limit: float | None = None
    memory_guarantee: int | None = None
    memory_limit: int | None = None
    gpu: int | None = None
    profile: str | None = None


def _bad(message: str, **details: Any) -> PolicyRefusal:
    return PolicyRefusal(Decision.refuse(RULE, message, status=400, **details))


def parse_resources_text(text: str) -> dict[str, Any]:
    """Parse ``.resources`` text into Request fields (only the lines given)."""
    if len(text) > MAX_TEXT:
        raise _bad(f"Invalid resources: the text is longer than {MAX_TEXT} characters.")
    lines = text.splitlines()
    if len(lines) > MAX_LINES:
        raise _bad(f"Invalid resources: more than {MAX_LINES} lines.")
    fields: dict[str, Any] = {}
    seen: dict[str, int] = {}
    for number, raw_line in enumerate(lines, start=1):
        line = raw_line.split("#", 1)[0].strip()
        if not line:
            continue
        where = f"Invalid resources, line {number}"
        key, sep, value = (part.strip() for part in line.partition("="))
        if not sep:
            raise _bad(f"{where}: {echo(line)} is not key=value (e.g. meml=4).", line=number)
        if key not in _FIELDS:
            raise _bad(
                f"{where}: unknown key {echo(key)}; the keys are {', '.join(RESOURCE_KEYS)}.",
                line=number,
            )
        if key in seen:
            raise _bad(f"{where}: {key} is already set on line {seen[key]}.", line=number)
        seen[key] = number
        fields[_FIELDS[key]] = _resource_value(key, value, where, number)
    return fields


def _resource_value(key: str, value: str, where: str, line: int) -> float | int:
    if not _NUMBER.fullmatch(value):
        unit = {
            "memr": "a number of GB with no unit (memr=2 means 2·10⁹ bytes)",
            "meml": "a number of GB with no unit (meml=4 means 4·10⁹ bytes)",
            "cpur": "a number of cores with no unit (cpur=0.5)",
            "cpul": "a number of cores with no unit (cpul=2)",
            "gpu": "a whole number (gpu=1)",
        }[key]
        raise _bad(f"{where}: {key}={echo(value)}; {key} takes {unit}.", line=line)
    number = Decimal(value)
    if key == "gpu":
        if number != number.to_integral_value():
            raise _bad(f"{where}: gpu={value}; gpu takes a whole number (gpu=1).", line=line)
        return int(number)
    if key in ("cpur", "cpul"):
        return parse_cpu(value)
    if number > 10**9:
        raise _bad(f"{where}: {key}={echo(value)} is too large.", line=line)
    return int((number * 10**9).to_integral_value(ROUND_CEILING))


def _unwrap(value: Any) -> Any:
    if isinstance(value, list | tuple) and len(value) == 1:
        value = value[0]
    if isinstance(value, str) and not value.strip():
        return None
    return value


def _option_gpu(value: Any) -> int:
    if isinstance(value, str) and value.strip().isdigit():
        value = int(value.strip())
    if isinstance(value, bool) or not isinstance(value, int):
        if isinstance(value, float) and value.is_integer() and value >= 0:
            return int(value)
        raise _bad(f"Invalid gpu: {echo(str(value))} is not a whole number of GPUs (e.g. 1).")
    if value < 0:
        raise _bad(f"Invalid gpu: {value} must not be negative.")
    return value


def _option_memory(value: Any) -> int:
    try:
        num_bytes = parse_memory(value)
    except QuantityError as exc:
        raise _bad(f"Invalid memory: {exc}.") from None
    bare = not isinstance(value, str) or _NUMBER.fullmatch(value.strip())
    if bare and num_bytes < 2**20:
        raise _bad(
            f"Invalid memory: {echo(str(value))} has no unit and would mean {num_bytes} bytes; "
            f"write {value}G (10^9 bytes) or {value}Gi (2^30 bytes)."
        )
    return num_bytes


def parse_request(user_options: Any, *, extra_keys: Collection[str] = ()) -> Request:
    """Read a :class:`Request` from ``user_options``; raises a 400 :class:`PolicyRefusal`.

    ``extra_keys`` are further option names the caller handles itself.
    """
    if user_options is None:
        return Request()
    if not isinstance(user_options, Mapping):
        raise _bad("Invalid options: expected a mapping of option names to values.")
    unknown = [
        str(k)
        for k in user_options
        if k not in OPTION_KEYS
        and k not in extra_keys
        and not (isinstance(k, str) and k.startswith(PROFILE_OPTION_PREFIX))
    ]
    if unknown:
        shown = ", ".join(echo(k, 30) for k in sorted(unknown)[:5])
        raise _bad(
            f"Unknown option {shown}: the options are {', '.join(OPTION_KEYS)} "
            f"and {PROFILE_OPTION_PREFIX}*."
        )
    fields: dict[str, Any] = {}
    resources = _unwrap(user_options.get("resources"))
    if resources is not None:
        if not isinstance(resources, str):
            raise _bad("Invalid resources: expected text with one key=value a line.")
        fields.update(parse_resources_text(resources))
    for key, field_name, parse in (
        ("cpu", "cpu_limit", _option_cpu),
        ("memory", "memory_limit", _option_memory),
        ("gpu", "gpu", _option_gpu),
    ):
        value = _unwrap(user_options.get(key))
        if value is None:
            continue
        if field_name in fields:
            line = {"cpu_limit": "cpul", "memory_limit": "meml", "gpu": "gpu"}[field_name]
            raise _bad(
                f"Invalid options: {key} is given both as an option and as {line} in resources."
            )
        fields[field_name] = parse(value)
    profile = _unwrap(user_options.get("profile"))
    if profile is not None:
        if not isinstance(profile, str):
            raise _bad("Invalid profile: expected a profile slug.")
        fields["profile"] = profile
    return Request(**fields)


def _option_cpu(value: Any) -> float:
    try:
        return parse_cpu(value)
    except QuantityError as exc:
        raise _bad(f"Invalid cpu: {exc}.") from None
