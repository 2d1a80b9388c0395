"""One client cannot starve the others: each key has its own bucket."""

from __future__ import annotations

import pytest

from mindo_core.access.request_limits import KeyRateLimiter, RequestLimit
from mindo_core.domain.errors import RateLimited


def test_a_key_may_burst_then_must_wait_for_refill() -> None:
    limiter = KeyRateLimiter(RequestLimit(rate_per_second=2, burst=3))
    for _ in range(3):
        limiter.admit(1, now=0.0)
    with pytest.raises(RateLimited) as refused:
        limiter.admit(1, now=0.0)
    assert refused.value.retry_after_seconds == 1
    limiter.admit(1, now=0.5)  # one token back after half a second at 2/s


def test_keys_do_not_share_a_bucket() -> None:
    limiter = KeyRateLimiter(RequestLimit(rate_per_second=1, burst=1))
    limiter.admit(1, now=0.0)
    limiter.admit(2, now=0.0)
    with pytest.raises(RateLimited):
        limiter.admit(1, now=0.0)


def test_the_bucket_never_holds_more_than_the_burst() -> None:
    limiter = KeyRateLimiter(RequestLimit(rate_per_second=10, burst=2))
    limiter.admit(1, now=0.0)
    admitted = 0
    for _ in range(5):
        try:
            limiter.admit(1, now=1000.0)
            admitted += 1
        except RateLimited:
            break
    assert admitted == 2


def test_a_zero_rate_disables_the_limit() -> None:
    limiter = KeyRateLimiter(RequestLimit(rate_per_second=0, burst=0))
    for _ in range(1000):
        limiter.admit(1, now=0.0)
