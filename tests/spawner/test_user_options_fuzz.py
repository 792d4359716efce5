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
from hypothesis import HealthCheck, assume, given, seed, settings

from .user_options_cases import CONFIGS, Case, Runner, cases, may_start


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
    ("body-number-named", "profiles", 1, "nb"),
    ("body-null-named", "no-profiles", None, "nb"),
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
MAX_STARTS = 5


@pytest.mark.parametrize("config", list(CONFIGS))
async def test_generated_bodies(option_hubs, config):
    runner = option_hubs[config]
    tried, accepted = runner.tally.tried, runner.tally.accepted
    loop = asyncio.get_running_loop()

    # Hypothesis drives the cases from a thread; each runs on this test's loop
    @seed(20261201)
    @settings(
        max_examples=EXAMPLES,
        derandomize=True,
        database=None,
        deadline=None,
        suppress_health_check=list(HealthCheck),
    )
    @given(case=cases(runner.hub.version))
    def check(case: Case) -> None:
        # starts take seconds, refusals milliseconds: a few starts are enough
        started = runner.tally.accepted - accepted
        assume(started < MAX_STARTS or not may_start(case, runner.hub.version))
        problem = asyncio.run_coroutine_threadsafe(runner.run(case), loop).result()
        assert problem is None, problem

    await asyncio.to_thread(check)
    assert runner.tally.tried - tried >= EXAMPLES


# (case id, form fields, image of the pod): the form's strings read as a REST body would be
FORM_STARTS = [
    (
        "unlisted-choice",
        {
            "profile": "cpu",
            "profile-option-cpu--image": "unlisted-choice",
            "profile-option-cpu--image--unlisted-choice": "devcluster/stub:mine",
        },
        "devcluster/stub:mine",
    ),
    (
        "choice-beside-empty-free-text",
        {
            "profile": "cpu",
            "profile-option-cpu--image": "sci",
            "profile-option-cpu--image--unlisted-choice": "",
        },
        "devcluster/stub:sci",
    ),
    ("resource-fields", {"profile": "test", "cpu": "0.5", "memory": ""}, "devcluster/stub:test"),
]


@pytest.mark.parametrize(("fields", "image"), [pytest.param(f, i, id=c) for c, f, i in FORM_STARTS])
async def test_form_posts_start(option_hubs, devcluster, fields, image):
    hub = option_hubs["profiles"].hub
    user = f"form-{image.rpartition(':')[2]}-{hub.version.replace('.', '')}"
    client = await hub.login(user)
    resp = await client.post(
        f"/hub/spawn/{user}",
        data={"_xsrf": client.cookies.get("_xsrf"), **fields},
        follow_redirects=False,
    )
    assert resp.status_code == 302, resp.text[:500]
    await hub.wait_for_server(user)
    pods = [
        p for p in devcluster.control.objects("pods") if p["metadata"]["name"] == f"jupyter-{user}"
    ]
    assert pods[0]["spec"]["containers"][0]["image"] == image
    await hub.api("DELETE", f"/users/{user}/server")
    await hub.wait_for_server(user, ready=False)
