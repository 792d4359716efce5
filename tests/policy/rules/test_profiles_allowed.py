"""allowed_profiles: the profiles a tier may pick."""

from __future__ import annotations

from harness.rule_tables import GPU, POLICY

from hubplugins.policy import (
    allowed_profiles,
)

# -- profiles ------------------------------------------------------------------------------

PROFILE_LIST = [
    {"slug": "small", "display_name": "Small"},
    {"display_name": "Medium"},
    {"slug": "gpu", "display_name": "GPU"},
]


def test_allowed_profiles_filters_by_slug() -> None:
    assert [p["display_name"] for p in allowed_profiles(POLICY, PROFILE_LIST)] == [
        "Small",
        "Medium",
    ]
    assert len(allowed_profiles(GPU, PROFILE_LIST)) == 3
