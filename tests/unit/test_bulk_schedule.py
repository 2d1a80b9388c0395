"""``send_at`` as clients write it: ISO 8601 with an offset, from now to 30 days ahead."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from mindo_core.bulks.schedule import MAX_AHEAD, parse_send_at
from mindo_core.domain.errors import InvalidRequest

NOW = datetime(2026, 11, 24, 12, 0, tzinfo=UTC)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("2026-11-24T12:00:00Z", NOW),
        ("2026-11-24T09:00:00-03:00", NOW),
        ("2026-11-24T13:30:00+01:30", NOW + timedelta(hours=0)),
        ("2026-12-24T12:00:00+00:00", NOW + MAX_AHEAD),
        (" 2026-11-25T12:00:00.250Z ", NOW + timedelta(days=1, milliseconds=250)),
    ],
)
def test_a_time_with_an_offset_is_read_as_utc(text: str, expected: datetime) -> None:
    assert parse_send_at(text, now=NOW) == expected


def test_a_second_of_clock_skew_is_forgiven_and_starts_now() -> None:
    assert parse_send_at("2026-11-24T11:59:59.500Z", now=NOW) == NOW


@pytest.mark.parametrize(
    ("text", "problem"),
    [
        ("2026-11-24T11:59:58Z", "2026-11-24T11:59:58Z is in the past (now: 2026-11-24T12:00:00Z)"),
        ("2026-12-24T12:00:01Z", "2026-12-24T12:00:01Z is more than 30 days ahead"),
        ("2026-11-25T12:00:00", "'2026-11-25T12:00:00' has no UTC offset (add Z or -03:00)"),
        ("mañana", "'mañana' is not an ISO 8601 date and time, such as 2025-11-17T09:00:00-03:00"),
    ],
)
def test_anything_else_is_refused_on_send_at_saying_why(text: str, problem: str) -> None:
    with pytest.raises(InvalidRequest) as refused:
        parse_send_at(text, now=NOW)

    assert refused.value.field_errors == {"send_at": [problem]}


def test_a_long_text_is_not_echoed_whole() -> None:
    with pytest.raises(InvalidRequest) as refused:
        parse_send_at("x" * 10_000, now=NOW)

    assert len(refused.value.field_errors["send_at"][0]) < 200
