"""``ShortLived``: what a use case reads on every request, kept for at most a second.

The hot path of a single send read the same rows on every request: the API key and its
organisation, the sender (number, account, encrypted token), the template, the portfolio's
tier. Each is kept here for ``ttl`` (1 s) after it was read, then read again, so a change made
anywhere (a key revoked by the CLI in another process, a template paused by a webhook, a tier
changed) is seen within that second. Time is the clock's wall time (a ``FixedClock`` moves it
in tests); an entry read "in the future" (the clock went back) counts as stale.

``get_or_read`` reads a missing entry once however many ask for it meanwhile: when an entry
expires under load, the hundreds of requests in flight would otherwise each read the same row
(and, on SQLite's one connection, queue behind each other to do so). A read that fails is not
kept; everyone who waited for it gets its error.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from datetime import datetime, timedelta
from typing import Generic, TypeVar

from mindo_core.domain.clock import Clock

Key = TypeVar("Key")
Value = TypeVar("Value")

DEFAULT_TTL = timedelta(seconds=1)
DEFAULT_MAX_ENTRIES = 10_000


class ShortLived(Generic[Key, Value]):
    def __init__(
        self,
        clock: Clock,
        *,
        ttl: timedelta = DEFAULT_TTL,
        max_entries: int = DEFAULT_MAX_ENTRIES,
    ) -> None:
        self._clock = clock
        self._ttl = ttl
        self._max_entries = max_entries
        self._entries: dict[Key, tuple[datetime, Value]] = {}
        self._reading: dict[Key, asyncio.Future[Value]] = {}

    def get(self, key: Key) -> Value | None:
        found = self._entries.get(key)
        if found is None:
            return None
        read_at, value = found
        age = self._clock.now() - read_at
        if age < timedelta(0) or age >= self._ttl:
            del self._entries[key]
            return None
        return value

    async def get_or_read(self, key: Key, read: Callable[[], Awaitable[Value]]) -> Value:
        """The entry, or ``read()`` kept as it; one read at a time per key."""
        value = self.get(key)
        if value is not None:
            return value
        reading = self._reading.get(key)
        if reading is None:
            reading = asyncio.ensure_future(self._read_and_put(key, read))
            self._reading[key] = reading
            reading.add_done_callback(lambda done: self._done_reading(key, done))
        # Shielded: a caller that goes away leaves the read to those still waiting for it.
        return await asyncio.shield(reading)

    async def _read_and_put(self, key: Key, read: Callable[[], Awaitable[Value]]) -> Value:
        value = await read()
        self.put(key, value)
        return value

    def _done_reading(self, key: Key, done: asyncio.Future[Value]) -> None:
        if self._reading.get(key) is done:
            del self._reading[key]
        if not done.cancelled():
            done.exception()  # retrieved: when every caller went away, nothing is logged

    def put(self, key: Key, value: Value) -> None:
        if len(self._entries) >= self._max_entries:
            self._entries.clear()  # a burst of distinct keys: start over rather than grow
        self._entries[key] = (self._clock.now(), value)

    def forget(self, key: Key) -> None:
        self._entries.pop(key, None)
