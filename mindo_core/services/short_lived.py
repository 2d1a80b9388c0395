"""``ShortLived``: what a use case reads on every request, kept for at most a second.

The hot path of a single send read the same rows on every request: the API key and its
organisation, the sender (number, account, encrypted token), the template, the portfolio's
tier. Each is kept here for ``ttl`` (1 s) after it was read, then read again, so a change made
anywhere (a key revoked by the CLI in another process, a template paused by a webhook, a tier
changed) is seen within that second. Time is the clock's wall time (a ``FixedClock`` moves it
in tests); an entry read "in the future" (the clock went back) counts as stale.
"""

from __future__ import annotations

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

    def put(self, key: Key, value: Value) -> None:
        if len(self._entries) >= self._max_entries:
            self._entries.clear()  # a burst of distinct keys: start over rather than grow
        self._entries[key] = (self._clock.now(), value)

    def forget(self, key: Key) -> None:
        self._entries.pop(key, None)
