"""The usage report and the retention notices, without a hub: tables of cases."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from hubplugins.cli.usage_text import api_url, usage_json, usage_text
from hubplugins.policy.rules.as_planned import LifecycleRequest, ServerNow, not_kept
from hubplugins.policy.rules.notices import notice_allowed, plan_notices, read_notice
from hubplugins.policy.table import PolicyTable
from hubplugins.policy.usage_report import (
    LifecycleNote,
    PoolState,
    ServerFacts,
    in_notice_window,
    usage_report,
)

NOW = datetime(2026, 12, 1, 12, 0, tzinfo=UTC)
TABLE = PolicyTable.from_dict(
    {
        "defaults": {
            "idle": {"stop_after": "2h", "delete_after": "7d", "delete_notice": "1d"},
            "quota": {"cpu": 4, "memory": "8G", "gpu": 0},
        },
        "groups": {
            "gpu-beta": {
                "resources": {"gpu": {"max": 2}},
                "quota": {"gpu": 4},
                "idle": {"allow_keep": True},
            }
        },
        "cluster": {"gpu_pool": {"nvidia.com/gpu": 4}},
    }
)


def ago(**kw: float) -> datetime:
    return NOW - timedelta(**kw)


def report(groups=(), servers=(), deleted=()):
    policy = TABLE.resolve(groups)
    pool = [PoolState("nvidia.com/gpu", 3, 4)]
    return usage_report("alice", policy, list(servers), pool, NOW, deleted)


def test_report_counts_what_running_servers_hold_against_the_tier():
    got = report(
        ["gpu-beta"],
        [
            ServerFacts("", True, last_activity=ago(minutes=80), cpu=1, memory=2 * 10**9),
            ServerFacts("gpu", True, last_activity=ago(minutes=5), cpu=1, memory=10**9, gpu=2),
            ServerFacts("old", False, last_activity=ago(days=6, hours=2), kept=True),
            ServerFacts("nb", False, last_activity=ago(days=1)),
        ],
    )
    assert got["summary"] == (
        "3 of 5 named servers; 2 of 4 CPUs in use; 3G of 8G memory; 2 of 4 GPUs; GPU pool 3 of 4"
    )
    assert got["tier"] == "gpu-beta" and got["groups"] == ["gpu-beta"]
    servers = {s["name"]: s for s in got["servers"]}
    assert servers[""]["stop"]["text"] == "Stops after 2 h idle (in 40 min)"
    assert servers[""]["stop"]["group"] == "defaults" and servers[""]["delete"] is None
    assert servers["gpu"]["granted"] == {"cpu": 1, "memory": 10**9, "gpu": 2}
    assert servers["old"]["kept"] and servers["old"]["delete"] is None
    assert servers["nb"]["delete"]["text"] == "Deleted after 7 days idle: on 7 Dec"
    assert servers["nb"]["delete"]["rule"] == "idle.delete_after"
    assert servers["nb"]["granted"] is None and servers["nb"]["state"] == "stopped"
    assert got["idle"]["allow_keep"] == {"value": True, "group": "gpu-beta"}


def test_report_says_which_rule_acted():
    stop = LifecycleNote("stop", "idle.stop_after", "defaults", 7200, ago(minutes=1), "nb")
    gone = LifecycleNote("delete", "idle.delete_after", "defaults", 7 * 86400, ago(hours=1), "x")
    got = report(servers=[ServerFacts("nb", False, last_action=stop)], deleted=[gone])
    assert got["servers"][0]["last_action"]["text"] == (
        "Server 'nb' was stopped after 2 h idle, the rule for your group defaults (idle.stop_after)"
    )
    assert got["deleted"][0]["text"].startswith("Server 'x' was deleted after 7 days idle")


@pytest.mark.parametrize(
    ("case", "facts", "due"),
    [
        ("fresh", ServerFacts("nb", False, last_activity=ago(days=1)), False),
        ("in_window", ServerFacts("nb", False, last_activity=ago(days=6, hours=1)), True),
        ("kept", ServerFacts("nb", False, last_activity=ago(days=6, hours=1), kept=True), False),
        ("default_server", ServerFacts("", False, last_activity=ago(days=6, hours=1)), False),
        ("starting", ServerFacts("nb", False, "spawn", last_activity=ago(days=6, hours=1)), False),
    ],
    ids=lambda v: v if isinstance(v, str) else "",
)
def test_notice_window(case, facts, due):
    assert in_notice_window(TABLE.resolve([]), facts, NOW) is due


def model(name, server, activity, stopped=True, pending=None):
    return {
        "name": name,
        "groups": [],
        "servers": {server: {"last_activity": activity, "stopped": stopped, "pending": pending}},
    }


@pytest.mark.parametrize(
    ("case", "user", "servers"),
    [
        ("due", model("a", "nb", "2026-11-25T11:00:00Z"), ["nb"]),
        ("not_yet", model("a", "nb", "2026-11-28T12:00:00Z"), []),
        ("deleted_now_instead", model("a", "nb", "2026-11-20T12:00:00Z"), []),
        ("default_server", model("a", "", "2026-11-25T11:00:00Z"), []),
        ("pending", model("a", "nb", "2026-11-25T11:00:00Z", pending="spawn"), []),
    ],
    ids=lambda v: v if isinstance(v, str) else "",
)
def test_plan_notices(case, user, servers):
    notices = plan_notices(TABLE, user, NOW)
    assert [n.server for n in notices] == servers
    for notice in notices:
        assert notice.fields()["delete_at"] == "2026-12-02T11:00:00Z"
        assert notice.group == "defaults" and notice.rule == "idle.delete_after"


BAD = "lifecycle.request"


@pytest.mark.parametrize(
    ("case", "body", "rule"),
    [
        ("ok", {"last_activity": "2026-11-25T11:00:00Z", "delete_at": "2026-12-02T11:00Z"}, None),
        ("not_a_mapping", [1], BAD),
        ("extra_key", {"last_activity": None, "delete_at": "2026-12-02", "x": 1}, BAD),
        ("bad_time", {"last_activity": "yesterday", "delete_at": "2026-12-02"}, BAD),
        ("no_delete_at", {"last_activity": None, "delete_at": None}, BAD),
    ],
    ids=lambda v: v if isinstance(v, str) else "",
)
def test_read_notice(case, body, rule):
    got = read_notice(body)
    assert (getattr(got, "rule", None)) == rule


SEEN = datetime(2026, 11, 25, 11, tzinfo=UTC)


@pytest.mark.parametrize(
    ("case", "now", "kept", "rule"),
    [
        ("as_listed", ServerNow(None, False, SEEN), False, "idle.delete_notice"),
        ("kept", ServerNow(None, False, SEEN), True, "lifecycle.kept"),
        ("started_since", ServerNow(None, True, SEEN + timedelta(hours=1)), False,
         "lifecycle.activity"),
        ("starting", ServerNow("spawn", False, SEEN), False, "lifecycle.busy"),
    ],
    ids=lambda v: v if isinstance(v, str) else "",
)  # fmt: skip
def test_notice_allowed(case, now, kept, rule):
    assert notice_allowed(SEEN, "server 'nb' of a", now, kept).rule == rule


@pytest.mark.parametrize(
    ("case", "action", "kept", "allowed"),
    [("delete_kept", "delete", True, False), ("stop_kept", "stop", True, True),
     ("delete_unkept", "delete", False, True)],
    ids=lambda v: v if isinstance(v, str) else "",
)  # fmt: skip
def test_kept_servers_are_never_deleted(case, action, kept, allowed):
    request = LifecycleRequest(action, SEEN, running=False)
    assert not_kept(request, "nb", kept).allowed is allowed


@pytest.mark.parametrize(
    ("url", "api"),
    [
        ("https://hub.example.org", "https://hub.example.org/hub/api"),
        ("https://hub.example.org/hub/", "https://hub.example.org/hub/api"),
        ("http://127.0.0.1:8081/hub/api", "http://127.0.0.1:8081/hub/api"),
    ],
)
def test_cli_url(url, api):
    assert api_url(url) == api


def test_cli_text_and_json_name_gpu_holders():
    got = report(
        ["gpu-beta"],
        [ServerFacts("gpu", True, last_activity=ago(minutes=5), cpu=1, memory=10**9, gpu=2)],
    )
    text = usage_text([got])
    assert text.splitlines()[0].startswith("alice (gpu-beta): 1 of 5 named servers")
    assert "GPU pool nvidia.com/gpu: 3 of 4 in use" in text
    assert "  alice/gpu: 2 nvidia.com/gpu" in text
    assert usage_json([got])["gpu_holders"] == [
        {"user": "alice", "server": "gpu", "gpu": 2, "resource": "nvidia.com/gpu"}
    ]


def test_spawn_form_states_the_caps():
    from hubplugins.spawner.form import render_caps

    html = render_caps(TABLE.resolve(["gpu-beta"]))
    assert html == (
        '<p class="hubplugins-caps form-text">Your limits (gpu-beta): each server up to 1 CPUs, '
        "2G memory, 2 GPUs; all your running servers together 4 CPUs, 8G memory, 4 GPUs; "
        "5 named servers; 6 running at once.</p>"
    )


@pytest.mark.parametrize(
    ("case", "idle", "error"),
    [
        ("notice_shorter", {"delete_after": "7d", "delete_notice": "1d"}, None),
        ("notice_too_long", {"delete_after": "7d", "delete_notice": "7d"}, "must be shorter"),
        ("notice_without_retention", {"delete_notice": "1d"}, None),
        ("keep_not_a_bool", {"allow_keep": "yes"}, "true or false"),
    ],
    ids=lambda v: v if isinstance(v, str) else "",
)
def test_idle_notice_and_keep_keys(case, idle, error):
    from hubplugins.policy.errors import PolicyConfigError

    try:
        PolicyTable.from_dict({"defaults": {"idle": idle}})
    except PolicyConfigError as exc:
        assert error is not None and error in str(exc), str(exc)
    else:
        assert error is None
