"""Parse and format CPU, memory/storage and duration values.

Units mean what Kubernetes says they mean:

- CPU is in cores: ``0.5``, ``500m`` (millicores), ``2``. Values are rounded up
  to whole millicores, the finest step Kubernetes accepts.
- Memory and storage are in bytes: ``512Mi``, ``2G`` (2·10⁹), ``2Gi`` (2·2³⁰),
  ``1.5Gi``, ``1e3``, or a plain integer. ``G`` is *never* read as ``Gi``
  (unlike JupyterHub's own ``ByteSpecification``). Fractional bytes round up,
  as Kubernetes does. The ``m`` (milli) suffix is refused for memory: it is
  almost always a typo for ``M`` or ``Mi``.
- Durations are in seconds: ``90s``, ``30m``, ``2h``, ``7d``, ``1w`` or a plain
  number; ``None`` means "never" and is passed through.

Every parser refuses booleans, negative numbers, NaN, infinities, absurdly large
values, containers and strings longer than :data:`MAX_TEXT` characters, raising
:class:`~hubplugins.policy.errors.QuantityError` with an example of what is accepted.
"""

from __future__ import annotations

import math
import re
from decimal import ROUND_CEILING, Decimal, InvalidOperation

from hubplugins.policy.errors import QuantityError
from hubplugins.policy.text import bounded_repr

__all__ = [
    "CPU_EXAMPLES",
    "DURATION_EXAMPLES",
    "MEMORY_EXAMPLES",
    "format_cpu",
    "format_duration",
    "format_memory",
    "kubespawner_bytes",
    "millicores",
    "parse_cpu",
    "parse_duration",
    "parse_memory",
]

MAX_TEXT = 64
"""Longest quantity string accepted (longer input is refused, not parsed)."""

MAX_BYTES = 2**63 - 1
"""Largest memory/storage value: Kubernetes stores quantities as int64."""

MAX_CORES = 1_000_000
MAX_SECONDS = 100 * 365 * 86400

CPU_EXAMPLES = "examples: 0.5, 500m, 2"
MEMORY_EXAMPLES = "examples: 512Mi, 2G, 2Gi"
DURATION_EXAMPLES = "examples: 90s, 30m, 2h, 7d, or seconds"

_BINARY = {"Ki": 2**10, "Mi": 2**20, "Gi": 2**30, "Ti": 2**40, "Pi": 2**50, "Ei": 2**60}
_DECIMAL = {"k": 10**3, "M": 10**6, "G": 10**9, "T": 10**12, "P": 10**15, "E": 10**18}
_MEMORY_RE = re.compile(
    r"(?P<num>(?:[0-9]+(?:\.[0-9]*)?|\.[0-9]+)(?:[eE][-+]?[0-9]{1,3})?)"
    r"(?P<unit>Ki|Mi|Gi|Ti|Pi|Ei|k|M|G|T|P|E)?"
)
_CPU_RE = re.compile(r"(?P<num>[0-9]+(?:\.[0-9]*)?|\.[0-9]+)(?P<unit>m)?")
_DURATION_UNITS = {"s": 1, "m": 60, "h": 3600, "d": 86400, "w": 7 * 86400}
_DURATION_RE = re.compile(r"(?P<num>[0-9]+(?:\.[0-9]*)?|\.[0-9]+)\s*(?P<unit>[smhdw])?")


def _show(value: object) -> str:
    return bounded_repr(value, 40)  # a value in a quantity's message: short


def _number(value: object, kind: str, examples: str) -> Decimal | None:
    """A plain int/float as a Decimal; None for strings; error for anything else."""
    if isinstance(value, bool) or not isinstance(value, int | float | str):
        raise QuantityError(f"{_show(value)} is not a {kind} ({examples})")
    if isinstance(value, str):
        return None
    if isinstance(value, float) and not math.isfinite(value):
        raise QuantityError(f"{_show(value)} is not a {kind}: it must be finite ({examples})")
    if value < 0:
        raise QuantityError(f"{_show(value)} is not a {kind}: it must not be negative")
    return Decimal(value) if isinstance(value, int) else Decimal(repr(value))


def _text(value: str, kind: str, examples: str) -> str:
    text = value.strip()
    if len(text) > MAX_TEXT:
        raise QuantityError(f"{_show(value)} is not a {kind}: too long ({examples})")
    if text.startswith("-"):
        raise QuantityError(f"{_show(value)} is not a {kind}: it must not be negative")
    return text


def parse_cpu(value: object) -> float:
    """Cores as a float, rounded up to whole millicores: ``"500m"`` -> ``0.5``."""
    number = _number(value, "CPU quantity", CPU_EXAMPLES)
    if number is None:
        assert isinstance(value, str)
        text = _text(value, "CPU quantity", CPU_EXAMPLES)
        match = _CPU_RE.fullmatch(text)
        if not match:
            hint = ""
            if text.endswith(("M", "Mi", "G", "Gi", "k", "Ki")):
                hint = "; memory units do not apply to CPU"
            raise QuantityError(f"{_show(value)} is not a CPU quantity ({CPU_EXAMPLES}){hint}")
        number = Decimal(match["num"])
        if match["unit"] == "m":
            number = number / 1000
    if number > MAX_CORES:
        raise QuantityError(f"{_show(value)} is not a CPU quantity: too large")
    milli = int((number * 1000).to_integral_value(ROUND_CEILING))
    return milli / 1000


def millicores(cores: float) -> int:
    """Whole millicores of a parsed CPU value (for exact sums and comparisons)."""
    return round(cores * 1000)


def parse_memory(value: object) -> int:
    """Bytes as an int: ``"2G"`` -> 2_000_000_000, ``"2Gi"`` -> 2_147_483_648."""
    number = _number(value, "memory quantity", MEMORY_EXAMPLES)
    if number is None:
        assert isinstance(value, str)
        text = _text(value, "memory quantity", MEMORY_EXAMPLES)
        match = _MEMORY_RE.fullmatch(text)
        if not match:
            raise QuantityError(_memory_hint(value, text))
        try:
            number = Decimal(match["num"])
        except InvalidOperation:  # pragma: no cover - the regex only lets numbers through
            raise QuantityError(_memory_hint(value, text)) from None
        unit = match["unit"]
        if unit:
            number *= _BINARY.get(unit) or _DECIMAL[unit]
    if number > MAX_BYTES:
        raise QuantityError(f"{_show(value)} is not a memory quantity: too large")
    return int(number.to_integral_value(ROUND_CEILING))


KUBESPAWNER_UNITS = {"K": 2**10, "M": 2**20, "G": 2**30, "T": 2**40}
"""The suffixes KubeSpawner's ``mem_limit``/``mem_guarantee`` read, all powers of 1024."""


def kubespawner_bytes(value: object) -> int:
    """Bytes as KubeSpawner reads a memory value (JupyterHub's ``ByteSpecification``).

    ``8G`` is 8·2³⁰ there, not 8·10⁹ as in the policy and Kubernetes; ``8Gi``,
    ``8g`` and ``8000000000`` as a string are not read at all. A number is
    bytes. Raises :class:`~hubplugins.policy.errors.QuantityError` where KubeSpawner
    would refuse the value.
    """
    if isinstance(value, bool) or not isinstance(value, int | float | str):
        raise QuantityError(f"{_show(value)} is not a memory value KubeSpawner reads")
    if isinstance(value, int | float):
        if not math.isfinite(value) or value < 0:
            raise QuantityError(f"{_show(value)} is not a memory value KubeSpawner reads")
        return int(value)
    suffix, number = value[-1:], value[:-1]
    if suffix not in KUBESPAWNER_UNITS or len(value) > MAX_TEXT:
        raise QuantityError(
            f"{_show(value)} is not a memory value KubeSpawner reads: it takes bytes as a "
            "number, or a number with K, M, G or T (powers of 1024: 8G is 8·2³⁰ bytes)"
        )
    try:
        amount = float(number)
    except ValueError:
        raise QuantityError(f"{_show(value)} is not a memory value KubeSpawner reads") from None
    if not math.isfinite(amount) or amount < 0:
        raise QuantityError(f"{_show(value)} is not a memory value KubeSpawner reads")
    return int(amount * KUBESPAWNER_UNITS[suffix])


def _memory_hint(value: object, text: str) -> str:
    message = f"{_show(value)} is not a memory quantity ({MEMORY_EXAMPLES})"
    if text.endswith("m"):
        return message + "; 'm' means milli (1/1000 byte): write M (10^6) or Mi (2^20)"
    if text.endswith(("K", "KB", "Kb")):
        return message + "; write k (10^3) or Ki (2^10)"
    if text.endswith(("B", "b")):
        return message + "; drop the B: G is 10^9 bytes, Gi is 2^30"
    if text.endswith(("gi", "g", "mi", "ki", "ti")):
        return message + "; units are case-sensitive"
    return message


def parse_duration(value: object) -> float | None:
    """Seconds as a float; ``None`` (never) stays ``None``: ``"2h"`` -> 7200.0."""
    if value is None:
        return None
    number = _number(value, "duration", DURATION_EXAMPLES)
    if number is None:
        assert isinstance(value, str)
        text = _text(value, "duration", DURATION_EXAMPLES)
        match = _DURATION_RE.fullmatch(text)
        if not match:
            raise QuantityError(f"{_show(value)} is not a duration ({DURATION_EXAMPLES})")
        number = Decimal(match["num"]) * _DURATION_UNITS[match["unit"] or "s"]
    if number > MAX_SECONDS:
        raise QuantityError(f"{_show(value)} is not a duration: longer than 100 years")
    return float(number)


def _trim(number: Decimal) -> str:
    text = format(number.normalize(), "f")
    return text


def format_cpu(cores: float) -> str:
    """``2`` -> ``"2"``, ``0.5`` -> ``"500m"``, ``1.5`` -> ``"1.5"``."""
    milli = millicores(cores)
    if milli % 1000 == 0:
        return str(milli // 1000)
    if milli < 1000:
        return f"{milli}m"
    return _trim(Decimal(milli) / 1000)


def format_memory(num_bytes: int) -> str:
    """The shortest exact Kubernetes quantity: ``2G``, ``2Gi``, ``1.5Gi``, ``512Mi``.

    A decimal unit is only used when it is exact, so ``format_memory(parse_memory(x))``
    always parses back to the same number of bytes.
    """
    best = str(num_bytes)
    units = sorted({**_DECIMAL, **_BINARY}.items(), key=lambda item: -item[1])
    for suffix, size in units:
        if num_bytes < size:
            continue
        scaled = Decimal(num_bytes) / Decimal(size)
        exponent = scaled.as_tuple().exponent
        if not isinstance(exponent, int) or exponent < -3:
            continue
        text = _trim(scaled) + suffix
        if Decimal(_trim(scaled)) * size == num_bytes and len(text) < len(best):
            best = text
    return best


def format_duration(seconds: float | None) -> str:
    """``7200`` -> ``"2h"``, ``90`` -> ``"90s"``, ``None`` -> ``"never"``."""
    if seconds is None:
        return "never"
    for suffix in ("d", "h", "m"):
        size = _DURATION_UNITS[suffix]
        if seconds >= size and seconds % size == 0:
            return f"{int(seconds // size)}{suffix}"
    if float(seconds).is_integer():
        return f"{int(seconds)}s"
    return f"{seconds:g}s"
