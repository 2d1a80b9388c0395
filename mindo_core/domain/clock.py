"""Time is passed in, never read globally: services and the engine take a ``Clock``.

``now`` is the wall time that is stored and shown. ``monotonic`` measures spans (the engine's
pacing): seconds that only go forward, on the same clock as the event loop's timers, since
the engine sleeps on those between the slots it computes from it.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Protocol


class Clock(Protocol):
    def now(self) -> datetime:
        """The current time, timezone-aware in UTC."""
        ...

    def monotonic(self) -> float:
        """Seconds from an arbitrary start, never going back; the event loop's time."""
        ...


class SystemClock:
    def now(self) -> datetime:
        return datetime.now(UTC)

    def monotonic(self) -> float:
        return time.monotonic()  # what asyncio's event loop reads too


class FixedClock:
    """A clock for tests: its wall time stands still until told to move. Its monotonic time is
    the system's, so that an engine run under it still paces (and wakes from) real sleeps."""

    def __init__(self, start: datetime) -> None:
        self._now = start

    def now(self) -> datetime:
        return self._now

    def monotonic(self) -> float:
        return time.monotonic()

    def advance(self, seconds: float) -> None:
        self._now = self._now + timedelta(seconds=seconds)


@dataclass(frozen=True)
class Deadline:
    """When the caller stops waiting for an answer, on a clock's monotonic time."""

    at: float

    @classmethod
    def after(cls, clock: Clock, seconds: float) -> Deadline:
        return cls(clock.monotonic() + seconds)

    def remaining(self, clock: Clock) -> float:
        """Seconds left; zero or less once it has passed."""
        return self.at - clock.monotonic()
