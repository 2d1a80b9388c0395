"""The send scheduler of one phone number: when may its next send start, and for which bulk.

The model. Every phone number gets one ``NumberScheduler``; numbers are independent, so bulks
on different numbers run in parallel. A number's scheduler combines:

* the **number's gate** (``rate_gate.NumberGate``): Meta's throughput (80/1,000/20 msg/s, see
  ``pacing.throughput_for``), never more in any sliding one-second window, so that a steady
  state never provokes 130429. Sends are spaced evenly, and a late one is made up by the next
  ones within that limit (``bursts=True``: a second's worth may go at once);
* its **adaptive cap** (``rate_gate.AdaptiveCap``): the gate's rate drops and the number pauses
  when Meta says "too fast" (130429, 80007, 131048, 4), and recovers after a quiet period;
* both kept in the number's ``number_throughput.NumberThroughput``, which the process's single
  sends share: they take their slots from it first, and the bulks get what they leave;
* the **fair share** (``fair_share.FairShare``): round-robin over the bulks on the number, each
  optionally capped by its own pacing (``pacing.bulk_rate_cap``);
* the **pair rate** (``PairRateLimiter``): per recipient, one message every 6 s by default
  (Meta allows bursts of 45 but they borrow from the future, so the burst is off unless
  configured); after a 131056 only that recipient waits, 4 ** X s (1, 4, 16, 64);
* the **retry policy** (``retry_policy.RetryPolicy``): what each outcome means for the recipient
  and the bulk.

Time is always a float of seconds from a monotonic clock, passed in. Nothing here sleeps, reads a
clock or does I/O; the bulk engine drives it from its event loop, one scheduler per number::

    while True:
        slot = scheduler.next_send(clock())         # which bulk, and when (None: nothing to do)
        if slot is None:
            wait until a bulk joins or resumes; continue
        if slot.at > clock():
            sleep until slot.at, or until something changes; continue   # then ask again
        recipient = the next recipient of slot.bulk_id that is due
        if none is due: scheduler.hold_bulk(slot.bulk_id, until=its next due time); continue
        if scheduler.recipient_ready_at(recipient, clock()) > clock():
            defer that recipient to that time; continue
        scheduler.take(slot, recipient=recipient)
        start the send; when it ends:
            decision = scheduler.report(bulk_id=..., recipient=..., outcome=..., attempt=...,
                                        sent_at=slot.at, now=clock())
            retry after decision.delay | give up (record code and reason) | stop the bulk | done

``next_send`` only looks: asking again after a sleep is free and sees any change (a bulk that
joined, a slow-down). ``take`` commits the slot.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Generic

from mindo_core.throughput.fair_share import BulkKey, FairShare
from mindo_core.throughput.number_throughput import NumberThroughput
from mindo_core.throughput.rate_gate import DEFAULT_MARGIN_SECONDS, SlowDownPolicy
from mindo_core.throughput.retry_policy import RetryDecision, RetryPolicy, SendOutcome

__all__ = ["NumberScheduler", "PairRateLimiter", "PairRatePolicy", "Slot"]


@dataclass(frozen=True, kw_only=True)
class PairRatePolicy:
    """Messages to one recipient: one every ``interval_seconds``, at most ``burst`` at once."""

    interval_seconds: float = 6.0
    burst: int = 1

    def __post_init__(self) -> None:
        if self.interval_seconds <= 0 or self.burst < 1:
            raise ValueError("interval_seconds must be positive and burst at least 1")


class PairRateLimiter:
    """Meta's pair rate as a token bucket per recipient, kept as a generic cell rate algorithm:
    one "theoretical arrival time" per recipient instead of a token count, O(1) per send."""

    _MIN_PRUNE_SIZE = 4096

    def __init__(self, policy: PairRatePolicy | None = None) -> None:
        self._policy = policy or PairRatePolicy()
        self._tolerance = (self._policy.burst - 1) * self._policy.interval_seconds
        self._due: dict[str, float] = {}  # recipient -> theoretical arrival time
        self._prune_above = self._MIN_PRUNE_SIZE

    def ready_at(self, recipient: str, now: float) -> float:
        """The earliest time, not before ``now``, at which ``recipient`` may get a message."""
        due = self._due.get(recipient)
        return now if due is None else max(now, due - self._tolerance)

    def take(self, recipient: str, at: float) -> None:
        due = self._due.get(recipient, at)
        self._due[recipient] = max(due, at) + self._policy.interval_seconds
        if len(self._due) > self._prune_above:
            self._prune(at)

    def penalise(self, recipient: str, until: float) -> None:
        """Meta refused with 131056: nothing to ``recipient`` before ``until``, and no burst
        after it. Meta's verdict replaces our own count for the recipient (the refused message
        was counted when it was taken, but it was never delivered)."""
        self._due[recipient] = until + self._tolerance

    def __len__(self) -> int:
        return len(self._due)

    def _prune(self, now: float) -> None:
        # A recipient whose bucket is full again is the same as one never seen.
        full = [recipient for recipient, due in self._due.items() if due <= now]
        for recipient in full:
            del self._due[recipient]
        self._prune_above = max(self._MIN_PRUNE_SIZE, 2 * len(self._due))


@dataclass(frozen=True, kw_only=True)
class Slot(Generic[BulkKey]):
    """The next send of a number: ``bulk_id`` sends at ``at``."""

    bulk_id: BulkKey
    at: float


class NumberScheduler(Generic[BulkKey]):
    """Everything that decides when one phone number sends, and for which bulk."""

    def __init__(
        self,
        *,
        throughput_mps: float,
        retry_policy: RetryPolicy,
        slow_down: SlowDownPolicy | None = None,
        pair_rate: PairRatePolicy | None = None,
        margin_seconds: float = DEFAULT_MARGIN_SECONDS,
        bursts: bool = False,
        throughput: NumberThroughput | None = None,
    ) -> None:
        # The number's throughput, shared with the process's single sends when given (they
        # take their slots from it first). Evenly spaced by default: the plan's estimate
        # ((n - 1) / rate) is then what happens.
        self._throughput = throughput or NumberThroughput(
            throughput_mps, slow_down=slow_down, margin_seconds=margin_seconds, bursts=bursts
        )
        self._share: FairShare[BulkKey] = FairShare(margin_seconds=margin_seconds)
        self._pairs = PairRateLimiter(pair_rate)
        self._retry = retry_policy

    # -- the bulks -------------------------------------------------------------------------

    @property
    def bulk_ids(self) -> tuple[BulkKey, ...]:
        return self._share.bulk_ids

    def add_bulk(self, bulk_id: BulkKey, *, max_rate: float | None = None) -> None:
        """A bulk starts sending; ``max_rate`` is its pacing cap (``pacing.bulk_rate_cap``)."""
        self._share.add(bulk_id, max_rate=max_rate)

    def set_bulk_rate(self, bulk_id: BulkKey, max_rate: float | None) -> None:
        """The bulk's pacing cap changed (``pacing.bulk_rate_cap`` of a new messaging tier)."""
        self._share.set_max_rate(bulk_id, max_rate)

    def remove_bulk(self, bulk_id: BulkKey) -> None:
        self._share.remove(bulk_id)

    def hold_bulk(self, bulk_id: BulkKey, until: float) -> None:
        """The bulk has nothing due before ``until`` (retries, quota); ``math.inf``: unknown."""
        self._share.hold(bulk_id, until)

    def resume_bulk(self, bulk_id: BulkKey) -> None:
        self._share.resume(bulk_id)

    # -- the number ------------------------------------------------------------------------

    def set_throughput(self, mps: float, now: float) -> None:
        """Meta or an operator changed the number's throughput."""
        self._throughput.set_configured(mps, now)

    @property
    def configured_rate(self) -> float:
        """Messages per second the number may send when not slowed (Meta's throughput)."""
        return self._throughput.configured_rate

    def current_rate(self, now: float) -> float:
        """Messages per second the number may send now (less than configured when slowed)."""
        return self._throughput.current_rate(now)

    def paused_until(self) -> float:
        return self._throughput.paused_until

    # -- sending ---------------------------------------------------------------------------

    def next_send(self, now: float) -> Slot[BulkKey] | None:
        """Which bulk sends next and when (not before ``now``); None when no bulk can send."""
        earliest = self._throughput.next_slot(now)
        choice = self._share.choose(earliest)
        if choice is None:
            return None
        bulk_id, at = choice
        return Slot(bulk_id=bulk_id, at=at)

    def take(self, slot: Slot[BulkKey], *, recipient: str | None = None) -> None:
        """Commit ``slot`` (from ``next_send``): the send to ``recipient`` starts at ``slot.at``."""
        self._throughput.take(slot.at)
        self._share.record(slot.bulk_id, slot.at)
        if recipient is not None:
            self._pairs.take(recipient, slot.at)

    def started_late(self, slot_at: float, at: float) -> None:
        """The send given ``slot_at`` really started at ``at`` (its mark, or a busy process,
        held it): the number's limit counts it then (``NumberThroughput.started_late``)."""
        self._throughput.started_late(slot_at, at)

    def recipient_ready_at(self, recipient: str, now: float) -> float:
        """When ``recipient`` may get its next message from this number (pair rate)."""
        return self._pairs.ready_at(recipient, now)

    def report(
        self,
        *,
        bulk_id: BulkKey,
        recipient: str,
        outcome: SendOutcome,
        attempt: int,
        sent_at: float,
        now: float,
    ) -> RetryDecision:
        """How the send started at ``sent_at`` ended, and what to do about it.

        Throttling slows the whole number; a pair-rate refusal delays only ``recipient``; a
        campaign-stopping code takes the bulk out of the rotation (the engine stops it and any
        other bulk the same cause concerns, e.g. every bulk of an expired token).
        """
        if outcome.kind == "throttled":
            self._throughput.slow_down(now, sent_at=sent_at)
        decision = self._retry.decide(outcome, attempt)
        if outcome.kind == "pair_rate" and decision.action == "retry":
            self._pairs.penalise(recipient, until=now + decision.delay)
        if decision.action == "stop":
            self._share.remove(bulk_id)
        return decision
