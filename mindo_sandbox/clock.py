"""Time for the sandbox: injectable, so tests drive the rate limits without sleeping."""

from __future__ import annotations

import asyncio
import time
from typing import Protocol


class Clock(Protocol):
    def monotonic(self) -> float:
        """Seconds on a clock that never goes back; only differences mean anything."""
        ...

    def time(self) -> float:
        """Unix seconds, for the timestamps of recorded requests."""
        ...

    async def sleep(self, seconds: float) -> None:
        """Wait (added latency, held requests)."""
        ...


class SystemClock:
    def monotonic(self) -> float:
        return time.monotonic()

    def time(self) -> float:
        return time.time()

    async def sleep(self, seconds: float) -> None:
        await asyncio.sleep(seconds)


class FakeClock:
    """A clock for tests: it stands still until told to move, and a sleep moves it at once.

    Every sleep is remembered in ``sleeps`` so that tests can see injected latency without
    measuring real time. ``hold()`` stops time: sleeps wait until ``release()`` (a test sends a
    run of messages, then lets the webhook sender post their statuses all at once).
    """

    def __init__(self, *, start_monotonic: float = 1000.0, start_time: float = 1_750_000_000.0):
        self._monotonic = start_monotonic
        self._time = start_time
        self.sleeps: list[float] = []
        self._released: asyncio.Event | None = None

    def monotonic(self) -> float:
        return self._monotonic

    def time(self) -> float:
        return self._time

    def advance(self, seconds: float) -> None:
        self._monotonic += seconds
        self._time += seconds

    def hold(self) -> None:
        if self._released is None:
            self._released = asyncio.Event()

    def release(self) -> None:
        if self._released is not None:
            self._released.set()
            self._released = None

    async def sleep(self, seconds: float) -> None:
        self.sleeps.append(seconds)
        if self._released is not None:
            await self._released.wait()
        self.advance(seconds)
        # Yield like a real sleep would, so concurrent requests interleave as they do live.
        await asyncio.sleep(0)
