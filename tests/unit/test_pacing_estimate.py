"""``estimate_seconds`` predicts how long the scheduler takes to start every send of a bulk;
``shared_seconds`` does when the bulk shares its number with others."""

from __future__ import annotations

import math
import random

import pytest

from mindo_core.throughput.pacing import (
    QUOTA_WINDOW_SECONDS,
    Pacing,
    SendTiming,
    Sharer,
    bulk_rate_cap,
    effective_rate,
    estimate_seconds,
    shared_seconds,
)
from mindo_core.throughput.rate_gate import NumberGate
from mindo_core.throughput.retry_policy import RetryPolicy
from mindo_core.throughput.scheduler import NumberScheduler


def simulate(
    recipients: int,
    *,
    throughput: float,
    pacing: Pacing = Pacing(),  # noqa: B008 - frozen value
    tier: str = "TIER_UNLIMITED",
    quota_available: int | None = None,
    quota_refills: tuple[float, ...] = (),
) -> float:
    """Drive a real ``NumberScheduler`` as the engine would, with every send succeeding, and
    return when the last send started. Recipient i may go once the daily quota has room."""
    scheduler: NumberScheduler[str] = NumberScheduler(
        throughput_mps=throughput, retry_policy=RetryPolicy(random.Random(0))
    )
    scheduler.add_bulk("bulk", max_rate=bulk_rate_cap(pacing, tier))
    available = recipients if quota_available is None else quota_available
    starts: list[float] = []
    now = 0.0
    while len(starts) < recipients:
        i = len(starts)
        slot = scheduler.next_send(now)
        assert slot is not None
        quota_free_at = _quota_free_at(i, available, quota_refills, starts)
        if quota_free_at > slot.at:
            scheduler.hold_bulk("bulk", quota_free_at)
            continue
        scheduler.take(slot, recipient=f"+{i}")
        starts.append(slot.at)
        now = slot.at
    return starts[-1]


def _quota_free_at(
    i: int, available: int, refills: tuple[float, ...], starts: list[float]
) -> float:
    if i < available:
        return 0.0
    if i - available < len(refills):
        return refills[i - available]
    return starts[i - available - len(refills)] + QUOTA_WINDOW_SECONDS


def assert_close(estimate: float, actual: float) -> None:
    assert estimate == pytest.approx(actual, rel=0.10)


@pytest.mark.parametrize("recipients", [1, 1000, 10000])
@pytest.mark.parametrize("throughput", [20.0, 80.0, 1000.0])
def test_the_estimate_matches_a_run_of_the_scheduler(recipients: int, throughput: float) -> None:
    actual = simulate(recipients, throughput=throughput)
    estimate = estimate_seconds(recipients, throughput, quota_available=recipients)
    assert_close(estimate, actual)


@pytest.mark.parametrize(("tier", "minutes"), [("TIER_50", 20), ("TIER_250", 4), ("TIER_1000", 1)])
def test_tier_pacing_takes_the_time_mindos_table_gives_for_1000_messages(
    tier: str, minutes: float
) -> None:
    rate = effective_rate(80.0, Pacing(mode="tier"), tier)
    estimate = estimate_seconds(1000, rate, quota_available=1000)
    actual = simulate(1000, throughput=80.0, pacing=Pacing(mode="tier"), tier=tier)
    assert estimate / 60 == pytest.approx(minutes, rel=0.01)
    assert_close(estimate, actual)


def test_recipients_beyond_the_quota_wait_for_the_window_to_free_slots() -> None:
    # 600 fit now; 400 more go as earlier recipients leave the 24 h window over 10 minutes.
    refills = tuple(60.0 + i * 1.5 for i in range(400))
    estimate = estimate_seconds(1000, 80.0, quota_available=600, quota_refills=refills)
    actual = simulate(1000, throughput=80.0, quota_available=600, quota_refills=refills)
    assert estimate == pytest.approx(refills[-1])
    assert_close(estimate, actual)


def test_a_bulk_larger_than_the_whole_quota_waits_for_its_own_sends_to_leave_the_window() -> None:
    estimate = estimate_seconds(300, 80.0, quota_available=250)
    actual = simulate(300, throughput=80.0, quota_available=250)
    assert estimate == pytest.approx(QUOTA_WINDOW_SECONDS + 49 / 80.0)
    assert_close(estimate, actual)


def test_sending_goes_at_the_rate_when_the_quota_frees_faster() -> None:
    refills = (0.0, 0.0, 0.0)
    assert estimate_seconds(5, 1.0, quota_available=2, quota_refills=refills) == 4.0


def test_small_sends_take_n_minus_one_intervals() -> None:
    assert estimate_seconds(0, 80.0, quota_available=10) == 0.0
    assert estimate_seconds(1, 80.0, quota_available=10) == 0.0
    assert estimate_seconds(3, 1.0, quota_available=10) == 2.0


def test_without_any_quota_the_send_never_ends() -> None:
    assert estimate_seconds(1, 80.0, quota_available=0) == math.inf


def test_a_rate_must_be_positive() -> None:
    with pytest.raises(ValueError, match="positive"):
        estimate_seconds(10, 0.0, quota_available=10)


# -- sharing a number ----------------------------------------------------------------------


def simulate_shared(
    recipients: int,
    *,
    throughput: float,
    max_rate: float | None = None,
    others: tuple[Sharer, ...] = (),
) -> float:
    """Drive a real ``NumberScheduler`` with ``others`` already on the number and this bulk
    joining last; return when this bulk's last send started."""
    scheduler: NumberScheduler[str] = NumberScheduler(
        throughput_mps=throughput, retry_policy=RetryPolicy(random.Random(0))
    )
    left = {f"other{i}": other.remaining for i, other in enumerate(others)}
    for i, other in enumerate(others):
        scheduler.add_bulk(f"other{i}", max_rate=other.max_rate)
    scheduler.add_bulk("mine", max_rate=max_rate)
    left["mine"] = recipients
    now = 0.0
    while True:
        slot = scheduler.next_send(now)
        assert slot is not None
        scheduler.take(slot)
        now = slot.at
        left[slot.bulk_id] -= 1
        if left[slot.bulk_id] == 0:
            if slot.bulk_id == "mine":
                return now
            scheduler.remove_bulk(slot.bulk_id)


def test_alone_on_its_number_a_bulk_takes_its_spacing() -> None:
    assert shared_seconds(801, throughput=80.0) == pytest.approx(10.0)
    assert shared_seconds(801, throughput=80.0, max_rate=10.0) == pytest.approx(80.0)
    assert shared_seconds(1, throughput=80.0) == 0.0
    assert shared_seconds(801, throughput=80.0, others=[Sharer(remaining=0)]) == 10.0


def test_equal_bulks_share_the_number_until_the_first_is_done() -> None:
    # 40/s each until the other's 400 are out (10 s), then 80/s for the last 400 (5 s).
    others = (Sharer(remaining=400),)
    estimate = shared_seconds(801, throughput=80.0, others=others)
    assert estimate == pytest.approx(15.0)
    assert_close(estimate, simulate_shared(801, throughput=80.0, others=others))


def test_a_bulk_capped_below_its_share_leaves_the_rest_to_the_others() -> None:
    others = (Sharer(remaining=1000, max_rate=20.0),)
    estimate = shared_seconds(601, throughput=80.0, others=others)
    assert estimate == pytest.approx(600 / 60.0)
    assert_close(estimate, simulate_shared(601, throughput=80.0, others=others))
    # And a capped newcomer is not slowed down by the number's other bulks.
    assert shared_seconds(
        201, throughput=80.0, max_rate=10.0, others=(Sharer(remaining=5000),)
    ) == pytest.approx(20.0)


def test_several_bulks_leave_the_number_one_after_the_other() -> None:
    others = (Sharer(remaining=100), Sharer(remaining=300, max_rate=10.0), Sharer(remaining=900))
    estimate = shared_seconds(1001, throughput=80.0, others=others)
    actual = simulate_shared(1001, throughput=80.0, others=others)
    assert estimate > (100 + 1000) / 80.0
    assert_close(estimate, actual)


def test_a_fractional_throughput_is_estimated_at_the_whole_messages_a_second_it_lets_through() -> (
    None
):
    # Meta's rule counts whole messages: a number's gate at 2.5/s lets 2 into any second.
    gate = NumberGate(2.5, margin_seconds=0.02)
    starts = [gate.reserve(0.0) for _ in range(201)]

    achieved = 200 / (starts[-1] - starts[0])

    assert SendTiming(margin_seconds=0.02).number_rate(2.5) == pytest.approx(achieved, rel=0.01)
    assert SendTiming(margin_seconds=0.02).number_rate(0.5) == pytest.approx(0.5 / 1.02)
