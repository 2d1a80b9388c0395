"""Adaptive slow-down: Meta says "too fast", the number slows down, pauses, then recovers. A
lone refusal after a calm spell slows it a tenth and pauses it briefly; refusals that go on
halve its rate."""

from __future__ import annotations

import itertools
import math
import random

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from mindo_core.throughput.rate_gate import AdaptiveCap, SlowDownPolicy
from mindo_core.throughput.retry_policy import RetryPolicy, SendOutcome
from mindo_core.throughput.scheduler import NumberScheduler

# x0.5, floor 1, pause 1 s doubling, quiet 5 s, +10 % per second; every decrease the full one.
POLICY = SlowDownPolicy(first_decrease_factor=None)
GENTLE_FIRST = SlowDownPolicy()  # as the engine runs: x0.9 and 0.25 s after 60 s calm


def test_a_lone_signal_after_a_calm_spell_slows_the_number_a_tenth_and_pauses_it_briefly() -> None:
    cap = AdaptiveCap(1000.0, GENTLE_FIRST)
    assert cap.slow_down(100.0, sent_at=99.9)
    assert cap.cap_at(100.0) == 900.0
    assert cap.paused_until == 100.25
    assert cap.cap_at(105.0) == 1000.0  # back after the quiet period


def test_a_send_refused_after_the_gentle_slow_down_halves_the_rate_at_once() -> None:
    cap = AdaptiveCap(1000.0, GENTLE_FIRST)
    cap.slow_down(100.0, sent_at=99.9)
    assert not cap.slow_down(100.1, sent_at=99.95)  # started before it: stale
    assert cap.slow_down(100.5, sent_at=100.3)
    assert cap.cap_at(100.5) == 450.0
    assert cap.paused_until == 101.5  # the full pause, as for a first full decrease
    # From then on the window absorbs signals as usual.
    assert not cap.slow_down(101.0, sent_at=100.9)


def test_a_signal_within_the_calm_spell_of_the_last_decrease_gets_the_full_decrease() -> None:
    cap = AdaptiveCap(1000.0, GENTLE_FIRST)
    cap.slow_down(100.0, sent_at=99.9)
    cap.slow_down(100.5, sent_at=100.3)  # halved: 450, recovering to 1,000 by 111.5
    assert cap.slow_down(130.0, sent_at=129.9)  # 30 s later: not calm yet
    assert cap.cap_at(130.0) == 500.0
    assert cap.slow_down(200.0, sent_at=199.9)  # 70 s later: calm again
    assert cap.cap_at(200.0) == 900.0


def test_a_throttling_signal_halves_the_rate_and_pauses_the_number() -> None:
    cap = AdaptiveCap(80.0, POLICY)
    assert cap.slow_down(10.0, sent_at=9.9)
    assert cap.cap_at(10.0) == 40.0
    assert cap.paused_until == 11.0


def test_signals_about_sends_started_before_the_last_slow_down_count_once() -> None:
    cap = AdaptiveCap(80.0, POLICY)
    counted = [cap.slow_down(10.0 + i / 1000, sent_at=9.9) for i in range(80)]
    assert counted == [True] + [False] * 79
    assert cap.cap_at(10.1) == 40.0
    assert cap.paused_until == 11.0


def test_signals_in_the_window_of_a_decrease_are_absorbed_whatever_their_number() -> None:
    cap = AdaptiveCap(80.0, POLICY)
    assert cap.slow_down(100.0, sent_at=99.99)
    # Retries of a few recipients that answer 130429 on every attempt, sent after the decrease.
    absorbed = [cap.slow_down(100.0 + i / 10, sent_at=100.0 + i / 10 - 0.01) for i in range(1, 50)]
    assert not any(absorbed)
    assert cap.cap_at(104.99) == 40.0
    assert cap.paused_until == 101.0
    # They delay nothing: the recovery starts quiet_seconds after the decrease.
    assert cap.cap_at(105.0) == 48.0
    assert cap.cap_at(109.0) == 80.0


def test_one_decrease_per_window_while_signals_go_on() -> None:
    cap = AdaptiveCap(80.0, POLICY)
    decreases = []
    for i in range(60):  # a signal every half second for 30 s
        now = 100.0 + i * 0.5
        if cap.slow_down(now, sent_at=now - 0.01):
            decreases.append((now, cap.cap_at(now)))
    assert [at for at, _ in decreases] == [100.0, 110.0, 120.0]
    # Each halves what the recovery had reached when it came (from 40, +8/s for 5 s: 80).
    assert [rate for _, rate in decreases] == [40, 40, 40]


FAST_WINDOW = SlowDownPolicy(decrease_window_seconds=0.0, first_decrease_factor=None)


def test_with_no_window_repeated_signals_keep_halving_down_to_one_message_per_second() -> None:
    cap = AdaptiveCap(80.0, FAST_WINDOW)
    rates = []
    for i in range(10):
        now = 100.0 + i * 0.5
        cap.slow_down(now, sent_at=now - 0.01)
        rates.append(cap.cap_at(now))
    assert rates == [40, 20, 10, 5, 2, 1, 1, 1, 1, 1]


def test_the_pause_grows_on_repeats_and_is_bounded() -> None:
    cap = AdaptiveCap(80.0, FAST_WINDOW)
    pauses = []
    for i in range(8):
        now = float(i)
        cap.slow_down(now, sent_at=now - 0.01)
        pauses.append(cap.paused_until - now)
    assert pauses == [1, 2, 4, 8, 16, 30, 30, 30]


def test_a_signal_after_a_quiet_period_starts_the_pause_over() -> None:
    cap = AdaptiveCap(80.0, FAST_WINDOW)
    cap.slow_down(0.0, sent_at=-0.01)
    cap.slow_down(1.0, sent_at=0.99)
    cap.slow_down(20.0, sent_at=19.99)
    assert cap.paused_until == 21.0


def test_the_rate_recovers_additively_after_a_quiet_period() -> None:
    cap = AdaptiveCap(80.0, POLICY)
    cap.slow_down(0.0, sent_at=-0.01)
    assert [cap.cap_at(t) for t in (0.0, 2.0, 4.99)] == [40, 40, 40]
    assert [cap.cap_at(t) for t in (5.0, 6.0, 7.0, 8.0, 9.0, 10.0, 60.0)] == [
        48,
        56,
        64,
        72,
        80,
        80,
        80,
    ]


def test_a_lower_throughput_applies_at_once() -> None:
    cap = AdaptiveCap(80.0, POLICY)
    cap.set_configured(20.0, now=3.0)
    assert cap.cap_at(3.0) == 20.0


def test_a_higher_throughput_applies_at_once_when_not_slowed_down() -> None:
    cap = AdaptiveCap(80.0, POLICY)
    cap.set_configured(1000.0, now=3.0)
    assert cap.cap_at(3.0) == 1000.0


def test_a_slowed_number_climbs_to_a_higher_throughput_by_recovery() -> None:
    cap = AdaptiveCap(80.0, POLICY)
    cap.slow_down(0.0, sent_at=-0.01)
    cap.set_configured(1000.0, now=1.0)
    assert cap.cap_at(1.0) == 40.0
    assert cap.cap_at(5.0) == 140.0  # steps are 10 % of the new throughput
    assert cap.cap_at(100.0) == 1000.0


events = st.lists(
    st.tuples(st.floats(min_value=0.0, max_value=8.0), st.booleans()), min_size=1, max_size=30
)


@given(events=events)
def test_the_rate_is_a_function_of_the_signals_and_their_times(
    events: list[tuple[float, bool]],
) -> None:
    first, second = AdaptiveCap(80.0, POLICY), AdaptiveCap(80.0, POLICY)
    now = 0.0
    for gap, fresh in events:
        now += gap
        sent_at = now - 0.001 if fresh else now - 30.0
        assert first.slow_down(now, sent_at=sent_at) == second.slow_down(now, sent_at=sent_at)
        assert first.cap_at(now) == second.cap_at(now)
        assert 1.0 <= first.cap_at(now) <= 80.0
    assert first.paused_until == second.paused_until


@pytest.mark.parametrize("factor", [0.0, 1.0, 1.5])
def test_the_decrease_factor_must_decrease(factor: float) -> None:
    with pytest.raises(ValueError, match="decrease_factor"):
        SlowDownPolicy(decrease_factor=factor)


# --------------------------------------------------------------------------------------------
# Through the scheduler


def scheduler() -> NumberScheduler[str]:
    number: NumberScheduler[str] = NumberScheduler(
        throughput_mps=80.0, retry_policy=RetryPolicy(random.Random(0))
    )
    number.add_bulk("bulk")
    return number


@pytest.mark.parametrize("code", [130429, 80007, 4])
def test_a_throttling_code_slows_the_number_and_retries_the_message(code: int) -> None:
    number = scheduler()
    decision = number.report(
        bulk_id="bulk",
        recipient="+1",
        outcome=SendOutcome.throttled(code),
        attempt=1,
        sent_at=0.0,
        now=0.2,
    )
    assert decision.action == "retry"
    assert number.current_rate(0.2) == 72.0  # a lone signal: a tenth less, a short pause
    slot = number.next_send(0.2)
    assert slot is not None
    assert slot.at == pytest.approx(0.45)


def test_the_spam_rate_limit_slows_the_number_without_retrying_the_message() -> None:
    number = scheduler()
    decision = number.report(
        bulk_id="bulk",
        recipient="+1",
        outcome=SendOutcome.throttled(131048, title="Spam rate limit hit", retryable=False),
        attempt=1,
        sent_at=0.0,
        now=0.2,
    )
    assert decision.action == "give_up"
    assert decision.meta_code == 131048
    assert number.current_rate(0.2) == 72.0


def test_after_a_slow_down_no_second_holds_more_than_the_lowered_rate() -> None:
    number = scheduler()
    number.report(
        bulk_id="bulk",
        recipient="+1",
        outcome=SendOutcome.throttled(130429),
        attempt=1,
        sent_at=0.0,
        now=0.0,
    )
    starts: list[float] = []
    now = 0.0
    while len(starts) < 100:
        slot = number.next_send(now)
        assert slot is not None
        number.take(slot)
        starts.append(slot.at)
        now = slot.at
    assert starts[0] >= 0.25  # the pause
    assert all(later - earlier >= 1.0 for earlier, later in zip(starts, starts[72:], strict=False))


@settings(max_examples=300)
@given(
    gaps=st.lists(st.floats(min_value=0.0, max_value=12.0), min_size=1, max_size=80),
    lags=st.lists(st.floats(min_value=0.0, max_value=3.0), min_size=80, max_size=80),
)
def test_at_most_one_decrease_per_window_and_the_rate_recovers_after_the_signals(
    gaps: list[float], lags: list[float]
) -> None:
    """Any signals, any number of them, at any times: the decreases are a window apart, the
    cap stays between the floor and the configured rate, and it is back to the configured
    rate once the signals stop for long enough."""
    cap = AdaptiveCap(80.0, POLICY)
    now, decreases = 0.0, []
    for gap, lag in zip(gaps, lags, strict=False):
        now += gap
        before = cap.cap_at(now)
        if cap.slow_down(now, sent_at=now - lag):
            decreases.append(now)
            assert cap.cap_at(now) == max(POLICY.floor_mps, math.floor(before / 2))
        else:
            assert cap.cap_at(now) == before
        assert POLICY.floor_mps <= cap.cap_at(now) <= 80.0
    window = POLICY.decrease_window_seconds
    assert all(b - a >= window for a, b in itertools.pairwise(decreases))
    # Recovery: 5 s of quiet, then +8/s from at least 1/s: 80 within 15 s.
    assert cap.cap_at(now + POLICY.quiet_seconds + 10.0) == 80.0
