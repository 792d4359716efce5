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
- ``gpu_kind``: the GPU kind the server's GPUs are of, an extended resource
  name the tier offers in ``resources.gpu_kinds`` (``"nvidia.com/mig-1g.10gb"``);
  without it, ``resources.gpu.resource``. Asked without ``gpu``, one GPU.
- ``profile`` and the chosen profile's options (KubeSpawner's own; the caller
  names them in ``extra_keys``).

Values are read as they arrive in the REST API's JSON: a number or a string
where a number is expected, a string where text is. Form posts are turned into
such strings where the form is read (``PolicySpawner._options_from_form``), so
a list is never unwrapped here: ``{"cpu": [1]}`` is refused like ``{"cpu":
null}``. Anything else (an unknown key, a value of the wrong type, a unit where
none belongs, a duplicate line, a negative, NaN, infinite or absurdly large
value) raises :class:`~hubplugins.policy.errors.PolicyRefusal` with a 400 decision
naming the option or line.
"""

from __future__ import annotations

import math
import re
from collections.abc import Collection, Mapping
from dataclasses import dataclass
from decimal import ROUND_CEILING, Decimal
from typing import Any

from hubplugins.policy.decision import Decision
from hubplugins.policy.errors import PolicyRefusal, QuantityError
from hubplugins.policy.quantities import parse_cpu, parse_memory
from hubplugins.policy.text import echo, kind_of

__all__ = [
    "RESOURCE_KEYS",
    "Request",
    "options_object",
    "read_request",
]

RULE = "request"
RESOURCE_KEYS = ("gpu", "cpur", "cpul", "memr", "meml")
OPTION_KEYS = ("cpu", "memory", "gpu", "gpu_kind", "resources", "profile")
MAX_TEXT = 4096
MAX_GPUS = 10_000
"""Largest GPU count read at all; anything above is refused as malformed."""
MAX_LINES = 64
_NUMBER = re.compile(r"[0-9]+(?:\.[0-9]*)?|\.[0-9]+")
_WHOLE = re.compile(r"[0-9]{1,6}")
_RESOURCE = re.compile(r"[a-z0-9]([-a-z0-9.]*[a-z0-9])?/[a-zA-Z0-9]([-a-zA-Z0-9_.]*[a-zA-Z0-9])?")
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
    gpu_kind: str | None = None


def _bad(message: str, **details: Any) -> PolicyRefusal:
    return PolicyRefusal(Decision.refuse(RULE, message, status=400, **details))


def _parse_resources_text(text: str) -> dict[str, Any]:
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
        if number > MAX_GPUS:
            raise _bad(f"{where}: gpu={echo(value)} is too large.", line=line)
        return int(number)
    if key in ("cpur", "cpul"):
        try:
            return parse_cpu(value)
        except QuantityError as exc:
            raise _bad(f"{where}: {key}: {exc}.", line=line) from None
    if number > 10**9:
        raise _bad(f"{where}: {key}={echo(value)} is too large.", line=line)
    return int((number * 10**9).to_integral_value(ROUND_CEILING))


def _option_gpu(value: Any) -> int:
    number: Any = value
    if isinstance(value, str) and _WHOLE.fullmatch(value.strip()):
        number = int(value.strip())
    elif isinstance(value, float) and math.isfinite(value) and value.is_integer():
        number = int(value)
    if isinstance(number, bool) or not isinstance(number, int):
        raise _bad(f"Invalid gpu: {kind_of(value)} is not a whole number of GPUs (e.g. 1).")
    if number < 0:
        raise _bad(f"Invalid gpu: {number} must not be negative.")
    if number > MAX_GPUS:
        raise _bad(f"Invalid gpu: {kind_of(value)} is too large.")
    return number


def _option_memory(value: Any) -> int:
    if not _scalar(value):
        raise _bad(f"Invalid memory: {kind_of(value)} is not a memory quantity (e.g. 4G, 4Gi).")
    try:
        num_bytes = parse_memory(value)
    except QuantityError as exc:
        raise _bad(f"Invalid memory: {exc}.") from None
    bare = not isinstance(value, str) or _NUMBER.fullmatch(value.strip())
    if bare and num_bytes < 2**20:
        shown = echo(str(value), 20)[1:-1]
        raise _bad(
            f"Invalid memory: {kind_of(value)} has no unit and would mean {num_bytes} bytes; "
            f"write {shown}G (10^9 bytes) or {shown}Gi (2^30 bytes)."
        )
    return num_bytes


def _scalar(value: Any) -> bool:
    """A JSON number or string (never a boolean, null, list or object)."""
    return not isinstance(value, bool) and isinstance(value, int | float | str)


def _mapping(user_options: Any) -> Mapping[str, Any]:
    """``user_options`` itself when it is a mapping (``None`` reads as ``{}``); else a 400."""
    if user_options is None:
        return {}
    if not isinstance(user_options, Mapping):
        raise _bad(
            f"Invalid options: {kind_of(user_options)} is not an object of option names "
            'to values (e.g. {"cpu": 2}).'
        )
    return user_options


def _parse_request(user_options: Any, *, extra_keys: Collection[str] = ()) -> Request:
    """Read a :class:`Request` from ``user_options``; raises a 400 :class:`PolicyRefusal`.

    ``extra_keys`` are further option names the caller handles itself.
    """
    if user_options is None:
        return Request()
    user_options = _mapping(user_options)
    unknown = [str(k) for k in user_options if k not in OPTION_KEYS and k not in extra_keys]
    if unknown:
        shown = ", ".join(echo(k, 30) for k in sorted(unknown)[:5])
        known = ", ".join([*OPTION_KEYS, *sorted(extra_keys)])
        raise _bad(f"Unknown option {shown}: the options are {known}.")
    fields: dict[str, Any] = {}
    if "resources" in user_options:
        resources = user_options["resources"]
        if not isinstance(resources, str):
            raise _bad(
                f"Invalid resources: {kind_of(resources)} is not text with one key=value a line."
            )
        fields.update(_parse_resources_text(resources))
    for key, field_name, parse in (
        ("cpu", "cpu_limit", _option_cpu),
        ("memory", "memory_limit", _option_memory),
        ("gpu", "gpu", _option_gpu),
    ):
        if key not in user_options:
            continue
        value = parse(user_options[key])
        if field_name in fields:
            line = {"cpu_limit": "cpul", "memory_limit": "meml", "gpu": "gpu"}[field_name]
            raise _bad(
                f"Invalid options: {key} is given both as an option and as {line} in resources."
            )
        fields[field_name] = value
    if "gpu_kind" in user_options:
        kind = user_options["gpu_kind"]
        if not isinstance(kind, str) or len(kind) > 253 or not _RESOURCE.fullmatch(kind):
            raise _bad(
                f"Invalid gpu_kind: {kind_of(kind)} is not an extended resource name "
                "(e.g. nvidia.com/mig-1g.10gb)."
            )
        fields["gpu_kind"] = kind
    if "profile" in user_options:
        profile = user_options["profile"]
        if not isinstance(profile, str) or not profile:
            raise _bad(f"Invalid profile: {kind_of(profile)} is not a profile's slug.")
        fields["profile"] = profile
    return Request(**fields)


def options_object(user_options: Any) -> Decision:
    """Is ``user_options`` an object of option names to values? (``None`` reads as ``{}``.)

    Allowed with ``details["options"]``, the mapping; else a 400 saying what it is.
    """
    try:
        return Decision.allow(RULE, options=_mapping(user_options))
    except PolicyRefusal as refusal:
        return refusal.decision


def read_request(user_options: Any, *, extra_keys: Collection[str] = ()) -> Decision:
    """The resources ``user_options`` ask for: allowed with ``details["request"]``, a
    :class:`Request`, or a 400 naming the key and what it takes.

    ``extra_keys`` are further option names the caller handles itself (a profile's options).
    """
    try:
        return Decision.allow(RULE, request=_parse_request(user_options, extra_keys=extra_keys))
    except PolicyRefusal as refusal:
        return refusal.decision


def _option_cpu(value: Any) -> float:
    if not _scalar(value):
        raise _bad(f"Invalid cpu: {kind_of(value)} is not a number of cores (e.g. 2, 500m).")
    try:
        return parse_cpu(value)
    except QuantityError as exc:
        raise _bad(f"Invalid cpu: {exc}.") from None
