"""A policy that names a profile the static profile_list does not have is named at start.

``defaults.profiles = ["notebok"]`` (a typo of ``notebook``) passed
``hubplugins.setup(c)`` without a word; every start of every user was then
refused with 403 "No server profile is available to your groups", and the
admins learnt of it from the users. It is a warning (a policy may be shared by
hubs with other lists): the hub logs it, and ``hubplugins check --strict``
fails on it.
"""

from __future__ import annotations

import logging

import pytest
from harness.logs import Kept
from traitlets.config import Config

from hubplugins.hub.config import setup
from hubplugins.policy.profile_overrides import unknown_profile_issues
from hubplugins.policy.table import PolicyTable

PROFILES = [
    {"display_name": "Notebook", "slug": "notebook", "default": True},
    {"display_name": "GPU"},  # slug "gpu", from its name, as KubeSpawner makes it
]
WARNING = (
    'names the profile "{slug}", which KubeSpawner.profile_list does not have '
    "(its profiles: gpu, notebook); it is never offered"
)

CASES = {
    # case: (policy, the warnings (key path, slug))
    "defaults-typo": ({"defaults": {"profiles": ["notebok"]}}, [("defaults.profiles", "notebok")]),
    "group-typo": (
        {"groups": {"gpu-beta": {"profiles": ["notebook", "gpu-big"]}}},
        [("groups.gpu-beta.profiles", "gpu-big")],
    ),
    "slug-from-the-name": ({"defaults": {"profiles": ["gpu", "notebook"]}}, []),
    "every-profile": ({"groups": {"staff": {"profiles": ["*"]}}}, []),
    "no-profiles-named": ({"defaults": {"servers": {"max_named": 2}}}, []),
}


@pytest.mark.parametrize("case", CASES)
def test_each_unknown_profile_is_one_warning(case: str) -> None:
    policy, expected = CASES[case]
    issues = unknown_profile_issues(PolicyTable.from_dict(policy), PROFILES)
    assert [(i.path, i.message, i.severity) for i in issues] == [
        (path, WARNING.format(slug=slug), "warning") for path, slug in expected
    ]


def test_the_hub_logs_it_at_start() -> None:
    c = Config()
    c.HubPolicy.policy = CASES["defaults-typo"][0]
    c.KubeSpawner.profile_list = PROFILES
    lines = Kept(logging.WARNING)
    logger = logging.getLogger("JupyterHub")
    logger.addHandler(lines)
    try:
        setup(c)
    finally:
        logger.removeHandler(lines)
    assert f"hubplugins: defaults.profiles: {WARNING.format(slug='notebok')}" in lines.lines


def test_no_profile_list_no_warning() -> None:
    table = PolicyTable.from_dict(CASES["defaults-typo"][0])
    assert unknown_profile_issues(table, []) == []
    assert unknown_profile_issues(table, lambda spawner: PROFILES) == []
