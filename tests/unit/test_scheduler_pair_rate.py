"""Pair rate: one message every 6 s per recipient; after 131056 only that recipient waits."""

from __future__ import annotations

import random

import pytest

from mindo_core.throughput.retry_policy import RetryPolicy, SendOutcome
from mindo_core.throughput.scheduler import NumberScheduler, PairRateLimiter, PairRatePolicy


def test_a_second_message_to_the_same_recipient_waits_six_seconds() -> None:
    pairs = PairRateLimiter()
    pairs.take("+5491100000001", 10.0)
    assert pairs.ready_at("+5491100000001", 10.0) == 16.0
    assert pairs.ready_at("+5491100000001", 20.0) == 20.0


def test_other_recipients_are_not_affected() -> None:
    pairs = PairRateLimiter()
    pairs.take("+5491100000001", 10.0)
    assert pairs.ready_at("+5491100000002", 10.0) == 10.0


def test_metas_burst_of_45_is_there_when_configured() -> None:
    pairs = PairRateLimiter(PairRatePolicy(burst=45))
    for _ in range(45):
        assert pairs.ready_at("+1", 0.0) == 0.0
        pairs.take("+1", 0.0)
    assert pairs.ready_at("+1", 0.0) == 6.0


def test_a_penalty_delays_the_recipient_and_leaves_no_burst_after_it() -> None:
    pairs = PairRateLimiter(PairRatePolicy(burst=45))
    pairs.take("+1", 0.0)
    pairs.penalise("+1", until=4.0)
    assert pairs.ready_at("+1", 0.0) == 4.0
    pairs.take("+1", 4.0)
    assert pairs.ready_at("+1", 4.0) == 10.0


def test_a_penalty_replaces_the_count_of_the_refused_message() -> None:
    pairs = PairRateLimiter()
    pairs.take("+1", 0.0)  # refused with 131056: never delivered
    pairs.penalise("+1", until=1.0)
    assert pairs.ready_at("+1", 0.0) == 1.0


def test_memory_stays_bounded_by_the_recipients_of_the_last_six_seconds() -> None:
    pairs = PairRateLimiter()
    for i in range(30_000):  # 100 new recipients a second for 300 s
        pairs.take(f"+{i}", i / 100)
    assert len(pairs) <= 8192
    assert pairs.ready_at("+0", 300.0) == 300.0
    assert pairs.ready_at("+29999", 300.0) == pytest.approx(305.99)


@pytest.mark.parametrize(("interval", "burst"), [(0.0, 1), (6.0, 0)])
def test_the_policy_must_allow_something(interval: float, burst: int) -> None:
    with pytest.raises(ValueError, match="positive"):
        PairRatePolicy(interval_seconds=interval, burst=burst)


# --------------------------------------------------------------------------------------------
# Through the scheduler


def scheduler() -> NumberScheduler[str]:
    number: NumberScheduler[str] = NumberScheduler(
        throughput_mps=80.0, retry_policy=RetryPolicy(random.Random(0))
    )
    number.add_bulk("bulk")
    return number


def test_131056_retries_that_recipient_after_1_4_16_and_64_seconds_only() -> None:
    number = scheduler()
    delays = []
    now = 0.0
    for attempt in range(1, 5):
        slot = number.next_send(now)
        assert slot is not None
        assert number.recipient_ready_at("+1", slot.at) == slot.at
        number.take(slot, recipient="+1")
        decision = number.report(
            bulk_id="bulk",
            recipient="+1",
            outcome=SendOutcome.pair_rate(),
            attempt=attempt,
            sent_at=slot.at,
            now=slot.at,
        )
        assert decision.action == "retry"
        assert number.recipient_ready_at("+1", slot.at) == slot.at + decision.delay
        assert number.recipient_ready_at("+2", slot.at) == slot.at
        assert number.current_rate(slot.at) == 80.0
        assert number.paused_until() < slot.at
        delays.append(decision.delay)
        now = slot.at + decision.delay
    assert delays == [1.0, 4.0, 16.0, 64.0]


def test_131056_gives_up_after_the_last_attempt() -> None:
    decision = scheduler().report(
        bulk_id="bulk",
        recipient="+1",
        outcome=SendOutcome.pair_rate(title="pair rate limit hit"),
        attempt=5,
        sent_at=0.0,
        now=0.0,
    )
    assert decision.action == "give_up"
    assert decision.meta_code == 131056
    assert "pair rate limit hit" in decision.reason


def test_the_scheduler_spaces_messages_to_one_recipient() -> None:
    number = scheduler()
    slot = number.next_send(0.0)
    assert slot is not None
    number.take(slot, recipient="+1")
    assert number.recipient_ready_at("+1", 0.5) == 6.0
    assert number.recipient_ready_at("+2", 0.5) == 0.5
