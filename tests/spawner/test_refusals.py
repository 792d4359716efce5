"""Refusals through the real hub: a 4xx with the contract's message, nothing created.

Each case starts a server through the REST API with some ``user_options`` and
checks the status, the whole message (the rule, the limit and what to do), and that
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


# (case id, user_options, status, the whole message)
OPTION_CASES = [
    (
        "cpu-above-max",
        {"cpu": 2},
        403,
        (
            "CPU request too large: your default server asks for 2 cores; the most allowed per "
            "server for your groups (defaults) is 1 core. Ask for 1 core or less."
        ),
    ),
    (
        "cpu-string-above-max",
        {"cpu": "1500m"},
        403,
        (
            "CPU request too large: your default server asks for 1.5 cores; the most allowed per "
            "server for your groups (defaults) is 1 core. Ask for 1 core or less."
        ),
    ),
    (
        "memory-above-max",
        {"memory": "3G"},
        403,
        (
            "memory request too large: your default server asks for 3G; the most allowed per "
            "server for your groups (defaults) is 2G. Ask for 2G or less."
        ),
    ),
    (
        "memory-gi-above-2g",
        {"memory": "2Gi"},
        403,
        (
            "memory request too large: your default server asks for 2Gi; the most allowed per "
            "server for your groups (defaults) is 2G. Ask for 2G or less."
        ),
    ),
    (
        "gpu-not-in-tier",
        {"gpu": 1},
        403,
        (
            "GPU request too large: your default server asks for 1 GPU; the most allowed per "
            "server for your groups (defaults) is 0 GPUs. Ask for 0 GPUs or less."
        ),
    ),
    (
        "cpu-negative",
        {"cpu": -1},
        400,
        "Invalid cpu: -1 is not a CPU quantity: it must not be negative.",
    ),
    (
        "cpu-nan",
        {"cpu": "NaN"},
        400,
        "Invalid cpu: 'NaN' is not a CPU quantity (examples: 0.5, 500m, 2).",
    ),
    (
        "cpu-inf",
        {"cpu": "inf"},
        400,
        "Invalid cpu: 'inf' is not a CPU quantity (examples: 0.5, 500m, 2).",
    ),
    (
        "cpu-1e309",
        {"cpu": "1e309"},
        400,
        "Invalid cpu: '1e309' is not a CPU quantity (examples: 0.5, 500m, 2).",
    ),
    (
        "cpu-word",
        {"cpu": "lots"},
        400,
        "Invalid cpu: 'lots' is not a CPU quantity (examples: 0.5, 500m, 2).",
    ),
    (
        "cpu-nested",
        {"cpu": {"a": 1}},
        400,
        "Invalid cpu: an object is not a number of cores (e.g. 2, 500m).",
    ),
    (
        "cpu-list",
        {"cpu": [1, 2]},
        400,
        "Invalid cpu: a list is not a number of cores (e.g. 2, 500m).",
    ),
    (
        "cpu-bool",
        {"cpu": True},
        400,
        "Invalid cpu: a boolean is not a number of cores (e.g. 2, 500m).",
    ),
    (
        "memory-no-unit-tiny",
        {"memory": 4},
        400,
        (
            'Invalid memory: "4" has no unit and would mean 4 bytes; write 4G (10^9 bytes) or 4Gi '
            "(2^30 bytes)."
        ),
    ),
    (
        "memory-junk-suffix",
        {"memory": "2Gx"},
        400,
        "Invalid memory: '2Gx' is not a memory quantity (examples: 512Mi, 2G, 2Gi).",
    ),
    (
        "memory-negative",
        {"memory": "-1G"},
        400,
        "Invalid memory: '-1G' is not a memory quantity: it must not be negative.",
    ),
    (
        "gpu-fraction",
        {"gpu": 0.5},
        400,
        'Invalid gpu: "0.5" is not a whole number of GPUs (e.g. 1).',
    ),
    (
        "gpu-negative",
        {"gpu": -1},
        400,
        "Invalid gpu: -1 must not be negative.",
    ),
    (
        "unknown-key",
        {"cpus": 1},
        400,
        (
            'Unknown option "cpus" for profile "cpu". Known options: cpu, gpu, image, '
            "image--unlisted-choice, memory, profile, resources."
        ),
    ),
    (
        "unknown-nested",
        {"x": {"y": {"z": 1}}},
        400,
        (
            'Unknown option "x" for profile "cpu". Known options: cpu, gpu, image, '
            "image--unlisted-choice, memory, profile, resources."
        ),
    ),
    (
        "resources-junk-line",
        {"resources": "meml=1\nthis is junk"},
        400,
        'Invalid resources, line 2: "this is junk" is not key=value (e.g. meml=4).',
    ),
    (
        "resources-unknown-key",
        {"resources": "ram=4"},
        400,
        'Invalid resources, line 1: unknown key "ram"; the keys are gpu, cpur, cpul, memr, meml.',
    ),
    (
        "resources-unit",
        {"resources": "meml=4G"},
        400,
        (
            'Invalid resources, line 1: meml="4G"; meml takes a number of GB with no unit (meml=4 '
            "means 4·10⁹ bytes)."
        ),
    ),
    (
        "resources-duplicate",
        {"resources": "meml=1\nmeml=2"},
        400,
        "Invalid resources, line 2: meml is already set on line 1.",
    ),
    (
        "resources-above-max",
        {"resources": "meml=3"},
        403,
        (
            "memory request too large: your default server asks for 3G; the most allowed per "
            "server for your groups (defaults) is 2G. Ask for 2G or less."
        ),
    ),
    (
        "resources-gpu",
        {"resources": "gpu=1"},
        403,
        (
            "GPU request too large: your default server asks for 1 GPU; the most allowed per "
            "server for your groups (defaults) is 0 GPUs. Ask for 0 GPUs or less."
        ),
    ),
    (
        "resources-not-text",
        {"resources": ["a", "b"]},
        400,
        "Invalid resources: a list is not text with one key=value a line.",
    ),
    (
        "hidden-profile",
        {"profile": "gpu"},
        403,
        (
            'Profile "gpu" is not available to your groups (defaults). Profiles you can pick: '
            "cpu, test."
        ),
    ),
    (
        "unknown-profile",
        {"profile": "nope"},
        400,
        'Unknown profile "nope". Profiles you can pick: cpu, test.',
    ),
    (
        "profile-not-string",
        {"profile": {"slug": "cpu"}},
        400,
        "profile must be a profile's slug (a string), not an object.",
    ),
    (
        "profile-not-in-the-tier",
        {"profile": "big"},
        403,
        (
            'Profile "big" is not available to your groups (defaults). Profiles you can pick: '
            "cpu, test."
        ),
    ),
    (
        "choice-unknown",
        {"profile": "cpu", "image": "evil"},
        400,
        'Option "image": "evil" is not a choice. Choices: base, sci.',
    ),
    (
        "unlisted-escapes-regex",
        {"profile": "cpu", "image--unlisted-choice": "img:evil"},
        400,
        'Option "image": "img:evil" is not allowed: it must match ^devcluster/stub:[a-z0-9.-]+$.',
    ),
    (
        "unlisted-trailing-newline",
        {"profile": "cpu", "image--unlisted-choice": "devcluster/stub:ok\n"},
        400,
        'Option "image": "devcluster/stub:ok\\n" contains whitespace or control characters.',
    ),
    (
        "unlisted-prefix-only",
        {"profile": "cpu", "image--unlisted-choice": "devcluster/stub:ok evil"},
        400,
        'Option "image": "devcluster/stub:ok evil" contains whitespace or control characters.',
    ),
    (
        "unlisted-huge",
        {"profile": "cpu", "image--unlisted-choice": "a" * 100_000},
        400,
        'Option "image": the value is 100000 characters; at most 256.',
    ),
    (
        "option-of-other-profile",
        {"profile": "test", "image": "base"},
        400,
        (
            'Unknown option "image" for profile "test". Known options: cpu, gpu, memory, profile, '
            "resources."
        ),
    ),
]


@pytest.mark.parametrize(
    ("options", "status", "expected"),
    [pytest.param(o, s, m, id=i) for i, o, s, m in OPTION_CASES],
)
async def test_bad_options_are_refused_before_anything_is_created(
    policy_hub, devcluster, options, status, expected
):
    user = await _new_user(policy_hub, "opt")
    before = _creates(devcluster)
    resp = await policy_hub.api("POST", f"/users/{user}/servers/", json=options)
    assert resp.status_code == status, resp.text
    assert resp.json()["message"] == expected
    assert _creates(devcluster) == before
    model = (await policy_hub.api("GET", f"/users/{user}")).json()
    assert model["servers"] == {}


# (case id, server name, the whole message; None: JupyterHub's own answer, not the policy's)
NAME_CASES = [
    (
        "21-chars",
        "aaaaaaaaaaaaaaaaaaaaa",
        (
            'Server name "aaaaaaaaaaaaaaaaaaaaa" is too long: 21 of at most 20 characters allowed '
            'for your groups (defaults). Try "aaaaaaaaaaaaaaaaaaaa".'
        ),
    ),
    (
        "uppercase",
        "MyServer",
        (
            'Server name "MyServer" contains uppercase letters: use lowercase letters, digits and '
            'single hyphens, starting with a letter. Try "myserver".'
        ),
    ),
    (
        "slash",
        "a/b",
        (
            "Server name \"a/b\" contains a '/': use lowercase letters, digits and single "
            'hyphens, starting with a letter. Try "a-b".'
        ),
    ),
    ("dotdot", "..", None),
    (
        "space",
        "my server",
        (
            'Server name "my server" contains whitespace: use lowercase letters, digits and '
            'single hyphens, starting with a letter. Try "my-server".'
        ),
    ),
    (
        "leading-digit",
        "1abc",
        (
            'Server name "1abc" must start with a letter: use lowercase letters, digits and '
            'single hyphens, starting with a letter. Try "abc".'
        ),
    ),
    (
        "double-hyphen",
        "a--b",
        (
            'Server name "a--b" contains two hyphens in a row: use lowercase letters, digits and '
            'single hyphens, starting with a letter. Try "a-b".'
        ),
    ),
    (
        "trailing-hyphen",
        "abc-",
        (
            'Server name "abc-" must end with a letter or a digit: use lowercase letters, digits '
            'and single hyphens, starting with a letter. Try "abc".'
        ),
    ),
    (
        "cyrillic-a",
        "\u0430bc",
        (
            "Server name \"\u0430bc\" contains the non-ASCII character '\u0430' "
            "(U+0430 CYRILLIC SMALL LETTER A): use lowercase letters, digits and single "
            'hyphens, starting with a letter. Try "bc".'
        ),
    ),
    (
        "fullwidth",
        "\uff41bc",
        (
            "Server name \"\uff41bc\" contains the non-ASCII character '\uff41' "
            "(U+FF41 FULLWIDTH LATIN SMALL LETTER A): use lowercase letters, digits and single "
            'hyphens, starting with a letter. Try "abc".'
        ),
    ),
    ("huge", "x" * 60_000, None),
    (
        "underscore",
        "my_server",
        (
            "Server name \"my_server\" contains '_': use lowercase letters, digits and single "
            'hyphens, starting with a letter. Try "my-server".'
        ),
    ),
    (
        "dot",
        "my.server",
        (
            "Server name \"my.server\" contains '.': use lowercase letters, digits and single "
            'hyphens, starting with a letter. Try "my-server".'
        ),
    ),
]


@pytest.mark.parametrize(("name", "expected"), [pytest.param(n, m, id=i) for i, n, m in NAME_CASES])
async def test_bad_server_names_are_refused(policy_hub, devcluster, name, expected):
    user = await _new_user(policy_hub, "name")
    before = _creates(devcluster)
    from urllib.parse import quote

    resp = await policy_hub.api("POST", f"/users/{user}/servers/{quote(name, safe='')}")
    assert 400 <= resp.status_code < 500, resp.text
    if expected is not None:
        assert resp.json()["message"] == expected
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
    assert resp.json()["message"] == (
        "Server limit reached: you have 5 of 5 named servers allowed for your groups "
        '(defaults). Delete one to create "nb5".'
    )
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


async def test_a_profile_that_sets_more_than_the_tier_allows_is_refused_naming_it(
    policy_hub, devcluster
):
    # gpu-beta may pick every profile, but keeps the default 1 CPU per server;
    # the "big" profile sets cpu_limit 4
    user = await _new_user(policy_hub, "lift")
    await policy_hub.api("POST", "/groups/gpu-beta/users", json={"users": [user]})
    before = _creates(devcluster)
    resp = await policy_hub.api("POST", f"/users/{user}/servers/", json={"profile": "big"})
    assert resp.status_code == 403, resp.text
    assert resp.json()["message"] == (
        'Profile "big" asks for more than your groups allow: CPU request too large: your '
        "default server asks for 4 cores; the most allowed per server for your groups "
        "(gpu-beta) is 1 core. Ask for 1 core or less."
    )
    assert _creates(devcluster) == before
    model = (await policy_hub.api("GET", f"/users/{user}")).json()
    assert model["servers"] == {}
