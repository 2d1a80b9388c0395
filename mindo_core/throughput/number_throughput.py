"""One phone number's throughput, shared by everything a process sends from that number.

``NumberThroughput`` is Meta's limit for one number as one object: its adaptive cap (slowed by
130429 and recovering, ``rate_gate.AdaptiveCap``) and its gate (the sliding-second limit and the
even spacing, ``rate_gate.NumberGate``). The bulk engine's scheduler paces the number's bulks
through it and single sends take their slots from the same object, so that together they never
exceed the cap. Single sends go first: ``claim`` takes the next free slot at once, while the
scheduler only looks ahead and takes its slot when it is due, so a slot a single send took moves
the bulk's next one back by one slot. A slot further away than the caller's bound is not taken.
"""

from __future__ import annotations

import math

from mindo_core.throughput.rate_gate import (
    DEFAULT_MARGIN_SECONDS,
    AdaptiveCap,
    NumberGate,
    SlowDownPolicy,
)

__all__ = ["NumberThroughput"]


class NumberThroughput:
    def __init__(
        self,
        mps: float,
        *,
        slow_down: SlowDownPolicy | None = None,
        margin_seconds: float = DEFAULT_MARGIN_SECONDS,
        bursts: bool = False,
    ) -> None:
        self._cap = AdaptiveCap(mps, slow_down)
        # Evenly spaced by default, late starts made up: no spikes of concurrent requests.
        # ``bursts`` lets a whole second's sends go at once.
        self._gate = NumberGate(mps, spread=not bursts, margin_seconds=margin_seconds)
        self._not_before = -math.inf

    @property
    def configured_rate(self) -> float:
        """Messages per second the number may send when not slowed (Meta's throughput)."""
        return self._cap.configured_mps

    def current_rate(self, now: float) -> float:
        """Messages per second the number may send now (less than configured when slowed)."""
        return self._cap.cap_at(now)

    @property
    def paused_until(self) -> float:
        return max(self._cap.paused_until, self._not_before)

    def set_configured(self, mps: float, now: float) -> None:
        """Meta or an operator changed the number's throughput."""
        self._cap.set_configured(mps, now)

    def slow_down(self, now: float, *, sent_at: float) -> bool:
        """Meta said "too fast" about a send started at ``sent_at`` (see ``AdaptiveCap``)."""
        return self._cap.slow_down(now, sent_at=sent_at)

    def hold_until(self, moment: float) -> None:
        """Nothing starts before ``moment``: another sender's slots run until then."""
        self._not_before = max(self._not_before, moment)

    def next_slot(self, now: float) -> float:
        """The earliest time, not before ``now``, at which a send may start. Only looks."""
        rate = self._cap.cap_at(now)
        if rate != self._gate.rate:
            self._gate.set_rate(rate)
        return max(self._gate.next_slot(now), self.paused_until)

    def take(self, at: float) -> None:
        """A send starts at ``at``, a time ``next_slot`` allowed."""
        self._gate.take(at)

    def started_late(self, slot_at: float, at: float) -> None:
        """A send taken at ``slot_at`` really started at ``at`` (``NumberGate.started_late``)."""
        self._gate.started_late(slot_at, at)

    def claim(self, now: float, *, within: float) -> float | None:
        """Take the next slot if it comes at most ``within`` seconds after ``now``, and return
        its time; None (nothing taken) when it comes later."""
        at = self.next_slot(now)
        if at - now > within:
            return None
        self._gate.take(at)
        return at
