"""How many sends per second a phone number may start, and how that limit adapts.

``RateGate`` enforces a rate over a **sliding** window, not on average: the k-th send may start
at ``max(now, t[k - b] + span)``, where ``t`` are the earlier start times, ``b`` the burst and
``span`` the time ``b`` starts must cover. It keeps the latest start times in a ring buffer (as
many as the highest rate it was given needs), so each call is O(1).

* A bursty gate (``smooth=False``) is Meta's own rule: at most ``floor(rate)`` starts in any
  window of one second (``b = floor(rate)``, ``span = 1 s``), and below one message per second,
  one start per ``1 / rate`` seconds. A whole second's starts may go at once.
* A smooth gate (``smooth=True``) spaces starts evenly, one every ``1 / rate`` seconds
  (``b = 1``); for a whole-number rate that still means at most ``rate`` starts in any second.
  The scheduler uses smooth gates for numbers (unless asked for bursts) and for bulks with
  their own pacing, so "one message every 0.24 s" means that.

Every span is stretched by ``margin_seconds`` per second (1 ms by default: windows of 1.001 s)
so that our clock and Meta's may disagree a little without a 130429; the steady state is then
``rate / 1.001``, well above 97 % of the rate.

``AdaptiveCap`` is the number's current limit, AIMD-style: a slow-down signal (130429,
80007, 131048, 4) multiplies it by ``decrease_factor`` (floor ``floor_mps``) and pauses the
number (``first_pause_seconds``, growing by ``pause_growth`` for a decrease that comes within
``quiet_seconds`` of the one before); ``quiet_seconds`` after the decrease it grows back by
``recovery_fraction`` of the configured rate every ``recovery_step_seconds``, up to the
configured rate. It decreases at most once per ``decrease_window_seconds`` (10 s, twice the
quiet period, so the rate climbs back for at least 5 s between two decreases): the signals that
come within the window of a decrease are absorbed, whatever their number, and delay nothing.
Why: a few recipients that answer 130429 on every attempt retry for a while, and when each
retry halved the rate, ten of them among 2,000 held an 80/s number to 9 messages/s (33 with
the window, measured against the sandbox). Signals about sends that started before the last
decrease are stale (they answer the old rate) and ignored too. Everything is a pure function of
the signals and the times passed in.

The first signal after ``calm_seconds`` without a decrease is met gently
(``first_decrease_factor``, ``first_pause_seconds_when_calm``): the configured rate is Meta's
own throughput for the number, so a lone refusal after a calm spell says that a few sends
reached Meta bunched (a process descheduled, the network's jitter), not that the limit is
wrong; halving for it cost a 1,000/s number about 5,000 messages. Should a send started after
that gentle decrease be refused too, the signal is not absorbed: the full decrease follows at
once.
"""

from __future__ import annotations

import math
from collections import deque
from dataclasses import dataclass

__all__ = [
    "DEFAULT_CATCH_UP_SECONDS",
    "DEFAULT_MARGIN_SECONDS",
    "AdaptiveCap",
    "NumberGate",
    "RateGate",
    "SlowDownPolicy",
]

DEFAULT_MARGIN_SECONDS = 0.001
DEFAULT_CATCH_UP_SECONDS = 0.05


class RateGate:
    """When the next send may start so that ``rate`` holds over every sliding window.

    ``tolerance_seconds``: a send that starts at most that long after it was due keeps the
    schedule (the next one is due a span after this one was due, not after it went), so a gate
    whose slots often come a little late still averages its rate. The price is that one window
    may then hold one start more than the rate: keep it at 0 where the rate is a hard limit,
    as for a number's throughput.
    """

    def __init__(
        self,
        rate: float,
        *,
        smooth: bool = False,
        margin_seconds: float = DEFAULT_MARGIN_SECONDS,
        tolerance_seconds: float = 0.0,
    ) -> None:
        if margin_seconds < 0 or tolerance_seconds < 0:
            raise ValueError("margin_seconds and tolerance_seconds must not be negative")
        self._smooth = smooth
        self._stretch = 1.0 + margin_seconds
        self._tolerance = tolerance_seconds
        # The turn of each of the latest sends (at least the last ``burst``): when it was due,
        # or when it went if that was more than the tolerance later.
        self._turns: deque[float] = deque(maxlen=1)
        self._last_start = -math.inf
        self._rate = 0.0
        self._burst = 1
        self._span = 0.0
        self.set_rate(rate)

    @property
    def rate(self) -> float:
        return self._rate

    def set_rate(self, rate: float) -> None:
        """Change the rate; the very next slot obeys it (the history still counts)."""
        if not math.isfinite(rate) or rate <= 0:
            raise ValueError(f"rate must be positive and finite, not {rate}")
        self._rate = rate
        self._burst = 1 if self._smooth or rate < 1 else math.floor(rate)
        window = self._burst / rate if self._smooth or rate < 1 else 1.0
        self._span = window * self._stretch
        if (self._turns.maxlen or 0) < self._burst:
            # The history only ever grows: a lower rate reads fewer of the latest turns, and
            # the rate may come back up while the older ones are still within a window (1,000
            # → 500 → 1,000 within a second must not let 1,500 starts into it).
            self._turns = deque(self._turns, maxlen=self._burst)

    def next_slot(self, now: float) -> float:
        """The earliest time, not before ``now``, at which a send may start."""
        # Slots never go back in time, so the turns stay sorted.
        earliest = max(now, self._last_start)
        if len(self._turns) >= self._burst:
            earliest = max(earliest, self._turns[-self._burst] + self._span)
        return earliest

    def take(self, at: float) -> None:
        """Record a send starting at ``at``, which must be a time ``next_slot`` allows."""
        if at < self.next_slot(at):
            raise ValueError(f"a send at {at} comes before the gate's next slot")
        self._record(at)

    def reserve(self, now: float) -> float:
        """Take the next slot and return its time."""
        at = self.next_slot(now)
        self._record(at)
        return at

    def started_late(self, slot_at: float, at: float) -> None:
        """The send recorded at ``slot_at`` really started at ``at``, later: its turn moves
        there, so that windows count when sends went, not when they were due (a process
        descheduled with sends already scheduled writes them all at once when it resumes)."""
        turns = self._turns
        index = len(turns) - 1
        while index >= 0 and turns[index] > slot_at:
            index -= 1
        if at <= slot_at or index < 0 or turns[index] != slot_at:
            return  # not late, or no longer within the history
        del turns[index]
        place = len(turns)
        while place > 0 and turns[place - 1] > at:
            place -= 1
        turns.insert(place, at)
        self._last_start = max(self._last_start, at)

    def _record(self, at: float) -> None:
        turns, burst = self._turns, self._burst
        due = turns[-burst] + self._span if len(turns) >= burst else at
        self._turns.append(due if at <= due + self._tolerance else at)
        self._last_start = at


class NumberGate:
    """A phone number's gate: Meta's throughput as a hard limit, the starts spread evenly
    within it, and the time a late start lost made up.

    A start must pass two ``RateGate``s:

    * the **limit**: at most ``floor(rate)`` starts in any window of one second (stretched by
      the margin), with no tolerance. This is the 130429 rule; nothing below loosens it.
    * the **spacing** (unless ``spread=False``): one start every ``1 / rate`` seconds (stretched
      likewise), with a tolerance of ``catch_up_seconds``. A start that comes late, because the
      event loop was busy with answers, claims and writes when its slot came, keeps the
      schedule: the next ones go back to back until it is caught up, as far as the limit lets
      them. Without it every late start pushed all later ones back and the lost time was never
      made up: 0.83-0.97 of 1,000/s on a busy 2-core machine. A start later than the tolerance
      (a stall) starts a new schedule, so a stall never turns into a burst longer than
      ``catch_up_seconds`` worth of sends.

    With ``spread=False`` the limit alone decides: a whole second's starts may go at once.
    """

    def __init__(
        self,
        rate: float,
        *,
        spread: bool = True,
        margin_seconds: float = DEFAULT_MARGIN_SECONDS,
        catch_up_seconds: float = DEFAULT_CATCH_UP_SECONDS,
    ) -> None:
        self._limit = RateGate(rate, margin_seconds=margin_seconds)
        self._late_seconds = margin_seconds / 4
        self._spacing = (
            RateGate(
                rate, smooth=True, margin_seconds=margin_seconds, tolerance_seconds=catch_up_seconds
            )
            if spread
            else None
        )

    @property
    def rate(self) -> float:
        return self._limit.rate

    def set_rate(self, rate: float) -> None:
        self._limit.set_rate(rate)
        if self._spacing is not None:
            self._spacing.set_rate(rate)

    def next_slot(self, now: float) -> float:
        earliest = self._limit.next_slot(now)
        if self._spacing is None:
            return earliest
        # Both move forward only; the later of the two slots satisfies both.
        return max(earliest, self._spacing.next_slot(earliest))

    def take(self, at: float) -> None:
        self._limit.take(at)
        if self._spacing is not None:
            self._spacing.take(at)

    def started_late(self, slot_at: float, at: float) -> None:
        """A send taken at ``slot_at`` really started at ``at``. Later than a quarter of the
        margin, the limit counts it when it went (``RateGate.started_late``); the spacing keeps
        its schedule. Within it, the margin absorbs it and nothing moves."""
        if at - slot_at > self._late_seconds:
            self._limit.started_late(slot_at, at)

    def reserve(self, now: float) -> float:
        at = self.next_slot(now)
        self.take(at)
        return at


@dataclass(frozen=True, kw_only=True)
class SlowDownPolicy:
    """The knobs of ``AdaptiveCap``; see the module docstring."""

    decrease_factor: float = 0.5
    floor_mps: float = 1.0
    first_pause_seconds: float = 1.0
    pause_growth: float = 2.0
    max_pause_seconds: float = 30.0
    quiet_seconds: float = 5.0
    recovery_fraction: float = 0.1
    recovery_step_seconds: float = 1.0
    decrease_window_seconds: float = 10.0
    # The gentle first decrease after a calm spell; None: every decrease is the full one.
    first_decrease_factor: float | None = 0.9
    first_pause_seconds_when_calm: float = 0.25
    calm_seconds: float = 60.0

    def __post_init__(self) -> None:
        if not 0 < self.decrease_factor < 1:
            raise ValueError("decrease_factor must lie between 0 and 1")
        if self.first_decrease_factor is not None and not 0 < self.first_decrease_factor < 1:
            raise ValueError("first_decrease_factor must lie between 0 and 1")
        if self.decrease_window_seconds < 0:
            raise ValueError("decrease_window_seconds must not be negative")
        if self.floor_mps <= 0 or self.recovery_step_seconds <= 0 or self.recovery_fraction <= 0:
            raise ValueError("floor_mps, recovery_fraction and recovery_step_seconds must be > 0")


class AdaptiveCap:
    """A number's current limit in messages per second: the configured rate, or less after Meta
    asked to slow down."""

    def __init__(self, configured_mps: float, policy: SlowDownPolicy | None = None) -> None:
        self._policy = policy or SlowDownPolicy()
        self._configured = configured_mps
        self._base = configured_mps  # the cap right after the last change
        self._grow_from = math.inf  # when the first recovery step is due
        self._last_decrease = -math.inf
        self._gentle = False  # the last decrease was the gentle one
        self._streak = 0
        self._paused_until = -math.inf

    @property
    def configured_mps(self) -> float:
        return self._configured

    @property
    def paused_until(self) -> float:
        """No send of the number may start before this time."""
        return self._paused_until

    def cap_at(self, now: float) -> float:
        if now < self._grow_from:
            return min(self._configured, self._base)
        steps = math.floor((now - self._grow_from) / self._policy.recovery_step_seconds) + 1
        return min(self._configured, self._base + steps * self._step())

    def set_configured(self, mps: float, now: float) -> None:
        """The number's throughput changed (a webhook, an operator). A lower one applies at once;
        a higher one too, unless the number is slowed down: then recovery climbs to it."""
        current = self.cap_at(now)
        slowed = current < self._configured
        self._configured = mps
        if not slowed:
            self._base, self._grow_from = mps, math.inf
            return
        self._base = min(current, mps)
        if self._grow_from <= now:  # recovering: the steps go on from here
            self._grow_from = now + self._policy.recovery_step_seconds

    def slow_down(self, now: float, *, sent_at: float) -> bool:
        """Meta said "too fast" about a send started at ``sent_at``. False when the signal is
        stale or within the window of the last decrease: nothing changes then."""
        policy = self._policy
        if sent_at <= self._last_decrease:
            return False
        since_decrease = now - self._last_decrease
        after_gentle = self._gentle
        if since_decrease < policy.decrease_window_seconds and not after_gentle:
            return False
        self._gentle = (
            policy.first_decrease_factor is not None and since_decrease >= policy.calm_seconds
        )
        factor = policy.first_decrease_factor if self._gentle else None
        reduced = math.floor(self.cap_at(now) * (factor or policy.decrease_factor))
        self._base = max(policy.floor_mps, float(reduced))
        self._grow_from = now + policy.quiet_seconds
        # The full decrease after a gentle one pauses as a first one would.
        repeat = since_decrease < policy.quiet_seconds and not after_gentle
        self._streak = self._streak + 1 if repeat else 1
        self._last_decrease = now
        pause = policy.first_pause_seconds * policy.pause_growth ** (self._streak - 1)
        if self._gentle:
            pause = policy.first_pause_seconds_when_calm
        self._paused_until = max(self._paused_until, now + min(pause, policy.max_pause_seconds))
        return True

    def _step(self) -> float:
        return max(1.0, round(self._configured * self._policy.recovery_fraction))
