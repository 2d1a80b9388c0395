"""One number's throughput shared by its bulks and its single sends: together they never exceed
the cap in any sliding second, a single send takes the next free slot before the bulk does,
and one whose slot is further away than it may wait takes nothing."""

from __future__ import annotations

import asyncio
import math
import random

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from mindo_core.domain.accounts import BusinessAccountId, PhoneNumber, PhoneNumberRowId
from mindo_core.domain.clock import SystemClock
from mindo_core.domain.errors import InvalidRequest, NumberAtCapacity
from mindo_core.services.local_send_slots import LocalSendSlots
from mindo_core.settings import Settings
from mindo_core.throughput.number_throughput import NumberThroughput
from mindo_core.throughput.number_throughputs import NumberThroughputs
from mindo_core.throughput.rate_gate import DEFAULT_MARGIN_SECONDS
from mindo_core.throughput.retry_policy import RetryPolicy
from mindo_core.throughput.scheduler import NumberScheduler

# A single send arrives (it may wait ``within`` seconds), or the bulk's loop takes a turn.
Event = tuple[str, float, float]
events = st.lists(
    st.tuples(
        st.sampled_from(["single", "bulk"]),
        st.floats(min_value=0.0, max_value=0.2),  # time since the previous event
        st.floats(min_value=0.0, max_value=1.0),  # how long the single send may wait
    ),
    min_size=1,
    max_size=400,
)


def shared(rate: float) -> tuple[NumberThroughput, NumberScheduler[str]]:
    throughput = NumberThroughput(rate)
    scheduler: NumberScheduler[str] = NumberScheduler(
        throughput_mps=rate, retry_policy=RetryPolicy(random.Random(0)), throughput=throughput
    )
    scheduler.add_bulk("campaign")
    return throughput, scheduler


def most_in_any_second(starts: list[float]) -> int:
    starts = sorted(starts)
    first, most = 0, 0
    for last, at in enumerate(starts):
        while at - starts[first] >= 1.0:
            first += 1
        most = max(most, last - first + 1)
    return most


@settings(max_examples=200, deadline=None)
@given(rate=st.sampled_from([1.0, 5.0, 20.0, 80.0]), events=events)
def test_single_sends_and_a_bulk_together_never_exceed_the_cap(
    rate: float, events: list[Event]
) -> None:
    throughput, scheduler = shared(rate)
    starts: list[float] = []
    now = 0.0
    for kind, elapsed, within in events:
        now += elapsed
        if kind == "single":
            at = throughput.claim(now, within=within)
            if at is not None:
                starts.append(at)
            continue
        # The engine's turn: it sends every slot that is due by now, as its loop would.
        while (slot := scheduler.next_send(now)) is not None and slot.at <= now:
            scheduler.take(slot)
            starts.append(slot.at)

    assert most_in_any_second(starts) <= max(1, math.floor(rate))


@settings(max_examples=200, deadline=None)
@given(rate=st.sampled_from([5.0, 80.0, 1000.0]), events=events)
def test_a_single_send_takes_the_next_free_slot_before_the_bulk(
    rate: float, events: list[Event]
) -> None:
    throughput, scheduler = shared(rate)
    now = 0.0
    for kind, elapsed, _ in events:
        now += elapsed
        if kind == "bulk":
            while (slot := scheduler.next_send(now)) is not None and slot.at <= now:
                scheduler.take(slot)
            continue
        bulk_next = scheduler.next_send(now)
        assert bulk_next is not None
        at = throughput.claim(now, within=math.inf)

        assert at is not None
        assert at <= bulk_next.at
        after = scheduler.next_send(now)
        # The bulk's next send comes no earlier (with time to make up, at the same moment).
        assert after is not None
        assert after.at >= at


def test_a_slot_further_away_than_the_send_may_wait_is_not_taken() -> None:
    throughput = NumberThroughput(2.0)  # one start every half second
    assert throughput.claim(0.0, within=0.1) == 0.0
    free = throughput.next_slot(0.0)

    assert free == pytest.approx(0.5, abs=0.01)
    assert throughput.claim(0.0, within=0.1) is None
    assert throughput.next_slot(0.0) == free  # nothing was taken
    assert throughput.claim(0.0, within=1.0) == free


def test_a_slow_down_pauses_the_single_sends_too() -> None:
    throughput = NumberThroughput(80.0)
    throughput.take(throughput.next_slot(10.0))

    assert throughput.slow_down(10.1, sent_at=10.0)
    assert throughput.current_rate(10.1) == 72.0
    assert throughput.claim(10.1, within=0.2) is None  # paused for a quarter of a second
    assert throughput.next_slot(10.1) >= 10.35


def test_the_registry_gives_one_throughput_per_number_and_applies_a_new_level() -> None:
    throughputs: NumberThroughputs[int] = NumberThroughputs()
    standard = throughputs.of(1, "STANDARD", 0.0)

    assert throughputs.of(1, "STANDARD", 1.0) is standard
    assert throughputs.of(2, "HIGH", 0.0).configured_rate == 1000.0
    assert throughputs.of(1, "HIGH", 2.0) is standard
    assert standard.configured_rate == 1000.0


def test_a_fixed_rate_overrides_every_level() -> None:
    throughputs: NumberThroughputs[int] = NumberThroughputs(fixed_mps=5000.0)

    assert throughputs.of(1, "STANDARD", 0.0).configured_rate == 5000.0


def demo_number(level: str = "STANDARD") -> PhoneNumber:
    return PhoneNumber(
        id=PhoneNumberRowId(1),
        business_account_id=BusinessAccountId(1),
        phone_number_id="813497231850626",
        display_phone_number="+54 11 5555-0000",
        verified_name="Demo",
        throughput_level=level,
    )


async def test_a_single_send_waits_for_its_slot_or_is_refused_with_when_to_retry() -> None:
    throughputs: NumberThroughputs[PhoneNumberRowId] = NumberThroughputs(fixed_mps=4.0)
    slots = LocalSendSlots(throughputs, SystemClock())
    loop = asyncio.get_running_loop()

    first = await slots.wait_for_slot(demo_number(), within=0.5)
    second = await slots.wait_for_slot(demo_number(), within=0.5)  # a quarter of a second on
    with pytest.raises(NumberAtCapacity) as refused:
        await slots.wait_for_slot(demo_number(), within=0.05)

    assert second - first == pytest.approx(0.25, abs=0.01)
    assert loop.time() >= second  # it returned once its slot had come
    assert refused.value.code == "number_at_capacity"
    assert 0.1 < refused.value.retry_after_seconds <= 0.26


def test_a_bulk_at_the_cap_yields_its_next_slot_to_a_single_send() -> None:
    throughput, scheduler = shared(80.0)
    now = 0.0
    while now < 1.0:  # a second of the bulk sending at the cap
        slot = scheduler.next_send(now)
        assert slot is not None
        scheduler.take(slot)
        now = slot.at
    bulk_next = scheduler.next_send(now)
    assert bulk_next is not None

    at = throughput.claim(now, within=0.1)
    after = scheduler.next_send(now)

    assert at == bulk_next.at  # the single send waits one slot at most
    assert after is not None
    assert after.at == pytest.approx(at + (1 + DEFAULT_MARGIN_SECONDS) / 80)


def test_the_slot_wait_and_a_fixed_throughput_are_read_from_the_environment() -> None:
    settings = Settings.from_env({"MINDO_SEND_SLOT_WAIT_S": "0.25", "MINDO_THROUGHPUT_MPS": "5000"})

    assert (settings.send_slot_wait_seconds, settings.throughput_mps) == (0.25, 5000.0)
    assert Settings.from_env({}).throughput_mps is None  # Meta's, from each number's level
    for wrong in ({"MINDO_THROUGHPUT_MPS": "inf"}, {"MINDO_SEND_SLOT_WAIT_S": "0"}):
        with pytest.raises(InvalidRequest, match=next(iter(wrong))):
            Settings.from_env(wrong)
