"""A bulk's send window: the hours of the day, in each recipient's own local time, when it may
be sent to (``send_window: {"start": "09:00", "end": "20:00"}`` on SendBulk).

A recipient's local time is its number's zones (``phones.timezones``). When a number maps to
several zones the window must be open in every one of them at once (a Spanish mobile may be in
Madrid or the Canaries: 09:00 in the Canaries, 10:00 in Madrid); if those windows never overlap
on the same day, the first zone alone decides. A number with no known zone uses the
organisation's time zone (its profile's, UTC by default), kept with the window
(``fallback_zone``).

``start`` is inclusive, ``end`` exclusive; a window whose end is before its start runs past
midnight (22:00–06:00). ``start == end`` is refused. Times are whole minutes, ``HH:MM``.

``next_opening`` is the one question the engine asks (the claim filter releases a recipient
claimed outside its window until then); ``open_until`` and ``plan_openings`` serve the estimate.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, time, timedelta
from typing import Final
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from mindo_core.domain.errors import InvalidRequest
from mindo_core.phones.timezones import ZoneLookup

__all__ = ["SendWindow", "next_opening", "open_until", "openings", "windowed_seconds"]

_FIELD: Final = "send_window"
_CLOCK = re.compile(r"^([01][0-9]|2[0-3]):([0-5][0-9])$")
# Days searched ahead for an opening common to every zone of a number.
_DAYS_AHEAD: Final = 3


@dataclass(frozen=True, kw_only=True)
class SendWindow:
    start: time
    end: time
    fallback_zone: str = "UTC"

    @classmethod
    def parse(cls, start: str, end: str, *, fallback_zone: str = "UTC") -> SendWindow:
        """From the client's ``HH:MM`` texts; ``InvalidRequest`` on ``send_window``."""
        window = cls(
            start=_clock(start, "start"), end=_clock(end, "end"), fallback_zone=fallback_zone
        )
        if window.start == window.end:
            raise InvalidRequest.for_field(
                _FIELD, f"start and end are both {start.strip()}: the window would be empty"
            )
        return window

    def text(self) -> str:
        """As stored: ``"09:00-20:00 America/Argentina/Buenos_Aires"``."""
        return f"{self.start:%H:%M}-{self.end:%H:%M} {self.fallback_zone}"

    @classmethod
    def from_text(cls, text: str) -> SendWindow:
        hours, _, zone = text.partition(" ")
        start, _, end = hours.partition("-")
        return cls(
            start=time.fromisoformat(start),
            end=time.fromisoformat(end),
            fallback_zone=zone or "UTC",
        )

    def is_open_at(self, local: time) -> bool:
        if self.start < self.end:
            return self.start <= local < self.end
        return local >= self.start or local < self.end

    def zones(self, zones: Sequence[ZoneInfo]) -> Sequence[ZoneInfo]:
        """``zones``, or the fallback zone when there are none."""
        if zones:
            return zones
        try:
            return (ZoneInfo(self.fallback_zone),)
        except (ZoneInfoNotFoundError, ValueError):
            return (ZoneInfo("UTC"),)


def _clock(text: object, part: str) -> time:
    match = _CLOCK.match(str(text).strip())
    if match is None:
        raise InvalidRequest.for_field(
            _FIELD, f"{part} must be HH:MM (00:00 to 23:59), not {str(text)[:16]!r}"
        )
    return time(int(match.group(1)), int(match.group(2)))


def _open_everywhere(window: SendWindow, zones: Sequence[ZoneInfo], at: datetime) -> bool:
    return all(window.is_open_at(at.astimezone(zone).time().replace(tzinfo=None)) for zone in zones)


def _boundaries(moment: time, zones: Sequence[ZoneInfo], at: datetime) -> list[datetime]:
    """Each zone's next few occurrences of the local ``moment``, at or after ``at`` (UTC)."""
    found: list[datetime] = []
    for zone in zones:
        local_day = at.astimezone(zone).date()
        for offset in range(-1, _DAYS_AHEAD + 1):
            day = local_day + timedelta(days=offset)
            instant = datetime.combine(day, moment, tzinfo=zone).astimezone(UTC)
            if instant >= at:
                found.append(instant)
    return sorted(found)


def next_opening(window: SendWindow, zones: Sequence[ZoneInfo], at: datetime) -> datetime | None:
    """None when the window is open now for a number in ``zones``; else the first instant it
    opens (UTC)."""
    zones = window.zones(zones)
    if _open_everywhere(window, zones, at):
        return None
    for candidate in _boundaries(window.start, zones, at):
        if _open_everywhere(window, zones, candidate):
            return candidate
    # The zones' windows never overlap: the first zone alone decides.
    return next_opening(window, zones[:1], at) if len(zones) > 1 else None


def openings(
    window: SendWindow, e164s: Sequence[str], at: datetime, lookup: ZoneLookup
) -> list[datetime | None]:
    """Each number's ``next_opening`` at ``at`` (None: open now), worked out once per zones."""
    by_zones: dict[tuple[ZoneInfo, ...], datetime | None] = {}
    found: list[datetime | None] = []
    for e164 in e164s:
        zones = lookup.zones_of(e164)
        if zones not in by_zones:
            by_zones[zones] = next_opening(window, zones, at)
        found.append(by_zones[zones])
    return found


def open_until(window: SendWindow, zones: Sequence[ZoneInfo], at: datetime) -> datetime:
    """When the window, open at ``at``, next closes in any of the number's zones (UTC)."""
    zones = window.zones(zones)
    closings = _boundaries(window.end, zones, at)
    return next((c for c in closings if c > at), at + timedelta(days=1))


def windowed_seconds(
    zone_sets: Sequence[Sequence[ZoneInfo]],
    window: SendWindow,
    *,
    rate: float,
    start: datetime,
) -> float:
    """Seconds from ``start`` until the last of these recipients (their zones) is sent at
    ``rate`` messages/s, each only while its window is open: the plan the estimate counts.

    Recipients go in the order their windows open (those open now first, in order); one whose
    window closed meanwhile waits for the next opening. Numbers with the same zones share one
    computation of their open interval."""
    spacing = timedelta(seconds=1.0 / rate)
    known: dict[tuple[str, ...], tuple[datetime, datetime]] = {}

    def interval(zones: Sequence[ZoneInfo], at: datetime) -> tuple[datetime, datetime]:
        """The open interval holding ``at``, or the next one."""
        key = tuple(zone.key for zone in zones)
        cached = known.get(key)
        if cached is not None and at < cached[1]:
            return cached
        opening = next_opening(window, zones, at) or at
        known[key] = (opening, open_until(window, zones, opening))
        return known[key]

    firsts = [interval(zones, start)[0] for zones in zone_sets]
    cursor = start - spacing
    for k in sorted(range(len(zone_sets)), key=lambda k: (firsts[k], k)):
        due = max(cursor + spacing, firsts[k])
        cursor = max(due, interval(zone_sets[k], due)[0])
    return max(0.0, (cursor - start).total_seconds())
