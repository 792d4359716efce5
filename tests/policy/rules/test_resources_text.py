"""user_options and .resources text -> Request; the GPU pool."""

from __future__ import annotations

from typing import Any

import pytest

from hubplugins.policy.errors import PolicyRefusal
from hubplugins.policy.rules.resources_text import Request, read_request


def requested(options: Any, **kwargs: Any) -> Request:
    """The Request ``options`` ask for; raises the refusal as the spawner's enforce does."""
    return read_request(options, **kwargs).enforce().details["request"]


GB = 10**9

VALID: dict[str, tuple[Any, Request]] = {
    "none": (None, Request()),
    "empty": ({}, Request()),
    "cpu-number": ({"cpu": 2}, Request(cpu_limit=2.0)),
    "cpu-millicores": ({"cpu": "500m"}, Request(cpu_limit=0.5)),
    "memory-G": ({"memory": "4G"}, Request(memory_limit=4 * GB)),
    "memory-Gi": ({"memory": "4Gi"}, Request(memory_limit=4 * 2**30)),
    "memory-bytes": ({"memory": 4 * GB}, Request(memory_limit=4 * GB)),
    "gpu-int": ({"gpu": 1}, Request(gpu=1)),
    "gpu-string": ({"gpu": "2"}, Request(gpu=2)),
    "gpu-padded-string": ({"gpu": " 2 "}, Request(gpu=2)),
    "gpu-whole-float": ({"gpu": 1.0}, Request(gpu=1)),
    "profile": ({"profile": "gpu"}, Request(profile="gpu")),
    "resources-blank": ({"resources": "\n  \n"}, Request()),
    "resources-all-keys": (
        {"resources": "gpu=1\ncpur=0.5\ncpul=2\nmemr=1\nmeml=4\n"},
        Request(cpu_guarantee=0.5, cpu_limit=2.0, memory_guarantee=GB, memory_limit=4 * GB, gpu=1),
    ),
    "resources-memory-is-GB-not-GiB": (
        {"resources": "meml=1.5"},
        Request(memory_limit=1_500_000_000),
    ),
    "resources-comments-blank-lines": (
        {"resources": "# my server\n\n  meml = 4   # four GB\n\n#gpu=1\n"},
        Request(memory_limit=4 * GB),
    ),
    "resources-missing-lines-keep-defaults": ({"resources": "cpul=1"}, Request(cpu_limit=1.0)),
    "resources-crlf": (
        {"resources": "cpul=1\r\nmeml=2\r\n"},
        Request(cpu_limit=1.0, memory_limit=2 * GB),
    ),
    "resources-plus-other-option": (
        {"resources": "cpul=1", "memory": "3G"},
        Request(cpu_limit=1.0, memory_limit=3 * GB),
    ),
}


@pytest.mark.parametrize(("options", "expected"), VALID.values(), ids=VALID.keys())
def test_read_request(options: Any, expected: Request) -> None:
    assert requested(options) == expected


INVALID: dict[str, tuple[Any, str]] = {
    "not-a-mapping": ([1], "a list is not an object of option names"),
    "unknown-option": ({"cpus": 2}, 'Unknown option "cpus": the options are cpu, memory'),
    "cpu-junk": ({"cpu": "lots"}, "Invalid cpu: 'lots' is not a CPU quantity"),
    "cpu-negative": ({"cpu": -1}, "must not be negative"),
    "cpu-nan": ({"cpu": float("nan")}, "finite"),
    "memory-unitless-small": ({"memory": 4}, "has no unit and would mean 4 bytes; write 4G"),
    "memory-unitless-string": ({"memory": "4"}, "write 4G"),
    "memory-junk": ({"memory": "4X"}, "Invalid memory"),
    "memory-bool": ({"memory": True}, "Invalid memory"),
    "gpu-fraction": ({"gpu": 1.5}, "not a whole number of GPUs"),
    "gpu-bool": ({"gpu": True}, "not a whole number"),
    "gpu-negative": ({"gpu": -1}, "must not be negative"),
    "resources-not-text": ({"resources": {"cpul": 1}}, "an object is not text"),
    "resources-null": ({"resources": None}, "null is not text"),
    # REST bodies are never unwrapped: only the form turns lists into strings
    "cpu-one-element-list": ({"cpu": [1]}, "Invalid cpu: a list"),
    "memory-one-element-list": ({"memory": ["4G"]}, "Invalid memory: a list"),
    "gpu-one-element-list": ({"gpu": [1]}, "Invalid gpu: a list"),
    "profile-one-element-list": ({"profile": ["x"]}, "Invalid profile: a list"),
    "resources-one-element-list": ({"resources": ["meml=1"]}, "Invalid resources: a list"),
    "cpu-null": ({"cpu": None}, "Invalid cpu: null"),
    "cpu-empty": ({"cpu": ""}, "Invalid cpu"),
    "cpu-object": ({"cpu": {}}, "Invalid cpu: an object"),
    "memory-null": ({"memory": None}, "Invalid memory: null"),
    "gpu-null": ({"gpu": None}, "Invalid gpu: null"),
    "gpu-superscript-two": ({"gpu": "\u00b2"}, "not a whole number of GPUs"),
    "gpu-arabic-indic-digit": ({"gpu": "\u0663"}, "not a whole number of GPUs"),
    "gpu-inf": ({"gpu": float("inf")}, "not a whole number of GPUs"),
    "gpu-huge": ({"gpu": 10**30}, "too large"),
    "gpu-huge-float": ({"gpu": 1e300}, "too large"),
    "profile-null": ({"profile": None}, "Invalid profile: null"),
    "profile-empty": ({"profile": ""}, "Invalid profile"),
    "profile-number": ({"profile": 1}, "Invalid profile"),
    "form-field-name-in-rest": ({"profile-option-gpu-image": "x"}, "Unknown option"),
    "gpu-line-huge": ({"resources": "gpu=" + "9" * 4000}, "too large"),
    "cpu-line-too-long": ({"resources": "cpul=" + "1" * 100}, "line 1"),
    "cpu-line-huge": ({"resources": "cpul=99999999999"}, "line 1"),
    "junk-line": ({"resources": "cpul=1\nhello\n"}, 'line 2: "hello" is not key=value'),
    "unknown-key": ({"resources": "\nram=4"}, 'line 2: unknown key "ram"; the keys are gpu, cpur'),
    "duplicate": ({"resources": "meml=4\n# x\nmeml=8"}, "line 3: meml is already set on line 1"),
    "unit-in-memory": ({"resources": "meml=4G"}, 'line 1: meml="4G"; meml takes a number of GB'),
    "unit-in-cpu": ({"resources": "cpul=500m"}, "cpul takes a number of cores"),
    "negative": ({"resources": "cpul=-1"}, "line 1"),
    "nan": ({"resources": "memr=nan"}, "line 1"),
    "inf": ({"resources": "meml=inf"}, "line 1"),
    "gpu-fraction-line": ({"resources": "gpu=0.5"}, "gpu takes a whole number"),
    "empty-value": ({"resources": "meml="}, "line 1"),
    "too-long": ({"resources": "#" * 100_000}, "longer than 4096"),
    "conflict": ({"resources": "meml=4", "memory": "4G"}, "memory is given both"),
}


@pytest.mark.parametrize(("options", "fragment"), INVALID.values(), ids=INVALID.keys())
def test_parse_request_refuses(options: Any, fragment: str) -> None:
    with pytest.raises(PolicyRefusal) as info:
        requested(options)
    assert info.value.status == 400
    assert fragment in info.value.message
    assert len(info.value.message) < 400


def test_extra_keys_are_allowed() -> None:
    assert requested({"image": "x"}, extra_keys={"image"}) == Request()
