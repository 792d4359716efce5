"""Kubernetes resource quantities ("500m", "2Gi", "1e3") as exact decimals."""

from __future__ import annotations

import re
from decimal import Decimal, InvalidOperation

_QUANTITY = re.compile(r"^([+-]?(?:[0-9]+(?:\.[0-9]*)?|\.[0-9]+))((?:[eE][+-]?[0-9]+)|[a-zA-Z]*)$")

_SUFFIXES: dict[str, Decimal] = {
    "": Decimal(1),
    "n": Decimal("1e-9"),
    "u": Decimal("1e-6"),
    "m": Decimal("1e-3"),
    "k": Decimal("1e3"),
    "M": Decimal("1e6"),
    "G": Decimal("1e9"),
    "T": Decimal("1e12"),
    "P": Decimal("1e15"),
    "E": Decimal("1e18"),
    "Ki": Decimal(2**10),
    "Mi": Decimal(2**20),
    "Gi": Decimal(2**30),
    "Ti": Decimal(2**40),
    "Pi": Decimal(2**50),
    "Ei": Decimal(2**60),
}


def parse_quantity(value: object) -> Decimal:
    """Parse a quantity; raise ``ValueError`` with a Kubernetes-like message if it is none."""
    if isinstance(value, bool):
        raise ValueError("quantities must match the regular expression")
    if isinstance(value, int | float):
        return Decimal(str(value))
    if not isinstance(value, str):
        raise ValueError("quantities must match the regular expression")
    match = _QUANTITY.match(value.strip())
    if not match:
        raise ValueError(
            "quantities must match the regular expression "
            "'^([+-]?[0-9.]+)([eEinumkKMGTP]*[-+]?[0-9]*)$'"
        )
    number, suffix = match.groups()
    try:
        base = Decimal(number)
    except InvalidOperation as e:  # pragma: no cover - the pattern already checks
        raise ValueError(f"invalid number {number!r}") from e
    if suffix[:1] in ("e", "E") and len(suffix) > 1:
        return base * Decimal(10) ** int(suffix[1:])
    if suffix not in _SUFFIXES:
        raise ValueError(f"unknown quantity suffix {suffix!r}")
    return base * _SUFFIXES[suffix]


def parse_resource_list(text: str) -> dict[str, Decimal]:
    """Parse ``cpu=8,memory=32Gi,nvidia.com/gpu=4`` into quantities."""
    result: dict[str, Decimal] = {}
    for part in filter(None, (p.strip() for p in text.split(","))):
        name, sep, amount = part.partition("=")
        if not sep:
            raise ValueError(f"expected NAME=QUANTITY, got {part!r}")
        result[name.strip()] = parse_quantity(amount.strip())
    return result
