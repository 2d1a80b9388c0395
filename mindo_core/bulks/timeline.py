"""A bulk's sent, delivered, read and failed counts over time, for a chart.

The store hands over when each recipient was sent, delivered, read or failed
(``RecipientTimes``); ``timeline_of`` sums them into at most ``MAX_POINTS`` cumulative points
between the first and the last of those moments, so a chart of a 100,000-recipient bulk is
60 points, not 100,000.
"""

from __future__ import annotations

from bisect import bisect_right
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Final

MAX_POINTS: Final = 60


@dataclass(frozen=True, kw_only=True)
class RecipientTimes:
    sent: tuple[datetime, ...] = ()
    delivered: tuple[datetime, ...] = ()
    read: tuple[datetime, ...] = ()
    failed: tuple[datetime, ...] = ()


@dataclass(frozen=True, kw_only=True)
class TimelinePoint:
    """How many recipients had been sent, delivered, read or failed by ``at``."""

    at: datetime
    sent: int
    delivered: int
    read: int
    failed: int


def timeline_of(times: RecipientTimes, points: int = MAX_POINTS) -> tuple[TimelinePoint, ...]:
    """Cumulative counts at ``points`` evenly spaced moments from the first event to the last
    (one point when they are all at one moment; none for a bulk nothing happened to yet)."""
    series = [sorted(s) for s in (times.sent, times.delivered, times.read, times.failed)]
    every = [moment for s in series for moment in s]
    if not every:
        return ()
    first, last = min(every), max(every)
    if first == last:
        moments = [first]
    else:
        step = (last - first) / (points - 1)
        moments = [first + step * i for i in range(points - 1)] + [last]
    return tuple(_point(at, series) for at in moments)


def _point(at: datetime, series: list[list[datetime]]) -> TimelinePoint:
    # A moment a hair past ``at`` absorbs the rounding of ``step`` (microseconds).
    upto = at + timedelta(microseconds=1)
    sent, delivered, read, failed = (bisect_right(s, upto) for s in series)
    return TimelinePoint(at=at, sent=sent, delivered=delivered, read=read, failed=failed)
