"""Meta's sending limits: throughput per phone number (130429), pair rate per recipient (131056)."""

from __future__ import annotations

from collections import deque

from mindo_sandbox.clock import Clock


class ThroughputLimiter:
    """At most ``mps`` sends per phone number in any sliding one-second window."""

    def __init__(self, clock: Clock) -> None:
        self._clock = clock
        self._windows: dict[str, deque[float]] = {}

    def try_acquire(self, phone_number_id: str, mps: int) -> bool:
        now = self._clock.monotonic()
        window = self._windows.get(phone_number_id)
        if window is None:
            window = self._windows[phone_number_id] = deque()
        horizon = now - 1.0
        while window and window[0] <= horizon:
            window.popleft()
        if len(window) >= mps:
            return False
        window.append(now)
        return True


class PairRateLimiter:
    """A token bucket per (phone number, recipient): ``capacity`` tokens, one back every
    ``refill_seconds`` (Meta: 45 and 6 s, a burst borrows from future quota)."""

    # Full buckets carry no information; past this size they are dropped to bound memory.
    _PRUNE_ABOVE = 200_000

    def __init__(self, clock: Clock, *, capacity: int, refill_seconds: float) -> None:
        self._clock = clock
        self._capacity = float(capacity)
        self._refill_seconds = refill_seconds
        # (tokens, monotonic time of the last update)
        self._buckets: dict[tuple[str, str], tuple[float, float]] = {}

    def try_acquire(self, phone_number_id: str, wa_id: str) -> bool:
        if self._refill_seconds <= 0:
            return True
        now = self._clock.monotonic()
        key = (phone_number_id, wa_id)
        tokens = self._tokens_at(key, now)
        if tokens < 1.0:
            self._buckets[key] = (tokens, now)
            return False
        if len(self._buckets) > self._PRUNE_ABOVE:
            self._prune(now)
        self._buckets[key] = (tokens - 1.0, now)
        return True

    def _tokens_at(self, key: tuple[str, str], now: float) -> float:
        bucket = self._buckets.get(key)
        if bucket is None:
            return self._capacity
        tokens, updated = bucket
        return min(self._capacity, tokens + (now - updated) / self._refill_seconds)

    def _prune(self, now: float) -> None:
        full = [key for key in self._buckets if self._tokens_at(key, now) >= self._capacity]
        for key in full:
            del self._buckets[key]
