"""A number's scheduler as the bulk engine drives it: ask for a slot, take it, report back."""

from __future__ import annotations

import random

import pytest

from mindo_core.throughput.pacing import Pacing, bulk_rate_cap
from mindo_core.throughput.retry_policy import RetryPolicy, SendOutcome
from mindo_core.throughput.scheduler import NumberScheduler, Slot


def number(throughput: float = 80.0, *, bursts: bool = False) -> NumberScheduler[str]:
    return NumberScheduler(
        throughput_mps=throughput, retry_policy=RetryPolicy(random.Random(0)), bursts=bursts
    )


def run(scheduler: NumberScheduler[str], *, until: float, now: float = 0.0) -> list[Slot[str]]:
    slots: list[Slot[str]] = []
    while (slot := scheduler.next_send(now)) is not None and slot.at < until:
        scheduler.take(slot)
        slots.append(slot)
        now = slot.at
    return slots


def most_in_any_second(slots: list[Slot[str]]) -> int:
    times = [slot.at for slot in slots]
    return max(
        sum(1 for other in times[i:] if other < start + 1.0) for i, start in enumerate(times)
    )


def test_nothing_to_send_without_a_bulk() -> None:
    assert number().next_send(0.0) is None


def test_a_lone_bulk_sends_at_the_numbers_throughput() -> None:
    scheduler = number(80.0)
    scheduler.add_bulk("bulk")
    slots = run(scheduler, until=10.0)
    assert 0.97 * 800 <= len(slots) <= 800
    assert most_in_any_second(slots) <= 80


def test_sends_are_spaced_evenly_unless_bursts_are_asked_for() -> None:
    even, bursty = number(80.0), number(80.0, bursts=True)
    even.add_bulk("bulk")
    bursty.add_bulk("bulk")
    assert [slot.at for slot in run(even, until=0.03)] == pytest.approx([0.0, 0.0125, 0.025], 0.01)
    assert [slot.at for slot in run(bursty, until=0.03)] == [0.0] * 80


def test_asking_does_not_take_the_slot() -> None:
    scheduler = number()
    scheduler.add_bulk("bulk")
    assert scheduler.next_send(0.0) == scheduler.next_send(0.0) == Slot(bulk_id="bulk", at=0.0)


def test_a_tier_paced_bulk_sends_at_its_documented_spacing() -> None:
    scheduler = number(80.0)
    scheduler.add_bulk("bulk", max_rate=bulk_rate_cap(Pacing(mode="tier"), "TIER_250"))
    slots = run(scheduler, until=2.0)
    assert [round(slot.at, 2) for slot in slots] == [
        0.0,
        0.24,
        0.48,
        0.72,
        0.96,
        1.2,
        1.44,
        1.68,
        1.92,
    ]


def test_a_lower_throughput_is_respected_from_the_next_slot() -> None:
    scheduler = number(80.0)
    scheduler.add_bulk("bulk")
    before = run(scheduler, until=1.0)
    scheduler.set_throughput(20.0, now=before[-1].at)
    after = run(scheduler, until=5.0, now=before[-1].at)
    assert scheduler.current_rate(5.0) == 20.0
    assert most_in_any_second(after) <= 20


def test_a_campaign_stopping_code_takes_the_bulk_out_and_the_others_go_on() -> None:
    scheduler = number()
    scheduler.add_bulk("paused-template")
    scheduler.add_bulk("other")
    decision = scheduler.report(
        bulk_id="paused-template",
        recipient="+1",
        outcome=SendOutcome.stop(132015, title="Template is paused"),
        attempt=1,
        sent_at=0.0,
        now=0.1,
    )
    assert decision.action == "stop"
    assert "template is paused" in decision.reason
    assert scheduler.bulk_ids == ("other",)
    assert {slot.bulk_id for slot in run(scheduler, until=1.0, now=0.1)} == {"other"}


def test_a_permanent_error_leaves_the_number_and_the_bulk_alone() -> None:
    scheduler = number()
    scheduler.add_bulk("bulk")
    decision = scheduler.report(
        bulk_id="bulk",
        recipient="+1",
        outcome=SendOutcome.permanent(131026, title="Message undeliverable"),
        attempt=1,
        sent_at=0.0,
        now=0.1,
    )
    assert (decision.action, decision.meta_code) == ("give_up", 131026)
    assert scheduler.current_rate(0.1) == 80.0
    assert scheduler.next_send(0.1) == Slot(bulk_id="bulk", at=0.1)


def test_numbers_do_not_slow_each_other_down() -> None:
    first, second = number(), number()
    first.add_bulk("a")
    second.add_bulk("b")
    first.report(
        bulk_id="a",
        recipient="+1",
        outcome=SendOutcome.throttled(130429),
        attempt=1,
        sent_at=0.0,
        now=0.0,
    )
    assert first.current_rate(0.0) == 72.0
    assert second.current_rate(0.0) == 80.0
    assert second.next_send(0.0) == Slot(bulk_id="b", at=0.0)


def test_the_number_recovers_its_throughput_after_a_quiet_period() -> None:
    scheduler = number()
    scheduler.add_bulk("bulk")
    scheduler.report(
        bulk_id="bulk",
        recipient="+1",
        outcome=SendOutcome.throttled(130429),
        attempt=1,
        sent_at=0.0,
        now=0.0,
    )
    slots = run(scheduler, until=20.0)
    late = [slot for slot in slots if slot.at >= 15.0]
    assert scheduler.current_rate(15.0) == 80.0
    assert len(late) >= 0.97 * 80 * 5
