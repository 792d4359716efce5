"""choose and grant_start: the two questions of a start, each case's whole answer."""

from __future__ import annotations

from typing import Any

import pytest

from hubplugins.policy.decision import Usage
from hubplugins.policy.grant import Grant
from hubplugins.policy.rules.resources_text import Request
from hubplugins.policy.rules.start import Choice, choose, grant_start
from hubplugins.policy.table import PolicyTable

GB = 10**9
TABLE = PolicyTable.from_dict(
    {
        "defaults": {
            "resources": {
                "cpu": {"guarantee": 0.5, "limit": 1, "max": 2},
                "memory": {"guarantee": "1G", "limit": "2G", "max": "4G"},
            },
            "profiles": ["small", "big"],
        },
    }
)
POLICY = TABLE.resolve([])
PROFILES: list[dict[str, Any]] = [
    {"slug": "small", "display_name": "Small", "default": True},
    {"slug": "big", "display_name": "Big"},
    {"slug": "gpu", "display_name": "GPU"},
    {
        "slug": "env",
        "display_name": "Env",
        "profile_options": {"image": {"choices": {"a": {}, "b": {}}}},
    },
]
ALLOWED = (PROFILES[0], PROFILES[1])

# (case, user_options, profiles) -> (rule, status, message) of the refusal
REFUSED = {
    "not-an-object": (
        [1],
        PROFILES,
        ("request", 400, 'Invalid options: a list is not an object of option names to values '
         '(e.g. {"cpu": 2}).'),
    ),
    "a-profile-the-groups-may-not-pick": (
        {"profile": "gpu"},
        PROFILES,
        ("profiles", 403, 'Profile "gpu" is not available to your groups (defaults). '
         "Profiles you can pick: small, big."),
    ),
    "a-profile-option-without-profiles": (
        {"profile": "small"},
        [],
        ("user_options", 400, "This hub has no server profiles to pick from; leave out the "
         'profile option (got "small").'),
    ),
    "an-unknown-option": (
        {"colour": "red"},
        [],
        ("request", 400, 'Unknown option "colour": the options are cpu, memory, gpu, gpu_kind, '
         "resources, profile."),
    ),
}  # fmt: skip


@pytest.mark.parametrize(("options", "profiles", "refusal"), REFUSED.values(), ids=REFUSED)
def test_choose_refuses(options, profiles, refusal):
    decision = choose(POLICY, options, profiles)
    assert (decision.allowed, decision.rule, decision.status, decision.message) == (
        False,
        *refusal,
    )


CHOSEN = {
    "nothing-asked-no-profiles": (None, [], Choice({}, Request())),
    "cpu-no-profiles": ({"cpu": "2"}, [], Choice({"cpu": "2"}, Request(cpu_limit=2.0))),
    "the-default-profile": ({}, PROFILES, Choice({}, Request(), PROFILES[0], ALLOWED)),
    "a-profile-and-memory": (
        {"profile": "big", "memory": "3G"},
        PROFILES,
        Choice({"profile": "big", "memory": "3G"}, Request(memory_limit=3 * GB, profile="big"),
               PROFILES[1], ALLOWED),
    ),
}  # fmt: skip


@pytest.mark.parametrize(("options", "profiles", "expected"), CHOSEN.values(), ids=CHOSEN)
def test_choose_answers_the_choice(options, profiles, expected):
    decision = choose(POLICY, options, profiles)
    assert decision.allowed, decision.message
    choice = decision.details["choice"]
    assert (choice.options, choice.request, choice.profile) == (
        expected.options,
        expected.request,
        expected.profile,
    )
    assert [p["slug"] for p in choice.allowed] == [p["slug"] for p in expected.allowed]


def test_grant_start_builds_on_what_the_profile_set():
    choice = Choice({"profile": "big"}, Request(profile="big"), PROFILES[1], ALLOWED)
    decision = grant_start(POLICY, Usage(), choice, {"cpu_limit": 2.0}, server_name="nb")
    assert decision.details["grant"] == Grant(0.5, 2.0, GB, 2 * GB, 0, "nvidia.com/gpu")


def test_grant_start_names_a_profile_that_sets_more_than_allowed():
    choice = Choice({"profile": "big"}, Request(profile="big"), PROFILES[1], ALLOWED)
    decision = grant_start(POLICY, Usage(), choice, {"cpu_limit": 8.0}, server_name="nb")
    assert (decision.allowed, decision.rule, decision.status) == (False, "resources.cpu.max", 403)
    assert decision.message == (
        'Profile "big" asks for more than your groups allow: CPU request too large: "nb" asks '
        "for 8 cores; the most allowed per server for your groups (defaults) is 2 cores. "
        "Ask for 2 cores or less."
    )


def test_grant_start_without_a_profile_is_check_start():
    choice = Choice({"memory": "5G"}, Request(memory_limit=5 * GB))
    decision = grant_start(POLICY, Usage(), choice, {}, server_name="nb")
    assert (decision.allowed, decision.rule, decision.status) == (
        False,
        "resources.memory.max",
        403,
    )
