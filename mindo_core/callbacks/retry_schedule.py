"""When a failed delivery is tried again: exponential backoff with full jitter, honouring the
receiver's ``Retry-After``, for at most ``give_up_after`` from the event; which answers are
worth another try (timeouts and connection errors, 5xx, 408, 429) and which are not (other
4xx: the receiver refuses the request itself)."""

from __future__ import annotations

import random
from dataclasses import dataclass
from datetime import datetime, timedelta
from email.utils import parsedate_to_datetime

RETRYABLE_4XX = frozenset({408, 429})


@dataclass(frozen=True, kw_only=True)
class RetryPolicy:
    base_seconds: float = 5.0
    max_seconds: float = 3600.0
    give_up_after: timedelta = timedelta(hours=24)
    # An endpoint failing this long without one success is disabled.
    disable_after: timedelta = timedelta(hours=24)


def is_success(status_code: int | None) -> bool:
    return status_code is not None and 200 <= status_code < 300


def is_retryable(status_code: int | None) -> bool:
    """None: no answer (timeout, refused connection)."""
    if status_code is None:
        return True
    return status_code >= 500 or status_code in RETRYABLE_4XX


def backoff_seconds(attempt: int, policy: RetryPolicy, *, draw: float) -> float:
    """The wait after the ``attempt``-th failure (1-based): a uniform draw (``draw`` in [0, 1))
    under min(max, base·2^(attempt-1)), never below a tenth of the ceiling, so retries spread
    out (full jitter) without firing back at once."""
    ceiling = min(policy.max_seconds, policy.base_seconds * 2.0 ** min(attempt - 1, 40))
    return max(ceiling / 10, ceiling * draw)


def retry_after_seconds(header: str | None, *, now: datetime) -> float | None:
    """``Retry-After`` as seconds (a number of seconds or an HTTP date); None if absent or
    unreadable."""
    if header is None or not header.strip():
        return None
    value = header.strip()
    if value.isdigit():
        return float(value)
    try:
        when = parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    if when.tzinfo is None:
        return None
    return max(0.0, (when - now).total_seconds())


def next_attempt_at(
    *,
    attempt: int,
    status_code: int | None,
    retry_after: str | None,
    first_at: datetime,
    now: datetime,
    policy: RetryPolicy,
    draw: float | None = None,
) -> datetime | None:
    """When to try again after a failed ``attempt``; None: give up (not retryable, or the next
    try would fall past ``give_up_after`` from ``first_at``)."""
    if not is_retryable(status_code):
        return None
    wait = backoff_seconds(attempt, policy, draw=random.random() if draw is None else draw)
    asked = retry_after_seconds(retry_after, now=now)
    if asked is not None:
        wait = max(wait, min(asked, policy.max_seconds))
    at = now + timedelta(seconds=wait)
    if at > first_at + policy.give_up_after:
        return None
    return at
