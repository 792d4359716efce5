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
    "not-a-mapping": (
        [1],
        'Invalid options: a list is not an object of option names to values (e.g. {"cpu": 2}).',
    ),
    "unknown-option": (
        {"cpus": 2},
        'Unknown option "cpus": the options are cpu, memory, gpu, gpu_kind, resources, profile.',
    ),
    "cpu-junk": (
        {"cpu": "lots"},
        "Invalid cpu: 'lots' is not a CPU quantity (examples: 0.5, 500m, 2).",
    ),
    "cpu-negative": (
        {"cpu": -1},
        "Invalid cpu: -1 is not a CPU quantity: it must not be negative.",
    ),
    "cpu-nan": (
        {"cpu": float("nan")},
        "Invalid cpu: nan is not a CPU quantity: it must be finite (examples: 0.5, 500m, 2).",
    ),
    "memory-unitless-small": (
        {"memory": 4},
        (
            'Invalid memory: "4" has no unit and would mean 4 bytes; write 4G (10^9 bytes) or 4Gi '
            "(2^30 bytes)."
        ),
    ),
    "memory-unitless-string": (
        {"memory": "4"},
        (
            'Invalid memory: "4" has no unit and would mean 4 bytes; write 4G (10^9 bytes) or 4Gi '
            "(2^30 bytes)."
        ),
    ),
    "memory-junk": (
        {"memory": "4X"},
        "Invalid memory: '4X' is not a memory quantity (examples: 512Mi, 2G, 2Gi).",
    ),
    "memory-bool": (
        {"memory": True},
        "Invalid memory: a boolean is not a memory quantity (e.g. 4G, 4Gi).",
    ),
    "gpu-fraction": (
        {"gpu": 1.5},
        'Invalid gpu: "1.5" is not a whole number of GPUs (e.g. 1).',
    ),
    "gpu-bool": (
        {"gpu": True},
        "Invalid gpu: a boolean is not a whole number of GPUs (e.g. 1).",
    ),
    "gpu-negative": (
        {"gpu": -1},
        "Invalid gpu: -1 must not be negative.",
    ),
    "resources-not-text": (
        {"resources": {"cpul": 1}},
        "Invalid resources: an object is not text with one key=value a line.",
    ),
    "resources-null": (
        {"resources": None},
        "Invalid resources: null is not text with one key=value a line.",
    ),
    # REST bodies are never unwrapped: only the form turns lists into strings
    "cpu-one-element-list": (
        {"cpu": [1]},
        "Invalid cpu: a list is not a number of cores (e.g. 2, 500m).",
    ),
    "memory-one-element-list": (
        {"memory": ["4G"]},
        "Invalid memory: a list is not a memory quantity (e.g. 4G, 4Gi).",
    ),
    "gpu-one-element-list": (
        {"gpu": [1]},
        "Invalid gpu: a list is not a whole number of GPUs (e.g. 1).",
    ),
    "profile-one-element-list": (
        {"profile": ["x"]},
        "Invalid profile: a list is not a profile's slug.",
    ),
    "resources-one-element-list": (
        {"resources": ["meml=1"]},
        "Invalid resources: a list is not text with one key=value a line.",
    ),
    "cpu-null": (
        {"cpu": None},
        "Invalid cpu: null is not a number of cores (e.g. 2, 500m).",
    ),
    "cpu-empty": (
        {"cpu": ""},
        "Invalid cpu: '' is not a CPU quantity (examples: 0.5, 500m, 2).",
    ),
    "cpu-object": (
        {"cpu": {}},
        "Invalid cpu: an object is not a number of cores (e.g. 2, 500m).",
    ),
    "memory-null": (
        {"memory": None},
        "Invalid memory: null is not a memory quantity (e.g. 4G, 4Gi).",
    ),
    "gpu-null": (
        {"gpu": None},
        "Invalid gpu: null is not a whole number of GPUs (e.g. 1).",
    ),
    "gpu-superscript-two": (
        {"gpu": "\u00b2"},
        'Invalid gpu: "²" is not a whole number of GPUs (e.g. 1).',
    ),
    "gpu-arabic-indic-digit": (
        {"gpu": "\u0663"},
        'Invalid gpu: "٣" is not a whole number of GPUs (e.g. 1).',
    ),
    "gpu-inf": (
        {"gpu": float("inf")},
        'Invalid gpu: "inf" is not a whole number of GPUs (e.g. 1).',
    ),
    "gpu-huge": (
        {"gpu": 10**30},
        'Invalid gpu: "1000000000000000000000000000000" is too large.',
    ),
    "gpu-huge-float": (
        {"gpu": 1e300},
        'Invalid gpu: "1e+300" is too large.',
    ),
    "profile-null": (
        {"profile": None},
        "Invalid profile: null is not a profile's slug.",
    ),
    "profile-empty": (
        {"profile": ""},
        'Invalid profile: "" is not a profile\'s slug.',
    ),
    "profile-number": (
        {"profile": 1},
        'Invalid profile: "1" is not a profile\'s slug.',
    ),
    "form-field-name-in-rest": (
        {"profile-option-gpu-image": "x"},
        (
            'Unknown option "profile-option-gpu-image": the options are cpu, memory, gpu, '
            "gpu_kind, resources, profile."
        ),
    ),
    "gpu-line-huge": (
        {"resources": "gpu=" + "9" * 4000},
        (
            'Invalid resources, line 1: gpu="9999999999999999999999999999999999999999..." is too '
            "large."
        ),
    ),
    "cpu-line-too-long": (
        {"resources": "cpul=" + "1" * 100},
        (
            "Invalid resources, line 1: cpul: '111111111111111111111111111111111111... "
            "is not a CPU quantity: too long (examples: 0.5, 500m, 2)."
        ),
    ),
    "cpu-line-huge": (
        {"resources": "cpul=99999999999"},
        "Invalid resources, line 1: cpul: '99999999999' is not a CPU quantity: too large.",
    ),
    "junk-line": (
        {"resources": "cpul=1\nhello\n"},
        'Invalid resources, line 2: "hello" is not key=value (e.g. meml=4).',
    ),
    "unknown-key": (
        {"resources": "\nram=4"},
        ('Invalid resources, line 2: unknown key "ram"; the keys are gpu, cpur, cpul, memr, meml.'),
    ),
    "duplicate": (
        {"resources": "meml=4\n# x\nmeml=8"},
        "Invalid resources, line 3: meml is already set on line 1.",
    ),
    "unit-in-memory": (
        {"resources": "meml=4G"},
        (
            'Invalid resources, line 1: meml="4G"; meml takes a number of GB with no unit (meml=4 '
            "means 4·10⁹ bytes)."
        ),
    ),
    "unit-in-cpu": (
        {"resources": "cpul=500m"},
        (
            'Invalid resources, line 1: cpul="500m"; cpul takes a number of cores with no unit '
            "(cpul=2)."
        ),
    ),
    "negative": (
        {"resources": "cpul=-1"},
        (
            'Invalid resources, line 1: cpul="-1"; cpul takes a number of cores with no unit '
            "(cpul=2)."
        ),
    ),
    "nan": (
        {"resources": "memr=nan"},
        (
            'Invalid resources, line 1: memr="nan"; memr takes a number of GB with no unit (memr=2 '
            "means 2·10⁹ bytes)."
        ),
    ),
    "inf": (
        {"resources": "meml=inf"},
        (
            'Invalid resources, line 1: meml="inf"; meml takes a number of GB with no unit (meml=4 '
            "means 4·10⁹ bytes)."
        ),
    ),
    "gpu-fraction-line": (
        {"resources": "gpu=0.5"},
        "Invalid resources, line 1: gpu=0.5; gpu takes a whole number (gpu=1).",
    ),
    "empty-value": (
        {"resources": "meml="},
        (
            'Invalid resources, line 1: meml=""; meml takes a number of GB with no unit (meml=4 '
            "means 4·10⁹ bytes)."
        ),
    ),
    "too-long": (
        {"resources": "#" * 100_000},
        "Invalid resources: the text is longer than 4096 characters.",
    ),
    "conflict": (
        {"resources": "meml=4", "memory": "4G"},
        "Invalid options: memory is given both as an option and as meml in resources.",
    ),
}


@pytest.mark.parametrize(("options", "message"), INVALID.values(), ids=INVALID.keys())
def test_read_request_refuses(options: Any, message: str) -> None:
    with pytest.raises(PolicyRefusal) as info:
        requested(options)
    assert (info.value.decision.rule, info.value.status) == ("request", 400)
    assert info.value.message == message


def test_extra_keys_are_allowed() -> None:
    assert requested({"image": "x"}, extra_keys={"image"}) == Request()
