"""Quantities: CPU, memory/storage and durations, valid and invalid."""

from __future__ import annotations

import pytest

from hubplugins.policy.errors import QuantityError
from hubplugins.policy.quantities import (
    format_cpu,
    format_duration,
    format_memory,
    parse_cpu,
    parse_duration,
    parse_memory,
)

GI = 2**30

MEMORY = {
    "decimal-G-is-not-Gi": ("2G", 2 * 10**9),
    "binary-Gi": ("2Gi", 2 * GI),
    "fraction-Gi": ("1.5Gi", 3 * 2**29),
    "Mi": ("512Mi", 512 * 2**20),
    "M": ("512M", 512 * 10**6),
    "k-lower": ("1k", 1000),
    "Ki": ("1Ki", 1024),
    "T": ("1T", 10**12),
    "plain-int-string": ("1024", 1024),
    "plain-int": (4096, 4096),
    "exponent": ("1e3", 1000),
    "exponent-with-unit": ("1e3M", 10**9),
    "float-number": (1.5, 2),
    "whitespace-stripped": (" 2G ", 2 * 10**9),
    "zero": ("0", 0),
    "fractional-bytes-round-up": ("0.5", 1),
}


@pytest.mark.parametrize(("text", "expected"), MEMORY.values(), ids=MEMORY.keys())
def test_parse_memory(text: object, expected: int) -> None:
    assert parse_memory(text) == expected


def test_two_G_never_becomes_two_Gi() -> None:
    assert parse_memory("2G") != parse_memory("2Gi")
    assert format_memory(parse_memory("2G")) == "2G"
    assert format_memory(parse_memory("2Gi")) == "2Gi"


BAD_MEMORY = {
    "negative": ("-1G", "negative"),
    "negative-number": (-5, "negative"),
    "nan": (float("nan"), "finite"),
    "inf": (float("inf"), "finite"),
    "huge-exponent": ("1e309", "too large"),
    "huge-int": (10**30, "too large"),
    "bool-true": (True, "not a memory"),
    "bool-false": (False, "not a memory"),
    "dict": ({"a": 1}, "not a memory"),
    "list": ([1], "not a memory"),
    "none": (None, "not a memory"),
    "junk-suffix": ("32X", "examples: 512Mi, 2G, 2Gi"),
    "milli-suffix": ("500m", "'m' means milli"),
    "upper-K": ("1K", "write k"),
    "GB-suffix": ("2GB", "drop the B"),
    "lowercase-gi": ("2gi", "case-sensitive"),
    "empty": ("", "not a memory"),
    "long-string": ("1" * 1_000_000, "too long"),
    "two-numbers": ("1 2", "not a memory"),
    "nan-string": ("nan", "not a memory"),
    "inf-string": ("inf", "not a memory"),
}


@pytest.mark.parametrize(("value", "fragment"), BAD_MEMORY.values(), ids=BAD_MEMORY.keys())
def test_parse_memory_rejects(value: object, fragment: str) -> None:
    with pytest.raises(QuantityError) as info:
        parse_memory(value)
    assert fragment in str(info.value)
    assert len(str(info.value)) < 300  # never echoes huge input


CPU = {
    "half": ("0.5", 0.5),
    "millicores": ("500m", 0.5),
    "int-string": ("2", 2.0),
    "int": (2, 2.0),
    "float": (0.25, 0.25),
    "rounds-up-to-millicore": ("0.0001", 0.001),
    "zero": (0, 0.0),
    "leading-dot": (".5", 0.5),
}


@pytest.mark.parametrize(("value", "expected"), CPU.values(), ids=CPU.keys())
def test_parse_cpu(value: object, expected: float) -> None:
    assert parse_cpu(value) == expected


BAD_CPU = {
    "negative": ("-1", "negative"),
    "memory-unit": ("2Gi", "memory units"),
    "junk": ("two", "not a CPU"),
    "bool": (True, "not a CPU"),
    "nan": (float("nan"), "finite"),
    "inf": (float("-inf"), "finite"),
    "too-large": (10**9, "too large"),
    "list": ([1], "not a CPU"),
}


@pytest.mark.parametrize(("value", "fragment"), BAD_CPU.values(), ids=BAD_CPU.keys())
def test_parse_cpu_rejects(value: object, fragment: str) -> None:
    with pytest.raises(QuantityError, match=fragment):
        parse_cpu(value)


DURATION = {
    "seconds": ("90s", 90.0),
    "minutes": ("30m", 1800.0),
    "hours": ("2h", 7200.0),
    "days": ("7d", 604800.0),
    "weeks": ("1w", 604800.0),
    "plain-number": (600, 600.0),
    "plain-string": ("600", 600.0),
    "fraction": ("1.5h", 5400.0),
    "null-is-never": (None, None),
}


@pytest.mark.parametrize(("value", "expected"), DURATION.values(), ids=DURATION.keys())
def test_parse_duration(value: object, expected: float | None) -> None:
    assert parse_duration(value) == expected


BAD_DURATION = {
    "negative": ("-5m", "negative"),
    "unknown-unit": ("5y", "not a duration"),
    "bool": (False, "not a duration"),
    "nan": (float("nan"), "finite"),
    "too-long": ("1000000w", "100 years"),
    "dict": ({}, "not a duration"),
}


@pytest.mark.parametrize(("value", "fragment"), BAD_DURATION.values(), ids=BAD_DURATION.keys())
def test_parse_duration_rejects(value: object, fragment: str) -> None:
    with pytest.raises(QuantityError, match=fragment):
        parse_duration(value)


FORMAT = {
    "memory-2G": (format_memory, 2 * 10**9, "2G"),
    "memory-2Gi": (format_memory, 2 * GI, "2Gi"),
    "memory-1.5Gi": (format_memory, 3 * 2**29, "1.5Gi"),
    "memory-512Mi": (format_memory, 512 * 2**20, "512Mi"),
    "memory-odd": (format_memory, 1234567, "1234567"),
    "memory-small": (format_memory, 100, "100"),
    "cpu-whole": (format_cpu, 2.0, "2"),
    "cpu-milli": (format_cpu, 0.5, "500m"),
    "cpu-mixed": (format_cpu, 1.5, "1.5"),
    "duration-hours": (format_duration, 7200.0, "2h"),
    "duration-seconds": (format_duration, 90.0, "90s"),
    "duration-days": (format_duration, 604800.0, "7d"),
    "duration-never": (format_duration, None, "never"),
}


@pytest.mark.parametrize(("fmt", "value", "expected"), FORMAT.values(), ids=FORMAT.keys())
def test_format(fmt: object, value: object, expected: str) -> None:
    assert fmt(value) == expected  # type: ignore[operator]


@pytest.mark.parametrize("text", ["2G", "2Gi", "1.5Gi", "512Mi", "300M", "1e3", "7Ki", "3T"])
def test_format_memory_round_trips(text: str) -> None:
    assert parse_memory(format_memory(parse_memory(text))) == parse_memory(text)
