"""Durations as operators type them."""

from __future__ import annotations

import re
from datetime import timedelta

import pytest

from mindo_cli.durations import DurationError, format_minutes, parse_duration


@pytest.mark.parametrize(
    ("text", "duration"),
    [
        ("90m", timedelta(minutes=90)),
        ("12h", timedelta(hours=12)),
        ("30d", timedelta(days=30)),
        ("1w", timedelta(weeks=1)),
        (" 2W ", timedelta(weeks=2)),
        ("36525d", timedelta(days=36_525)),
    ],
)
def test_a_number_and_a_unit_is_a_duration(text: str, duration: timedelta) -> None:
    assert parse_duration(text) == duration


@pytest.mark.parametrize(
    ("text", "problem"),
    [
        ("30", "use a whole number and a unit, m (minutes), h (hours), d (days) or w (weeks)"),
        ("d", "is not a duration"),
        ("1.5d", "is not a duration"),
        ("-1d", "is not a duration"),
        ("30s", "is not a duration"),
        ("1d2h", "is not a duration"),
        ("", "is not a duration"),
        ("0m", "it must be longer than zero"),
        ("36526d", "is too long: at most 36525 days"),
        ("9" * 30 + "w", "is too long"),
    ],
)
def test_anything_else_is_refused_with_the_accepted_form(text: str, problem: str) -> None:
    with pytest.raises(DurationError, match=re.escape(problem)):
        parse_duration(text)


@pytest.mark.parametrize(
    ("minutes", "shown"),
    [
        (0.4, "0.4 min"),
        (59.94, "59.9 min"),
        (60.0, "1 h"),
        (90.2, "1 h 30 min"),
        (1433.6, "23 h 54 min"),
        (3000.0, "50 h"),
    ],
)
def test_an_estimate_reads_in_hours_and_minutes_once_it_is_an_hour(
    minutes: float, shown: str
) -> None:
    assert format_minutes(minutes) == shown
