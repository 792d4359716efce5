"""Profiles with one slug, through the real hub on both series.

A static ``profile_list`` with a slug twice stops the hub at start, naming
both profiles and the slug. A callable one that returns such a list refuses
the start (409, nothing created, no record left) and logs an ERROR line for
the admin; users whose list is unambiguous start as usual.
"""

from __future__ import annotations

import asyncio
import itertools

import pytest
from harness.hub import HubError, start_hub

from .policy_config import POLICY

_ids = itertools.count()

CPU = {"display_name": "CPU", "slug": "cpu", "default": True}
# no slug: KubeSpawner makes "cpu" from the display name
LOOKALIKE = {"display_name": "Cpu", "kubespawner_override": {"cpu_limit": 8.0}}
TEST = {"display_name": "Test", "slug": "test"}

CALLABLE_CONFIG = f"""
import hubplugins

def profiles(spawner):
    base = [{CPU!r}, {TEST!r}]
    if spawner.user.name.startswith("amb"):
        base.append({LOOKALIKE!r})
    return base

c.JupyterHub.spawner_class = "hubplugins.PolicySpawner"
c.KubeSpawner.profile_list = profiles
c.HubPolicy.policy = {POLICY!r}
hubplugins.setup(c)
"""

STATIC_CONFIG = f"""
import hubplugins
c.JupyterHub.spawner_class = "hubplugins.PolicySpawner"
c.KubeSpawner.profile_list = [{CPU!r}, {TEST!r}, {LOOKALIKE!r}]
c.HubPolicy.policy = {POLICY!r}
hubplugins.setup(c)
"""


@pytest.fixture(scope="module", params=["6", "5.5"], ids=["jh6", "jh55"])
async def callable_hub(request: pytest.FixtureRequest, devcluster, tmp_path_factory):
    hub = await start_hub(
        tmp_path_factory.mktemp(f"slughub{request.param}"),
        CALLABLE_CONFIG,
        jupyterhub=request.param,
        kubeconfig=devcluster.kubeconfig,
    )
    yield hub
    await hub.stop()


async def test_a_static_list_with_a_slug_twice_stops_the_hub(tmp_path):
    async def fails(series: str) -> str:
        with pytest.raises(HubError) as info:
            await start_hub(tmp_path / series, STATIC_CONFIG, jupyterhub=series)
        return str(info.value)

    # both series at once: each is a hub process that exits while reading its config
    for text in await asyncio.gather(fails("6"), fails("5.5")):
        assert 'KubeSpawner.profile_list[0] ("CPU")' in text, text
        assert 'KubeSpawner.profile_list[2] ("Cpu")' in text, text
        assert 'share the slug "cpu"' in text, text


# (case id, server name, user_options)
START_CASES = [
    ("default-server-shared-slug", "", {"profile": "cpu"}),
    ("new-named-server-other-profile", "nb1", {"profile": "test"}),
]


@pytest.mark.parametrize(
    ("server", "options"), [pytest.param(s, o, id=i) for i, s, o in START_CASES]
)
async def test_a_callable_list_with_a_slug_twice_refuses_the_start(
    callable_hub, devcluster, server, options
):
    hub = callable_hub
    user = f"amb{next(_ids)}x{hub.version.replace('.', '')}"
    assert (await hub.api("POST", f"/users/{user}")).status_code == 201
    before = devcluster.control.counts()
    resp = await hub.api("POST", f"/users/{user}/servers/{server}", json=options)
    assert resp.status_code == 409, resp.text
    message = resp.json()["message"]
    assert 'share the slug "cpu"' in message and "administrators" in message, message
    after = devcluster.control.counts()
    for kind in ("pods", "persistentvolumeclaims", "secrets"):
        assert after.get(f"create/{kind}", 0) == before.get(f"create/{kind}", 0), kind
    errors = [line for line in hub.log_text().splitlines() if line.startswith("[E")]
    assert any(user in line and 'share the slug "cpu"' in line for line in errors), errors
    # a record the refused request made is not left behind
    deadline = asyncio.get_running_loop().time() + 10
    while True:
        resp = await hub.api("GET", f"/users/{user}?include_stopped_servers=1")
        names = set(resp.json()["servers"]) - {""}
        if not names or asyncio.get_running_loop().time() > deadline:
            break
        await asyncio.sleep(0.05)
    assert names == set(), names


async def test_an_unambiguous_callable_list_starts(callable_hub):
    hub = callable_hub
    user = f"fine{next(_ids)}x{hub.version.replace('.', '')}"
    assert (await hub.api("POST", f"/users/{user}")).status_code == 201
    resp = await hub.api("POST", f"/users/{user}/servers/", json={"profile": "test"})
    assert resp.status_code in (201, 202), resp.text
    await hub.wait_for_server(user, "")
    await hub.api("DELETE", f"/users/{user}/servers/")
    await hub.wait_for_server(user, "", ready=False)
