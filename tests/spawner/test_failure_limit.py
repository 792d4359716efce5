"""Refused starts never restart the hub; real failures still count.

The chart sets ``c.Spawner.consecutive_failure_limit = 5``; JupyterHub 5.5
counts refused starts toward it (6.x only some). Through the real hub on
both series, on a devcluster of the test's own: four real failures (the
devcluster answers the pod create with 500), then refusals of every kind
(the policy's caps and checks, an authenticator's ``pre_spawn_start``, a
sign-in provider that is down, a failed refresh of the sign-in), then one
more real failure: only that fifth real failure makes the hub exit, so the
refusals neither counted nor reset the count.
"""

from __future__ import annotations

import itertools
import re

import pytest
from tornado import web

from hubplugins.hub import failure_count
from hubplugins.hub.refusals import http_error
from hubplugins.policy.decision import Decision
from hubplugins.policy.errors import PolicyRefusal

pytestmark = pytest.mark.slow

LIMIT = 5  # the chart's hub.consecutiveFailureLimit

CONFIG = f"""
import hubplugins
from jupyterhub.auth import DummyAuthenticator
from tornado import web
from hubplugins.auth.github import GitHubUnavailable


class RefusingAuthenticator(DummyAuthenticator):
    # refuses some starts the way sign-in providers do
    refresh_pre_spawn = True

    async def refresh_user(self, user, handler=None):
        return not user.name.startswith("expired")

    async def pre_spawn_start(self, user, spawner):
        if user.name.startswith("blocked"):
            raise web.HTTPError(403, "Your account may not start servers.")
        if user.name.startswith("down"):
            raise GitHubUnavailable("test outage")


c.JupyterHub.authenticator_class = RefusingAuthenticator
c.JupyterHub.spawner_class = "hubplugins.PolicySpawner"
c.Spawner.consecutive_failure_limit = {LIMIT}
c.KubeSpawner.profile_list = [
    {{"display_name": "CPU", "slug": "cpu", "default": True}},
    {{"display_name": "GPU", "slug": "gpu"}},
]
c.HubPolicy.policy = {{
    "defaults": {{
        "resources": {{"cpu": {{"guarantee": 0.5, "limit": 1, "max": 1}}}},
        "profiles": ["cpu"],
    }},
}}
hubplugins.setup(c)
"""

# (case, user prefix, user_options, status)
REFUSALS = [
    ("cpu-above-cap", "cap", {"cpu": 4}, 403),
    ("junk-option", "junk", {"cpus": 1}, 400),
    ("profile-not-allowed", "prof", {"profile": "gpu"}, 403),
    ("pre-spawn-refusal", "blocked", {}, 403),
    ("provider-down", "down", {}, 503),
]
# 5.5 refuses a start whose sign-in cannot be refreshed (403); 6.x lets an
# admin's start for another user go ahead on the stale sign-in
EXPIRED = ("sign-in-expired", "expired", {}, 403)

_users = itertools.count()


def _failure_lines(log: str) -> tuple[list[int], list[int]]:
    """(counts JupyterHub warned about, counts it aborted at)."""
    warned = [int(n) for n in re.findall(r"(\d+) consecutive spawns failed", log)]
    aborted = [int(n) for n in re.findall(r"Aborting due to (\d+) consecutive", log)]
    return warned, aborted


async def _start(hub, prefix: str, options: dict) -> int:
    user = f"{prefix}{next(_users)}"
    assert (await hub.api("POST", f"/users/{user}")).status_code == 201
    resp = await hub.api("POST", f"/users/{user}/server", json=options)
    return resp.status_code


async def test_refusals_never_count_toward_the_failure_limit(
    make_hub, fresh_devcluster, jupyterhub_version
):
    hub = await make_hub(
        CONFIG, jupyterhub=jupyterhub_version, kubeconfig=fresh_devcluster.kubeconfig
    )
    control = fresh_devcluster.control
    cases = REFUSALS + ([EXPIRED] if jupyterhub_version == "5.5" else [])

    # real failures count
    control.fail("create", "pods", status=500, count=LIMIT - 1)
    for _ in range(LIMIT - 1):
        assert await _start(hub, "broken", {}) >= 500
    warned, aborted = _failure_lines(hub.log_text())
    assert max(warned) == LIMIT - 1 and not aborted, (warned, aborted)

    # refusals of every kind, more than the limit, count for nothing
    for _ in range(2):
        for case, prefix, options, status in cases:
            assert await _start(hub, prefix, options) == status, case
    assert (await hub.api("GET", "/users")).status_code == 200  # still up
    warned, aborted = _failure_lines(hub.log_text())
    assert max(warned) == LIMIT - 1 and not aborted, (warned, aborted)

    # and did not reset it: the next real failure is the fifth
    control.fail("create", "pods", status=500, count=1)
    assert await _start(hub, "broken", {}) >= 500
    assert await hub.wait_exit() != 0
    warned, aborted = _failure_lines(hub.log_text())
    assert aborted == [LIMIT], hub.log_tail()


class _Marked(Exception):
    hubplugins_not_a_failure = True


@pytest.mark.parametrize(
    ("error", "refusal"),
    [
        pytest.param(web.HTTPError(403), True, id="http-403"),
        pytest.param(web.HTTPError(400), True, id="http-400"),
        pytest.param(web.HTTPError(409), True, id="http-409"),
        pytest.param(web.Finish(), True, id="redirect-to-sign-in"),
        pytest.param(web.HTTPError(500), False, id="http-500"),
        pytest.param(web.HTTPError(503), False, id="http-503-unmarked"),
        pytest.param(_Marked(), True, id="marked"),
        pytest.param(RuntimeError("pod create failed"), False, id="crash"),
        pytest.param(TimeoutError(), False, id="timeout"),
    ],
)
def test_what_is_a_refusal(error, refusal):
    assert failure_count.is_refusal(error) is refusal


@pytest.mark.parametrize("status", [400, 403, 409, 503])
def test_a_policy_refusal_is_never_a_failure(status):
    """Whatever status a caller gives it afterwards (the directory's outage is 503)."""
    refusal = PolicyRefusal(Decision.refuse("test", "refused", status=status))
    error = http_error(refusal)
    error.status_code = status
    assert failure_count.is_refusal(error)
