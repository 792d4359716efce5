"""Refusals through the real hub: a 4xx with the contract's message, nothing created.

Each case starts a server through the REST API with some ``user_options`` and
checks the status, that the message names the rule and the limit, and that
the devcluster saw no pod, volume or secret created.
"""

from __future__ import annotations

import asyncio
import itertools

import pytest

_users = itertools.count()


def _user(prefix: str = "r") -> str:
    return f"{prefix}{next(_users)}"


async def _new_user(hub, prefix: str) -> str:
    user = _user(prefix)
    resp = await hub.api("POST", f"/users/{user}")
    assert resp.status_code == 201, resp.text
    return user


CREATES = [("create", "pods"), ("create", "persistentvolumeclaims"), ("create", "secrets")]


def _creates(devcluster) -> dict[tuple[str, str], int]:
    counts = devcluster.control.counts()
    return {key: counts.get("/".join(key), 0) for key in CREATES}


# (case id, user_options, status, words the message must contain)
OPTION_CASES = [
    ("cpu-above-max", {"cpu": 2}, 403, ["cpu", "1"]),
    ("cpu-string-above-max", {"cpu": "1500m"}, 403, ["cpu"]),
    ("memory-above-max", {"memory": "3G"}, 403, ["memory", "2G"]),
    ("memory-gi-above-2g", {"memory": "2Gi"}, 403, ["memory"]),
    ("gpu-not-in-tier", {"gpu": 1}, 403, ["gpu"]),
    ("cpu-negative", {"cpu": -1}, 400, ["cpu"]),
    ("cpu-nan", {"cpu": "NaN"}, 400, ["cpu"]),
    ("cpu-inf", {"cpu": "inf"}, 400, ["cpu"]),
    ("cpu-1e309", {"cpu": "1e309"}, 400, ["cpu"]),
    ("cpu-word", {"cpu": "lots"}, 400, ["cpu"]),
    ("cpu-nested", {"cpu": {"a": 1}}, 400, ["cpu"]),
    ("cpu-list", {"cpu": [1, 2]}, 400, ["cpu"]),
    ("cpu-bool", {"cpu": True}, 400, ["cpu"]),
    ("memory-no-unit-tiny", {"memory": 4}, 400, ["memory"]),
    ("memory-junk-suffix", {"memory": "2Gx"}, 400, ["memory"]),
    ("memory-negative", {"memory": "-1G"}, 400, ["memory"]),
    ("gpu-fraction", {"gpu": 0.5}, 400, ["gpu"]),
    ("gpu-negative", {"gpu": -1}, 400, ["gpu"]),
    ("unknown-key", {"cpus": 1}, 400, ["cpus"]),
    ("unknown-nested", {"x": {"y": {"z": 1}}}, 400, ["x"]),
    ("resources-junk-line", {"resources": "meml=1\nthis is junk"}, 400, ["line 2"]),
    ("resources-unknown-key", {"resources": "ram=4"}, 400, ["ram"]),
    ("resources-unit", {"resources": "meml=4G"}, 400, ["meml"]),
    ("resources-duplicate", {"resources": "meml=1\nmeml=2"}, 400, ["meml"]),
    ("resources-above-max", {"resources": "meml=3"}, 403, ["memory"]),
    ("resources-gpu", {"resources": "gpu=1"}, 403, ["gpu"]),
    ("resources-not-text", {"resources": ["a", "b"]}, 400, ["resources"]),
    ("hidden-profile", {"profile": "gpu"}, 403, ["gpu", "cpu, test"]),
    ("unknown-profile", {"profile": "nope"}, 400, ["nope"]),
    ("profile-not-string", {"profile": {"slug": "cpu"}}, 400, ["profile"]),
    ("profile-lifts-cap", {"profile": "big"}, 403, ["profile"]),
    ("choice-unknown", {"profile": "cpu", "image": "evil"}, 400, ["evil"]),
    (
        "unlisted-escapes-regex",
        {"profile": "cpu", "image--unlisted-choice": "img:evil"},
        400,
        ["image"],
    ),
    (
        "unlisted-trailing-newline",
        {"profile": "cpu", "image--unlisted-choice": "devcluster/stub:ok\n"},
        400,
        ["image"],
    ),
    (
        "unlisted-prefix-only",
        {"profile": "cpu", "image--unlisted-choice": "devcluster/stub:ok evil"},
        400,
        ["image"],
    ),
    ("unlisted-huge", {"profile": "cpu", "image--unlisted-choice": "a" * 100_000}, 400, ["image"]),
    ("option-of-other-profile", {"profile": "test", "image": "base"}, 400, ["image"]),
]


@pytest.mark.parametrize(
    ("options", "status", "words"),
    [pytest.param(o, s, w, id=i) for i, o, s, w in OPTION_CASES],
)
async def test_bad_options_are_refused_before_anything_is_created(
    policy_hub, devcluster, options, status, words
):
    user = await _new_user(policy_hub, "opt")
    before = _creates(devcluster)
    resp = await policy_hub.api("POST", f"/users/{user}/servers/", json=options)
    assert resp.status_code == status, resp.text
    message = resp.json()["message"]
    for word in words:
        assert word.lower() in message.lower(), message
    assert len(message) < 600
    assert _creates(devcluster) == before
    model = (await policy_hub.api("GET", f"/users/{user}")).json()
    assert model["servers"] == {}


NAME_CASES = [
    ("21-chars", "a" * 21, ["20"]),
    ("uppercase", "MyServer", ["lowercase"]),
    ("slash", "a/b", []),
    ("dotdot", "..", []),
    ("space", "my server", []),
    ("leading-digit", "1abc", []),
    ("double-hyphen", "a--b", []),
    ("trailing-hyphen", "abc-", []),
    ("cyrillic-a", "\u0430bc", []),
    ("fullwidth", "\uff41bc", []),
    ("huge", "x" * 60_000, []),
    ("underscore", "my_server", []),
    ("dot", "my.server", []),
]


@pytest.mark.parametrize(("name", "words"), [pytest.param(n, w, id=i) for i, n, w in NAME_CASES])
async def test_bad_server_names_are_refused(policy_hub, devcluster, name, words):
    user = await _new_user(policy_hub, "name")
    before = _creates(devcluster)
    from urllib.parse import quote

    resp = await policy_hub.api("POST", f"/users/{user}/servers/{quote(name, safe='')}")
    assert 400 <= resp.status_code < 500, resp.text
    if resp.headers.get("content-type", "").startswith("application/json"):
        message = resp.json().get("message", "")
        for word in words:
            assert word in message, message
        assert len(message) < 600
    assert _creates(devcluster) == before
    model = (await policy_hub.api("GET", f"/users/{user}")).json()
    assert model["servers"] == {}


async def test_sixth_named_server_is_refused_with_the_contract_message(policy_hub, devcluster):
    user = await _new_user(policy_hub, "six")
    for i in range(5):
        resp = await policy_hub.api("POST", f"/users/{user}/servers/nb{i}")
        assert resp.status_code in (201, 202), resp.text
        await policy_hub.wait_for_server(user, f"nb{i}")
        resp = await policy_hub.api("DELETE", f"/users/{user}/servers/nb{i}")
        assert resp.status_code in (202, 204)
    before = _creates(devcluster)
    resp = await policy_hub.api("POST", f"/users/{user}/servers/nb5")
    assert resp.status_code == 403, resp.text
    message = resp.json()["message"]
    assert "5 of 5 named servers" in message, message
    assert '"nb5"' in message, message
    assert _creates(devcluster) == before


async def test_concurrent_creates_never_exceed_max_named(policy_hub):
    user = await _new_user(policy_hub, "race")
    results = await asyncio.gather(
        *(policy_hub.api("POST", f"/users/{user}/servers/s{i}") for i in range(30))
    )
    ok = [r for r in results if r.status_code in (201, 202)]
    refused = [r for r in results if 400 <= r.status_code < 500]
    assert len(ok) + len(refused) == 30, [r.status_code for r in results]
    model = (await policy_hub.api("GET", f"/users/{user}?include_stopped_servers=1")).json()
    assert len([name for name in model["servers"] if name]) <= 5, sorted(model["servers"])
    assert len(ok) <= 5
