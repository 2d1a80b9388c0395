"""A sending bulk's time left, re-planned from what is happening rather than from the plan.

The plan made at submission assumes the number's nominal rate; under faults (5xx and slow
answers retried later, recipients Meta refuses, a number slowed down after 130429, a quota wait,
other bulks taking a share of the number) the bulk goes slower, and only what it really does
tells by how much. ``remaining_seconds`` measures the bulk's rate of recipients settled for good
(sent or failed, retries not counted) over a recent window of its sending time, and plans what
is left at that rate, after the waits it knows of: each recipient waiting for a retry or for
quota goes no earlier than its time. Until enough is measured (the first seconds, or the first
settled recipients) the planned rate stands in, so the figure starts as the plan and moves
towards what is measured. Time is monotonic seconds; the caller keeps the samples.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

__all__ = ["LIVE_WINDOW_SECONDS", "MIN_SETTLED", "SendingNow", "measured_rate", "remaining_seconds"]

# Long enough to smooth a retry's or a slow answer's bunching, short enough to follow a slow-down
# (the number's gate takes a few seconds to climb back after 130429).
LIVE_WINDOW_SECONDS = 20.0
# Fewer settled recipients than this in the window: the plan's rate stands in.
MIN_SETTLED = 20


@dataclass(frozen=True, kw_only=True)
class SendingNow:
    now: float
    # Recipients not settled for good: pending, waiting for a retry or for quota, in flight.
    remaining: int
    # When the bulk's recipients were settled for good (sent or failed), oldest first.
    settled_at: Sequence[float]
    # When the bulk started sending here (a resume starts again): the window never reaches
    # back before it, so start-up and paused time are not counted as slowness.
    sending_since: float
    # When each recipient waiting (for a retry or for quota) may go again.
    waits_until: Sequence[float]
    # The plan's rate, messages/s: used until enough is measured.
    planned_rate: float
    # What follows the last send: its answer, the last write, the bulk's finish.
    tail_seconds: float = 0.0


def measured_rate(
    settled_at: Sequence[float],
    *,
    now: float,
    since: float,
    window: float = LIVE_WINDOW_SECONDS,
    min_settled: int = MIN_SETTLED,
) -> float | None:
    """Recipients settled per second over the last ``window`` seconds (not before ``since``);
    None when fewer than ``min_settled`` were, or the span is not positive."""
    start = max(now - window, since)
    span = now - start
    count = sum(1 for at in settled_at if start < at <= now)
    if count < min_settled or span <= 0:
        return None
    return count / span


def remaining_seconds(
    state: SendingNow,
    *,
    window: float = LIVE_WINDOW_SECONDS,
    min_settled: int = MIN_SETTLED,
) -> float:
    """Seconds from ``state.now`` until the bulk is complete (0 when nothing remains)."""
    if state.remaining <= 0:
        return 0.0
    rate = measured_rate(
        state.settled_at,
        now=state.now,
        since=state.sending_since,
        window=window,
        min_settled=min_settled,
    )
    if rate is None:
        rate = state.planned_rate
    if rate <= 0:
        raise ValueError("the planned rate must be positive")
    return _last_send(state.remaining, rate, state.waits_until, state.now) + state.tail_seconds


def _last_send(remaining: int, rate: float, waits_until: Sequence[float], now: float) -> float:
    """The later of: every remaining recipient at ``rate`` from now, and, for each wait, the
    waiting recipients from that time on (those that wait longest go last)."""
    seconds = remaining / rate
    later = sorted((at for at in waits_until if at > now), reverse=True)
    for behind, at in enumerate(later[:remaining], start=1):
        seconds = max(seconds, at - now + behind / rate)
    return seconds
