"""A per-key request rate limit, so one client cannot starve the others.

A token bucket per API key: ``burst`` requests at once, refilled at ``rate_per_second``. The
buckets live in the serving process, by decision: a fairness guard checked on every request is
not worth a shared write per request, so with M API processes a key reaching k of them gets up
to k times the limit (docs/operations.md says how to size it). A refused request learns how
long to wait.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from mindo_core.domain.errors import RateLimited


@dataclass(frozen=True, kw_only=True)
class RequestLimit:
    rate_per_second: float
    burst: int

    @property
    def enabled(self) -> bool:
        return self.rate_per_second > 0


@dataclass
class _Bucket:
    tokens: float
    updated_at: float


class KeyRateLimiter:
    def __init__(self, limit: RequestLimit) -> None:
        self._limit = limit
        self._buckets: dict[int, _Bucket] = {}

    def admit(self, key_id: int, now: float) -> None:
        """Takes one token for ``key_id`` at monotonic time ``now``, or raises RateLimited."""
        if not self._limit.enabled:
            return
        bucket = self._refilled(key_id, now)
        if bucket.tokens >= 1:
            bucket.tokens -= 1
            return
        missing = 1 - bucket.tokens
        raise RateLimited(retry_after_seconds=math.ceil(missing / self._limit.rate_per_second))

    def _refilled(self, key_id: int, now: float) -> _Bucket:
        bucket = self._buckets.get(key_id)
        if bucket is None:
            bucket = self._buckets[key_id] = _Bucket(float(self._limit.burst), now)
        elapsed = max(0.0, now - bucket.updated_at)
        bucket.tokens = min(
            float(self._limit.burst), bucket.tokens + elapsed * self._limit.rate_per_second
        )
        bucket.updated_at = now
        return bucket
