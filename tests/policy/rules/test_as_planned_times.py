"""A time whose UTC value falls outside what ``datetime`` holds is a malformed body (400).

``datetime.fromisoformat`` reads ``0001-01-01T00:00:00+01:00`` and
``9999-12-31T23:59:59-01:00``; moving them to UTC leaves the range of
``datetime`` and raises ``OverflowError``, which the lifecycle endpoints would
answer with a 500 instead of the 400 of any other malformed time.
"""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from hubplugins.policy.decision import Decision
from hubplugins.policy.rules.as_planned import read_request
from hubplugins.policy.rules.notices import read_notice

OUT_OF_RANGE = ["0001-01-01T00:00:00+01:00", "9999-12-31T23:59:59-01:00"]


@pytest.mark.parametrize("when", OUT_OF_RANGE)
def test_a_lifecycle_request_with_an_out_of_range_time_is_a_400(when: str) -> None:
    answer = read_request({"action": "delete", "last_activity": when, "running": False}, "nb")
    assert isinstance(answer, Decision) and not answer.allowed
    assert answer.status == 400 and answer.rule == "lifecycle.request"


@pytest.mark.parametrize("field", ["last_activity", "delete_at"])
@pytest.mark.parametrize("when", OUT_OF_RANGE)
def test_a_notice_with_an_out_of_range_time_is_a_400(field: str, when: str) -> None:
    body = {"last_activity": None, "delete_at": "2025-02-07T12:00:00Z", field: when}
    answer = read_notice(body)
    assert isinstance(answer, Decision) and not answer.allowed
    assert answer.status == 400 and answer.rule == "lifecycle.request"


# every offset a time may carry, at both ends of the calendar, and any text at all
EDGE_TIMES = st.builds(
    lambda day, hours, minutes, sign: f"{day}T00:00:00{sign}{hours:02d}:{minutes:02d}",
    st.sampled_from(["0001-01-01", "0001-01-02", "9999-12-30", "9999-12-31"]),
    st.integers(0, 23),
    st.integers(0, 59),
    st.sampled_from(["+", "-"]),
)


@settings(max_examples=300, deadline=None)
@given(when=st.one_of(EDGE_TIMES, st.text(max_size=40)))
def test_any_time_is_read_or_refused_with_a_400(when: str) -> None:
    for answer in (
        read_request({"action": "delete", "last_activity": when, "running": False}, "nb"),
        read_notice({"last_activity": when, "delete_at": "2025-02-07T12:00:00Z"}),
        read_notice({"last_activity": None, "delete_at": when}),
    ):
        if isinstance(answer, Decision):
            assert not answer.allowed and answer.status == 400
            assert answer.rule == "lifecycle.request"
