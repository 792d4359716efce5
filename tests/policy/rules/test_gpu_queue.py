"""The fair GPU line: order of asking, one place per server, max_wait, the queued answer."""

from __future__ import annotations

import pytest

from hubplugins.policy.rules.gpu_queue import GpuLine, ordinal
from hubplugins.policy.table import PolicyTable

GPU = "nvidia.com/gpu"
MIG = "nvidia.com/mig-1g.10gb"


def line_of(*asks: tuple[str, str, int]) -> GpuLine:
    line = GpuLine()
    for t, (server_id, kind, n) in enumerate(asks):
        line.join(server_id, {kind: n}, {"gpu": n}, now=float(t), max_wait=60.0)
    return line


@pytest.mark.parametrize(
    ("n", "text"), [(1, "1st"), (2, "2nd"), (3, "3rd"), (4, "4th"), (11, "11th"), (22, "22nd")]
)
def test_ordinal(n, text):
    assert ordinal(n) == text


# case -> (asks, free GPUs per kind, servers ready, in order)
READY = {
    "none_free": ([("a/", GPU, 1), ("b/", GPU, 1)], {GPU: 0}, []),
    "first_come_first_served": ([("a/", GPU, 1), ("b/", GPU, 1)], {GPU: 1}, ["a/"]),
    "both_fit": ([("a/", GPU, 1), ("b/", GPU, 1)], {GPU: 2}, ["a/", "b/"]),
    "no_overtaking": ([("a/", GPU, 2), ("b/", GPU, 1)], {GPU: 1}, []),
    "kinds_apart": ([("a/", GPU, 1), ("b/", MIG, 1)], {GPU: 0, MIG: 1}, ["b/"]),
    "uncapped_kind": ([("a/", MIG, 3)], {}, ["a/"]),
}


@pytest.mark.parametrize(("asks", "free", "ready"), READY.values(), ids=READY.keys())
def test_ready_in_order_of_asking(asks, free, ready):
    line = line_of(*asks)
    assert [p.server_id for p in line.ready(free.get)] == ready


# case -> (asks, which are being started, who asks now, for which kinds, waiting ahead)
AHEAD = {
    "newcomer_behind_everyone": ([("a/", GPU, 1), ("b/", GPU, 2)], [], "c/", [GPU], ["a/", "b/"]),
    "empty_line": ([], [], "c/", [GPU], []),
    "other_kind_only": ([("a/", MIG, 1)], [], "c/", [GPU], []),
    "place_behind_the_first": ([("a/", GPU, 1), ("b/", GPU, 1)], [], "b/", [GPU], ["a/"]),
    "first_in_line": ([("a/", GPU, 1), ("b/", GPU, 1)], [], "a/", [GPU], []),
    "being_started_waits_for_nobody": ([("a/", GPU, 1), ("b/", GPU, 1)], ["b/"], "b/", [GPU], []),
    "being_started_is_not_waiting": ([("a/", GPU, 1), ("b/", GPU, 1)], ["a/"], "c/", [GPU], ["b/"]),
    "no_gpu_asked": ([("a/", GPU, 1)], [], "c/", [], []),
}


@pytest.mark.parametrize(
    ("asks", "serving", "asker", "kinds", "ahead"), AHEAD.values(), ids=AHEAD.keys()
)
def test_a_freed_gpu_is_theirs_who_wait(asks, serving, asker, kinds, ahead):
    line = line_of(*asks)
    for server_id in serving:
        line.places[server_id].serving = True
    assert [p.server_id for p in line.waiting_ahead(asker, kinds)] == ahead


def test_asking_again_keeps_the_place():
    line = line_of(("a/x", GPU, 1), ("b/", GPU, 1))
    line.join("a/x", {GPU: 1}, {"gpu": 1, "cpu": 1}, now=9.0, max_wait=60.0)
    assert line.position("a/x") == 1 and line.position("b/") == 2
    assert line.places["a/x"].options == {"gpu": 1, "cpu": 1}


def test_a_place_being_started_is_skipped_not_blocking():
    line = line_of(("a/", GPU, 1), ("b/", GPU, 1))
    line.places["a/"].serving = True
    assert [p.server_id for p in line.ready({GPU: 1}.get)] == ["b/"]


def test_max_wait_ends_the_place_with_a_message():
    line = line_of(("a/", GPU, 1), ("b/", GPU, 1))
    gone = line.expire(now=60.5)
    assert [p.server_id for p in gone] == ["a/"]
    assert line.position("b/") == 1
    assert line.ended["a/"] == (
        "Gave up waiting for a GPU after 60 seconds in line (resources.gpu.queue.max_wait): "
        "no nvidia.com/gpu GPU freed in time. Start the server again to take a new place."
    )
    # asking again takes a new place and clears the message
    line.join("a/", {GPU: 1}, {}, now=61.0, max_wait=60.0)
    assert line.position("a/") == 2 and "a/" not in line.ended


def test_queued_answer_names_place_and_pool():
    line = line_of(("a/", GPU, 1), ("bob/nb", GPU, 1))
    decision = line.queued("bob/nb", 4, 4)
    assert not decision.allowed
    assert (decision.rule, decision.status) == ("resources.gpu.queue", 409)
    assert decision.message == (
        "queued: 2nd in line for 1 GPU; 4 of 4 in use (nvidia.com/gpu). The server starts by "
        "itself when a GPU frees; the place is kept for at most 60 seconds. Leave the line with "
        "DELETE /hub/api/hubplugins/gpu-queue/bob/nb."
    )
    assert decision.details["position"] == 2


# case -> (groups' queue settings, max_wait resolved for a user in all of them)
MERGE = {
    "no_queue": ({}, 0.0),
    "one_group": ({"g1": "30m"}, 1800.0),
    "longest_wins": ({"g1": "30m", "g2": "2h"}, 7200.0),
}


@pytest.mark.parametrize(("waits", "resolved"), MERGE.values(), ids=MERGE.keys())
def test_queue_max_wait_merges_by_the_longest(waits, resolved):
    groups = {g: {"resources": {"gpu": {"queue": {"max_wait": w}}}} for g, w in waits.items()}
    table = PolicyTable.from_dict({"groups": groups or {"g0": {}}})
    assert table.resolve([*waits, "g0"]).resources.gpu.queue_max_wait == resolved


# case -> (the user's places already, the new ask, quota per kind, most places, room?)
ROOM = {
    "first_place": ([], ("u/a", GPU, 1), {GPU: 1}, 6, True),
    "quota_spent_in_line": ([("u/b", GPU, 1)], ("u/a", GPU, 1), {GPU: 1}, 6, False),
    "same_server_again": ([("u/a", GPU, 1)], ("u/a", GPU, 1), {GPU: 1}, 6, True),
    "other_kind_apart": ([("u/b", MIG, 1)], ("u/a", GPU, 1), {GPU: 1, MIG: 1}, 6, True),
    "no_quota": ([("u/b", GPU, 1)], ("u/a", GPU, 1), {GPU: None}, None, True),
    "too_many_places": ([("u/b", GPU, 1)], ("u/a", GPU, 1), {GPU: None}, 1, False),
    "others_do_not_count": ([("v/b", GPU, 1)], ("u/a", GPU, 1), {GPU: 1}, 1, True),
}


@pytest.mark.parametrize(("before", "ask", "quota", "most", "room"), ROOM.values(), ids=ROOM.keys())
def test_one_user_cannot_fill_the_line(before, ask, quota, most, room):
    line = line_of(*before)
    server_id, kind, n = ask
    assert line.room_for(server_id, {kind: n}, lambda k: quota.get(k, 0), most) is room


def test_a_place_put_back_keeps_its_order_of_asking():
    line = line_of(("a/", GPU, 1), ("b/", GPU, 1), ("c/", GPU, 1))
    place = line.places.pop("b/")
    place.serving = True
    line.restore(place)
    assert [line.position(s) for s in ("a/", "b/", "c/")] == [1, 2, 3]
    assert not line.places["b/"].serving


# case -> (held back: server id -> (tries, retry_at), now, free GPUs, servers ready)
HELD = {
    "backoff-blocks-its-kind": ({"a/": (1, 10.0)}, 5.0, {GPU: 2, MIG: 0}, []),
    "backoff-passed-alone": ({"a/": (1, 10.0)}, 10.0, {GPU: 2, MIG: 0}, ["a/"]),
    "one-retry-across-the-line": (
        {"a/": (1, 1.0), "m/": (2, 1.0)},
        10.0,
        {GPU: 2, MIG: 2},
        ["a/"],
    ),
    "others-kinds-not-held": ({"a/": (1, 10.0)}, 5.0, {GPU: 2, MIG: 1}, ["m/"]),
}


@pytest.mark.parametrize(("held", "now", "free", "ready"), HELD.values(), ids=HELD.keys())
def test_a_place_the_quota_refused_is_retried_alone_after_its_backoff(held, now, free, ready):
    line = line_of(("a/", GPU, 1), ("b/", GPU, 1), ("m/", MIG, 1))
    for server_id, (tries, retry_at) in held.items():
        line.places[server_id].tries, line.places[server_id].retry_at = tries, retry_at
    assert [p.server_id for p in line.ready(free.get, now)] == ready


def test_the_backoff_doubles_to_a_bound_and_a_free_here_ends_it():
    line = line_of(("a/", GPU, 1))
    waits = []
    for _ in range(6):
        line.hold_back("a/", now=100.0)
        waits.append(line.places["a/"].retry_at - 100.0)
    assert waits == [2.0, 4.0, 8.0, 16.0, 16.0, 16.0]
    line.retry_now()
    assert [p.server_id for p in line.ready({GPU: 1}.get, 100.0)] == ["a/"]


def test_only_the_latest_messages_of_ended_places_are_kept_per_user():
    line = line_of(*((f"a/n{i}", GPU, 1) for i in range(7)), ("b/", GPU, 1))
    line.expire(now=1000.0)
    assert [s for s in line.ended if s.startswith("a/")] == [f"a/n{i}" for i in range(2, 7)]
    assert "b/" in line.ended
