"""A sending bulk's time left, re-planned from what is happening rather than from the plan.

The plan made at submission assumes the number's nominal rate; under faults (5xx and slow
answers retried later, recipients Meta refuses, a number slowed down after 130429, a quota wait,
other bulks taking a share of the number) the bulk goes slower, and only what it really does
tells by how much. ``remaining_seconds`` measures the bulk's rate of recipients settled for good
(sent or failed, retries not counted) over a recent window of its sending time, and plans what
is left at that rate, after the waits it knows of: each recipient waiting for a retry or for
quota goes no earlier than its time. Recipients not tried yet will need retries too, as
those before them did: ``retry_tail_seconds`` is the expected time by which the last of them
settles after the last first try, from the bulk's own record (the share of its recipients that
needed retries, and how long each such chain took from first answer to settling), so that a
few recipients answering 131056 late in the bulk are counted before they happen. Until enough
is measured (the first seconds, or the first settled recipients) the planned rate stands in, so
the figure starts as the plan and moves towards what is measured. Time is monotonic seconds;
the caller keeps the samples.
"""

from __future__ import annotations

import math
from bisect import bisect_right
from collections.abc import Sequence
from dataclasses import dataclass, field

__all__ = [
    "LIVE_WINDOW_SECONDS",
    "MIN_SETTLED",
    "SendingNow",
    "measured_rate",
    "remaining_seconds",
    "retry_tail_seconds",
]

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
    # Recipients settled so far, and for those of them that needed retries, how long each
    # took from its first answer to settling.
    settled_count: int = 0
    retry_chains: Sequence[float] = field(default_factory=tuple)


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
    known = _last_send(state.remaining, rate, state.waits_until, state.now)
    fresh = max(0, state.remaining - sum(1 for at in state.waits_until if at > state.now))
    tail = retry_tail_seconds(fresh, rate, settled=state.settled_count, chains=state.retry_chains)
    return max(known, fresh / rate + tail) + state.tail_seconds


# The chains' durations are grouped into at most this many steps of the longest (at least
# 0.1 s each), and the expectation integrated over as many: a few ms at most per re-plan.
_CHAIN_STEPS = 40
_TAIL_STEPS = 100


def retry_tail_seconds(fresh: int, rate: float, *, settled: int, chains: Sequence[float]) -> float:
    """Expected seconds from the last first try of ``fresh`` recipients (one every ``1/rate``
    s) until the last of them settles, when each needs, after its first answer, a retry chain
    as the ``settled`` recipients so far did (``chains``: the duration of each that needed one;
    the others needed none). E[max] over the recipients, from the distribution's CDF: the
    chance that all settled by ``t`` after the last first try is the product, over the
    recipients, of the chance that each one's chain ended by then."""
    if fresh <= 0 or settled <= 0 or not chains:
        return 0.0
    positive = [c for c in chains if c > 0]
    if not positive:
        return 0.0
    grain = max(0.1, max(positive) / _CHAIN_STEPS)
    grouped = sorted(math.ceil(c / grain) * grain for c in positive)
    total = max(settled, len(grouped))
    none_share = (total - len(grouped)) / total
    values = sorted(set(grouped))
    cdf = [(total - len(grouped) + bisect_right(grouped, v)) / total for v in values]
    longest = values[-1]
    step = longest / _TAIL_STEPS
    expected = 0.0
    for k in range(_TAIL_STEPS):
        t = (k + 0.5) * step
        expected += (1.0 - _all_settled_by(t, fresh, rate, none_share, values, cdf)) * step
    return expected


def _all_settled_by(
    t: float, fresh: int, rate: float, none_share: float, values: list[float], cdf: list[float]
) -> float:
    """The chance that each of ``fresh`` recipients, the i-th from last tried i/rate s before
    the last, has settled ``t`` s after the last first try (its chain at most t + i/rate)."""
    log_p = 0.0
    # Bounds of the chain durations: below values[0] only those without a chain settled.
    edges = [0.0, *values]
    shares = [none_share, *cdf]
    for low, high, share in zip(edges, [*values, math.inf], shares, strict=True):
        # Recipients whose allowance t + i/rate lies in [low, high): i in [(low-t)r, (high-t)r).
        first = max(0, math.ceil((low - t) * rate))
        last = fresh - 1 if math.isinf(high) else min(fresh - 1, math.ceil((high - t) * rate) - 1)
        count = last - first + 1
        if count <= 0 or share >= 1.0:
            continue
        if share <= 0.0:
            return 0.0
        log_p += count * math.log(share)
    return math.exp(log_p)


def _last_send(remaining: int, rate: float, waits_until: Sequence[float], now: float) -> float:
    """The later of: every remaining recipient at ``rate`` from now, and, for each wait, the
    waiting recipients from that time on (those that wait longest go last)."""
    seconds = remaining / rate
    later = sorted((at for at in waits_until if at > now), reverse=True)
    for behind, at in enumerate(later[:remaining], start=1):
        seconds = max(seconds, at - now + behind / rate)
    return seconds
