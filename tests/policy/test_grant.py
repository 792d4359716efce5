"""The typed grant and its plain data in a server's state."""

from __future__ import annotations

import pytest

from hubplugins.policy.grant import Grant

GB = 10**9
GRANT = Grant(0.5, 2.0, GB, 4 * GB, 1, "nvidia.com/gpu")


def test_the_plain_data_reads_back_as_the_grant():
    assert Grant.of(GRANT.as_dict()) == GRANT
    assert Grant.saved(GRANT.as_dict()) == GRANT


def test_the_pool_counts_kept_beside_it_are_left_out():
    saved = {**GRANT.as_dict(), "pool_in_use": 3, "pool_size": 4}
    assert Grant.saved(saved) == GRANT


SAVED = {
    "none": (None, None),
    "empty": ({}, None),
    "not-a-mapping": (["cpu_limit", 1], None),
    "not-numbers": ({"cpu_limit": "lots"}, None),
    "before-gpu-kinds": (
        {"cpu_guarantee": 0.5, "cpu_limit": 1, "mem_guarantee": GB, "mem_limit": 2 * GB, "gpu": 0},
        Grant(0.5, 1.0, GB, 2 * GB, 0, "nvidia.com/gpu"),
    ),
}


@pytest.mark.parametrize(("saved", "expected"), SAVED.values(), ids=SAVED.keys())
def test_a_saved_grant_is_read_or_none(saved, expected):
    assert Grant.saved(saved) == expected
