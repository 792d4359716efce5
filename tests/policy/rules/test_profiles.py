"""Profiles whose slugs collide: refused at hub start, by ``hubplugins check`` and at a start.

A profile's slug is its ``slug`` or, without one, made from its
``display_name`` the way KubeSpawner makes it. Two profiles with one slug
would be checked as one and applied as the other, so such a list stops the
hub at start (static lists) or refuses every start (a callable list).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from kubespawner import KubeSpawner
from traitlets.config import Config

from hubplugins.cli import main
from hubplugins.hub.config import setup
from hubplugins.policy.errors import PolicyConfigError
from hubplugins.policy.rules.profiles import (
    SLUG_RULE,
    choose_profile,
    profile_slug,
    profile_slug_issues,
)
from hubplugins.policy.table import PolicyTable

CPU = {"display_name": "CPU", "slug": "cpu"}
GPU = {"display_name": "GPU", "slug": "gpu"}

# (case id, profile_list, fragments of each issue; [] = valid)
SLUG_CASES: list[tuple[str, Any, list[list[str]]]] = [
    ("unique", [CPU, GPU], []),
    ("unique-derived", [{"display_name": "Small"}, {"display_name": "Large"}], []),
    (
        "explicit-twice",
        [CPU, {"display_name": "Other", "slug": "cpu"}],
        [['[0] ("CPU")', '[1] ("Other")', 'slug "cpu"']],
    ),
    (
        "derived-meets-explicit",
        [{"display_name": "Big GPU"}, {"display_name": "Another", "slug": "big-gpu"}],
        [['[0] ("Big GPU")', '[1] ("Another")', 'slug "big-gpu"']],
    ),
    (
        "derived-twice-by-case",
        [{"display_name": "CPU"}, GPU, {"display_name": "cpu"}],
        [['[0] ("CPU")', '[2] ("cpu")', 'slug "cpu"']],
    ),
    (
        "derived-empty-twice",
        [{"display_name": "!!"}, {"display_name": "??"}],
        [['[0] ("!!")', '[1] ("??")', 'slug ""']],
    ),
    (
        "three-share-one",
        [CPU, dict(CPU, display_name="B"), dict(CPU, display_name="C")],
        [['[0] ("CPU") and ', '[1] ("B") and ', '[2] ("C")']],
    ),
    (
        "two-slugs-twice",
        [CPU, CPU, GPU, GPU],
        [['slug "cpu"'], ['slug "gpu"']],
    ),
    (
        "dict-form-named-by-key",
        {"z": {"display_name": "One", "slug": "x"}, "a": {"display_name": "Two", "slug": "x"}},
        [["['a'] (\"Two\")", "['z'] (\"One\")", 'slug "x"']],
    ),
    ("no-slug-no-name", [CPU, {"default": True}], [["[1]", "needs a slug or a display_name"]]),
    ("not-a-list", "cpu,gpu", [["must be a list of profiles"]]),
    ("none", None, []),
]


@pytest.mark.parametrize(
    ("profiles", "expected"), [pytest.param(p, e, id=i) for i, p, e in SLUG_CASES]
)
def test_profile_slug_issues(profiles: Any, expected: list[list[str]]) -> None:
    issues = profile_slug_issues(profiles)
    assert len(issues) == len(expected), issues
    for issue, fragments in zip(issues, expected, strict=True):
        assert str(issue).startswith("KubeSpawner.profile_list"), issue
        for fragment in fragments:
            assert fragment in str(issue), issue


DERIVED = [{"display_name": n} for n in ("CPU", "Big GPU", "Ünïcode name", "a  b--c", "!!", "x/y")]


@pytest.mark.parametrize("profile", DERIVED, ids=[p["display_name"] for p in DERIVED])
def test_slugs_are_derived_as_kubespawner_derives_them(profile: dict[str, str]) -> None:
    (initialized,) = KubeSpawner._get_initialized_profile_list(None, [profile])  # type: ignore[arg-type]
    assert profile_slug(profile) == initialized["slug"]


POLICY = PolicyTable.from_dict({"defaults": {"profiles": ["*"]}}).resolve([])
AMBIGUOUS = [
    {"display_name": "CPU", "slug": "cpu", "default": True},
    {"display_name": "GPU", "slug": "gpu"},
    {"display_name": "Big", "slug": "cpu", "kubespawner_override": {"cpu_limit": 64}},
]

# (case id, user_options): every start is refused, whichever profile it names
START_CASES = [
    ("the-shared-slug", {"profile": "cpu"}),
    ("another-profile", {"profile": "gpu"}),
    ("the-default", {}),
]


@pytest.mark.parametrize("options", [pytest.param(o, id=i) for i, o in START_CASES])
def test_an_ambiguous_list_refuses_every_start(options: dict[str, Any]) -> None:
    decision = choose_profile(POLICY, options, AMBIGUOUS)
    assert not decision.allowed
    assert (decision.rule, decision.status) == (SLUG_RULE, 409)
    for fragment in ('[0] ("CPU")', '[2] ("Big")', 'slug "cpu"', "administrators"):
        assert fragment in decision.message, decision.message


def test_setup_stops_on_a_static_ambiguous_list() -> None:
    c = Config()
    c.KubeSpawner.profile_list = [{"display_name": "CPU"}, {"display_name": "cpu", "slug": "x"}]
    c.PolicySpawner.profile_list = AMBIGUOUS
    with pytest.raises(PolicyConfigError) as info:
        setup(c)
    errors = info.value.errors
    assert len(errors) == 1 and errors[0].startswith("PolicySpawner.profile_list:"), errors
    assert 'slug "cpu"' in errors[0]


def test_setup_leaves_a_callable_list_to_the_start() -> None:
    c = Config()
    c.KubeSpawner.profile_list = lambda spawner: AMBIGUOUS
    setup(c)
    assert c.JupyterHub.allow_named_servers is True


HELM = """\
hub:
  config:
    HubPolicy:
      policy: {defaults: {profiles: ["*"]}}
singleuser:
  profileList:
    - {display_name: "Data Science"}
    - {display_name: "Other", slug: data-science}
"""


def test_check_names_the_colliding_profiles_of_helm_values(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = tmp_path / "values.yaml"
    path.write_text(HELM)
    assert main(["check", str(path)]) == 1
    err = capsys.readouterr().err
    assert 'singleuser.profileList: profiles singleuser.profileList[0] ("Data Science")' in err
    assert 'slug "data-science"' in err
