"""A send window in each recipient's local time (``bulks.send_window``): parsing, a window past
midnight, a number with several zones, one with none, and the plan the estimate counts."""

from __future__ import annotations

from datetime import UTC, datetime, time, timedelta
from zoneinfo import ZoneInfo

import pytest

from mindo_core.bulks.send_window import (
    SendWindow,
    next_opening,
    open_until,
    openings,
    windowed_seconds,
)
from mindo_core.domain.errors import InvalidRequest
from mindo_core.engine.decisions import expected_turns
from mindo_core.phones.timezones import ZoneLookup

# 03:00 UTC on a December Monday: 00:00 in Buenos Aires, 03:00 in the Canaries, 04:00 in Madrid.
NIGHT = datetime(2026, 12, 7, 3, 0, tzinfo=UTC)
BUENOS_AIRES = "+5491150000000"
SPAIN = "+34611000000"
NO_ZONE = "+15551234567"  # a fictional NANP number: phonenumbers knows no zone for it
DAY = SendWindow.parse("09:00", "20:00")


def test_the_window_reads_and_writes_itself() -> None:
    window = SendWindow.parse(" 22:00", "06:30 ", fallback_zone="America/Bogota")

    assert (window.start, window.end) == (time(22, 0), time(6, 30))
    assert SendWindow.from_text(window.text()) == window
    assert window.is_open_at(time(23, 59))
    assert window.is_open_at(time(6, 29))
    assert not window.is_open_at(time(6, 30))
    assert not window.is_open_at(time(12, 0))


@pytest.mark.parametrize(
    ("start", "end", "problem"),
    [
        ("9:00", "20:00", "start must be HH:MM"),
        ("09:00", "24:00", "end must be HH:MM"),
        ("09:00", "", "end must be HH:MM"),
        ("10:00", "10:00", "would be empty"),
    ],
)
def test_a_bad_window_is_refused_on_its_field(start: str, end: str, problem: str) -> None:
    with pytest.raises(InvalidRequest) as refused:
        SendWindow.parse(start, end)

    assert problem in str(refused.value.field_errors["send_window"])


def test_a_number_waits_for_its_own_morning() -> None:
    zones = ZoneLookup().zones_of(BUENOS_AIRES)

    opening = next_opening(DAY, zones, NIGHT)

    assert opening == datetime(2026, 12, 7, 12, 0, tzinfo=UTC)  # 09:00 in Buenos Aires
    assert next_opening(DAY, zones, opening) is None
    assert open_until(DAY, zones, opening) == datetime(2026, 12, 7, 23, 0, tzinfo=UTC)


def test_a_number_with_two_zones_waits_until_it_is_open_in_both() -> None:
    zones = ZoneLookup().zones_of(SPAIN)

    opening = next_opening(DAY, zones, NIGHT)

    assert {zone.key for zone in zones} == {"Atlantic/Canary", "Europe/Madrid"}
    # 09:00 in the Canaries (10:00 in Madrid) until 20:00 in Madrid (19:00 in the Canaries).
    assert opening == datetime(2026, 12, 7, 9, 0, tzinfo=UTC)
    assert open_until(DAY, zones, opening) == datetime(2026, 12, 7, 19, 0, tzinfo=UTC)


def test_a_number_without_a_zone_uses_the_organisations() -> None:
    window = SendWindow.parse("09:00", "20:00", fallback_zone="America/Mexico_City")

    assert ZoneLookup().zones_of(NO_ZONE) == ()
    assert next_opening(window, (), NIGHT) == datetime(2026, 12, 7, 15, 0, tzinfo=UTC)


def test_zones_whose_windows_never_meet_fall_back_on_the_first() -> None:
    far_apart = (ZoneInfo("Pacific/Kiritimati"), ZoneInfo("Pacific/Pago_Pago"))  # +14 and -11
    short = SendWindow.parse("09:00", "10:00")

    opening = next_opening(short, far_apart, NIGHT)

    assert opening is not None
    assert opening.astimezone(far_apart[0]).time() == time(9, 0)


def test_openings_are_given_per_number_in_order() -> None:
    found = openings(DAY, [BUENOS_AIRES, SPAIN, BUENOS_AIRES], NIGHT, ZoneLookup())

    assert found == [
        datetime(2026, 12, 7, 12, 0, tzinfo=UTC),
        datetime(2026, 12, 7, 9, 0, tzinfo=UTC),
        datetime(2026, 12, 7, 12, 0, tzinfo=UTC),
    ]


def test_the_plan_waits_for_each_window_and_spaces_the_sends() -> None:
    lookup = ZoneLookup()
    zone_sets = [lookup.zones_of(SPAIN)] * 10 + [lookup.zones_of(BUENOS_AIRES)] * 10

    seconds = windowed_seconds(zone_sets, DAY, rate=1.0, start=NIGHT)

    # Spain opens at 09:00 UTC, then Buenos Aires at 12:00 UTC; the last of its ten is 9 s later.
    assert seconds == pytest.approx(timedelta(hours=9, seconds=9).total_seconds())


def test_a_window_that_closes_before_all_are_sent_carries_them_over_to_the_next_day() -> None:
    lookup = ZoneLookup()
    short = SendWindow.parse("09:00", "09:01")
    zone_sets = [lookup.zones_of(BUENOS_AIRES)] * 3

    seconds = windowed_seconds(zone_sets, short, rate=1 / 40, start=NIGHT)

    # 12:00:00 and 12:00:40 today; the third would be 12:01:20, after the close: tomorrow 12:00.
    assert seconds == pytest.approx(timedelta(hours=9 + 24).total_seconds())


def test_claimed_recipients_are_expected_one_interval_apart_behind_the_queue() -> None:
    turns = expected_turns(NIGHT, ahead=2, count=2, rate=80.0, cap=0.5)

    assert turns == [NIGHT + timedelta(seconds=6), NIGHT + timedelta(seconds=8)]
