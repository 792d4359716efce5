"""Profiles' resources as KubeSpawner reads them, against each tier that may pick them."""

from __future__ import annotations

import logging
from typing import Any

import pytest
from jupyterhub.traitlets import ByteSpecification
from traitlets import HasTraits, TraitError
from traitlets.config import Config

from hubplugins.hub.config import setup
from hubplugins.policy.errors import PolicyConfigError, QuantityError
from hubplugins.policy.profile_overrides import bytes_text, profile_override_issues
from hubplugins.policy.quantities import kubespawner_bytes, parse_memory
from hubplugins.policy.table import PolicyTable


class _Traits(HasTraits):
    mem_limit = ByteSpecification()


# case -> (value in a profile, bytes to KubeSpawner or None if it refuses it, bytes to the policy)
UNITS: dict[str, tuple[Any, int | None, int | None]] = {
    "K": ("8K", 8 * 2**10, None),
    "M": ("8000M", 8000 * 2**20, 8 * 10**9),
    "G": ("8G", 8 * 2**30, 8 * 10**9),
    "T": ("1T", 2**40, 10**12),
    "fraction": ("1.5G", 3 * 2**29, 15 * 10**8),
    "spaced": ("8 G", 8 * 2**30, None),
    "bytes-number": (8_000_000_000, 8 * 10**9, 8 * 10**9),
    "float-number": (8e9, 8 * 10**9, 8 * 10**9),
    "Gi": ("8Gi", None, 8 * 2**30),
    "Mi": ("512Mi", None, 512 * 2**20),
    "lower-g": ("8g", None, None),
    "bytes-as-text": ("8000000000", None, 8 * 10**9),
    "exponent-text": ("8e9", None, 8 * 10**9),
    "k-lower": ("8k", None, 8 * 10**3),
    "boolean": (True, 1, None),
}


@pytest.mark.parametrize(("value", "kubespawner", "policy"), UNITS.values(), ids=UNITS.keys())
def test_the_two_readings(value: Any, kubespawner: int | None, policy: int | None) -> None:
    traits = _Traits()
    try:
        traits.mem_limit = value
        jupyterhub_reads: int | None = traits.mem_limit
    except TraitError:
        jupyterhub_reads = None
    if isinstance(value, bool):
        kubespawner = None  # ByteSpecification takes True as 1 byte; here it is refused
    else:
        assert jupyterhub_reads == kubespawner  # the same reading as JupyterHub's own trait
    try:
        ours: int | None = kubespawner_bytes(value)
    except QuantityError:
        ours = None
    assert ours == kubespawner
    try:
        policy_reads: int | None = parse_memory(value)
    except QuantityError:
        policy_reads = None
    assert policy_reads == policy


TEXTS = {
    "decimal": (8 * 10**9, True, "8·10⁹"),
    "binary": (8 * 2**30, False, "8·2³⁰"),
    "binary-fraction": (3 * 2**29, False, "1.5·2³⁰"),
    "decimal-asked-binary-found": (8 * 2**30, True, "8·2³⁰"),
    "neither": (123, True, "123"),
}


@pytest.mark.parametrize(("n", "decimal", "text"), TEXTS.values(), ids=TEXTS.keys())
def test_bytes_text(n: int, decimal: bool, text: str) -> None:
    assert bytes_text(n, decimal_first=decimal) == text


TABLE = PolicyTable.from_dict(
    {
        "defaults": {
            "resources": {"memory": {"limit": "2G", "max": "8G"}, "cpu": {"max": 2}},
            "quota": {"memory": "16G", "cpu": 4, "gpu": 1},
            "profiles": ["small", "big", "opts"],
        },
        "groups": {
            "wide": {"resources": {"memory": {"max": "8Gi"}}},
            "gpu": {"resources": {"gpu": {"max": 1}}, "profiles": ["gpu"]},
        },
    }
)


def _profile(slug: str, **override: Any) -> dict[str, Any]:
    return {"slug": slug, "display_name": slug, "kubespawner_override": override}


OPTIONS = {
    "slug": "opts",
    "display_name": "Options",
    "profile_options": {
        "size": {
            "display_name": "Size",
            "choices": {
                "s": {"display_name": "S", "kubespawner_override": {"mem_limit": "1G"}},
                "l": {"display_name": "L", "kubespawner_override": {"mem_limit": "8G"}},
            },
        }
    },
}

# case -> (profile, [(severity, path end, fragments)]); tiers: defaults, gpu, wide
PROFILES: dict[str, tuple[dict[str, Any], list[tuple[str, str, list[str]]]]] = {
    "G-above-max-G": (
        _profile("big", mem_limit="8G"),
        [
            (
                "warning",
                "[0].kubespawner_override",
                [
                    "mem_limit: '8G', which KubeSpawner reads as 8·2³⁰ bytes (8Gi)",
                    "above defaults.resources.memory.max: 8G = 8·10⁹ bytes",
                    "tiers defaults, gpu are refused",
                    "write defaults.resources.memory.max: 8Gi in the policy",
                    "or mem_limit: 8000000000 (bytes, as a number) in the profile",
                ],
            )
        ],
    ),
    "M-above-max-G": (
        _profile("big", mem_limit="8000M"),
        [("warning", "[0].kubespawner_override", ["8000·2²⁰ bytes", "tiers defaults, gpu"])],
    ),
    "bytes-at-max": (_profile("big", mem_limit=8_000_000_000), []),
    "G-below-max": (_profile("big", mem_limit="7G"), []),
    "not-picked-by-tiers": (_profile("other", mem_limit="8G"), []),
    "only-a-group-may-pick": (_profile("gpu", mem_limit="8G"), [("warning", "", ["tier gpu is"])]),
    "guarantee-raises-limit": (
        _profile("big", mem_guarantee="8G"),
        [("warning", "", ["sets mem_guarantee: '8G'"])],
    ),
    "option-choice": (
        OPTIONS,
        [("warning", ".choices.l.kubespawner_override", ["profile 'opts' sets mem_limit: '8G'"])],
    ),
    "Gi-unreadable": (
        _profile("big", mem_limit="8Gi"),
        [("error", ".mem_limit", ["not a memory value KubeSpawner reads", "write 8G for 8Gi"])],
    ),
    "cpu-quantity-unreadable": (
        _profile("big", cpu_limit="500m"),
        [("error", ".cpu_limit", ["takes cores as a number"])],
    ),
    "cpu-above-max": (
        _profile("big", cpu_limit=3),
        [("warning", "", ["asks for 3 CPU cores", "above defaults.resources.cpu.max: 2"])],
    ),
    "gpu-above-quota": (
        _profile("gpu", extra_resource_limits={"nvidia.com/gpu": "2"}),
        [("warning", "", ["more GPUs than groups.gpu.resources.gpu.max: 1", "tier gpu is"])],
    ),
    "image-only": (_profile("big", image="x"), []),
    "callable-is-read-at-start": (_profile("big", mem_limit=lambda spawner: "8Gi"), []),
    "no-limit": (_profile("big", mem_limit=None, cpu_limit=None), []),
}


@pytest.mark.parametrize(("profile", "expected"), PROFILES.values(), ids=PROFILES.keys())
def test_profile_against_tiers(
    profile: dict[str, Any], expected: list[tuple[str, str, list[str]]]
) -> None:
    issues = profile_override_issues(TABLE, [profile])
    assert len(issues) == len(expected), [str(i) for i in issues]
    for issue, (severity, path_end, fragments) in zip(issues, expected, strict=True):
        assert issue.severity == severity
        assert issue.path.startswith("KubeSpawner.profile_list[0]") and issue.path.endswith(
            path_end
        )
        for fragment in fragments:
            assert fragment in issue.message, issue.message


def test_invalid_policy_still_reports_what_kubespawner_cannot_read() -> None:
    issues = profile_override_issues(None, [_profile("big", mem_limit="8Gi", cpu_limit=99)])
    assert [(i.severity, i.path.rsplit(".", 1)[-1]) for i in issues] == [("error", "mem_limit")]


def _config(profile_list: list[dict[str, Any]]) -> Config:
    c = Config()
    c.HubPolicy.policy = {"defaults": {"resources": {"memory": {"max": "8G"}}}}
    c.KubeSpawner.profile_list = profile_list
    return c


def test_hub_start_logs_a_profile_no_tier_can_start(caplog: pytest.LogCaptureFixture) -> None:
    with caplog.at_level(logging.WARNING, logger="JupyterHub"):
        setup(_config([_profile("big", mem_limit="8G")]))
    messages = [r.getMessage() for r in caplog.records if r.name == "JupyterHub"]
    assert len(messages) == 1
    assert "KubeSpawner.profile_list[0].kubespawner_override" in messages[0]
    assert "8·2³⁰" in messages[0] and "8Gi" in messages[0]


def test_hub_start_stops_on_a_value_kubespawner_cannot_read() -> None:
    with pytest.raises(PolicyConfigError) as info:
        setup(_config([_profile("big", mem_limit="8Gi")]))
    assert "KubeSpawner.profile_list[0].kubespawner_override.mem_limit" in str(info.value)


def test_hub_start_stops_once_with_every_problem() -> None:
    c = _config([_profile("big", mem_limit="8Gi"), _profile("big")])
    c.HubPolicy.policy = {"defaults": {"resources": {"memory": {"max": "8X"}}}}
    with pytest.raises(PolicyConfigError) as info:
        setup(c)
    assert [issue.path for issue in info.value.issues] == [
        "defaults.resources.memory.max",
        "KubeSpawner.profile_list",
        "KubeSpawner.profile_list[0].kubespawner_override.mem_limit",
    ]
