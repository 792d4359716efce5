"""Hostile ``user_options`` through the REST API of a real hub, on both series.

Every body is either a start within the policy (then stopped and removed) or
a 4xx with a message, with nothing created in Kubernetes and no server record
left behind. A fixed table holds the bodies that once broke this; Hypothesis
(derandomized, no example database) generates the rest, against the spawner
tests' hub and the same hub without a ``profile_list``.
"""

from __future__ import annotations

import asyncio
import os
from collections.abc import AsyncIterator
from typing import Any

import pytest
from harness.hub import Hub, start_hub
from hypothesis import HealthCheck, given, seed, settings

from .user_options_cases import CONFIGS, Case, Runner, cases


@pytest.fixture(scope="module", params=["6", "5.5"], ids=["jh6", "jh55"])
async def option_hubs(
    request: pytest.FixtureRequest, devcluster: Any, tmp_path_factory: pytest.TempPathFactory
) -> AsyncIterator[dict[str, Runner]]:
    series = str(request.param)
    names = list(CONFIGS)
    hubs = await asyncio.gather(
        *(
            start_hub(
                tmp_path_factory.mktemp(f"options-{name}-{series}"),
                CONFIGS[name],
                jupyterhub=series,
                kubeconfig=devcluster.kubeconfig,
            )
            for name in names
        ),
        return_exceptions=True,
    )
    started = [h for h in hubs if isinstance(h, Hub)]
    try:
        for hub in hubs:
            if isinstance(hub, BaseException):
                raise hub
        by_name = dict(zip(names, started, strict=True))
        # only the hub with profiles has a form: opening the page elsewhere starts a server
        admin = await by_name["profiles"].login("admin")
        yield {
            "profiles": Runner(by_name["profiles"], devcluster, admin),
            "no-profiles": Runner(by_name["no-profiles"], devcluster),
        }
    finally:
        await asyncio.gather(*(h.stop() for h in started))


# (case id, hub, body, server): each once answered 500, was accepted or left a record
FIXED = [
    ("gpu-superscript-two", "no-profiles", {"gpu": "\u00b2"}, ""),
    ("profile-list-no-profiles", "no-profiles", {"profile": ["x"]}, ""),
    ("profile-no-profiles", "no-profiles", {"profile": "x"}, ""),
    ("cpu-one-element-list", "no-profiles", {"cpu": [1]}, ""),
    ("cpu-one-element-list-profiles", "profiles", {"cpu": [1]}, ""),
    ("memory-one-element-list", "profiles", {"memory": ["1G"]}, ""),
    ("gpu-arabic-indic-digit", "profiles", {"gpu": "\u0663"}, ""),
    ("gpu-huge-float", "profiles", {"gpu": 1e300}, ""),
    ("cpu-null", "profiles", {"cpu": None}, ""),
    ("profile-null", "profiles", {"profile": None}, ""),
    ("choice-null", "profiles", {"profile": "cpu", "image": None}, ""),
    ("unlisted-null", "profiles", {"profile": "cpu", "image--unlisted-choice": None}, ""),
    ("resources-cpu-too-long", "profiles", {"resources": "cpul=" + "1" * 80}, ""),
    ("resources-gpu-huge", "no-profiles", {"resources": "gpu=" + "9" * 400}, ""),
    ("form-field-name-no-profiles", "no-profiles", {"profile-option-x--y": "z"}, ""),
    ("named-gpu-superscript", "no-profiles", {"gpu": "\u00b2"}, "nb"),
    # saved by JupyterHub although refused: the spawn form must still open
    ("form-after-unlisted-number", "profiles", {"profile": "cpu", "image--unlisted-choice": 5}, ""),
    ("form-after-choice-list", "profiles", {"profile": "cpu", "image": ["base"]}, ""),
    ("body-list", "profiles", [1], ""),
    ("body-string", "no-profiles", "cpu", "nb"),
    ("body-number", "profiles", 5, ""),
    ("body-true", "profiles", True, ""),
]


@pytest.mark.parametrize(
    ("config", "body", "server"), [pytest.param(c, b, s, id=i) for i, c, b, s in FIXED]
)
async def test_fixed_hostile_bodies(option_hubs, config, body, server):
    problem = await option_hubs[config].run(Case(body, server))
    assert problem is None, problem


# per series and hub: 2 series x 2 hubs x 80 = 320 cases a run
EXAMPLES = int(os.environ.get("OPTIONS_FUZZ_EXAMPLES", "80"))


@pytest.mark.parametrize("config", list(CONFIGS))
async def test_generated_bodies(option_hubs, config):
    runner = option_hubs[config]
    tried = runner.tally.tried

    @seed(20261201)
    @settings(
        max_examples=EXAMPLES,
        derandomize=True,
        database=None,
        deadline=None,
        suppress_health_check=list(HealthCheck),
    )
    @given(case=cases(runner.hub.version))
    async def check(case: Case) -> None:
        problem = await runner.run(case)
        assert problem is None, problem

    await _run_hypothesis(check)
    assert runner.tally.tried - tried >= EXAMPLES
    print(f"{config} on {runner.hub.version}: {runner.tally}")


async def _run_hypothesis(test: Any) -> None:
    """Run an async ``@given`` test on this loop: Hypothesis drives it from a thread."""
    loop = asyncio.get_running_loop()
    inner = test.hypothesis.inner_test

    def sync_inner(**kwargs: Any) -> None:
        asyncio.run_coroutine_threadsafe(inner(**kwargs), loop).result()

    test.hypothesis.inner_test = sync_inner
    await asyncio.to_thread(test)
