"""Single sends' slots where processes share a database: the holder of a number paces it in
memory and answers the others' asks from the same pacing (first, as its own single sends);
another process asks the holder, or reserves in the database when nobody holds the number; a
holder that does not answer makes the send fail as unavailable, a full number as at capacity."""

from __future__ import annotations

import asyncio

import pytest

from mindo_core.domain.accounts import BusinessAccountId, PhoneNumber, PhoneNumberRowId
from mindo_core.domain.clock import SystemClock
from mindo_core.domain.errors import NumberAtCapacity, Unavailable
from mindo_core.ports.number_pacing import PacedSlot
from mindo_core.ports.slot_asks import SlotAnswer, SlotGranter
from mindo_core.services.cluster_send_slots import ClusterSendSlots
from mindo_core.throughput.number_throughputs import NumberThroughputs

NUMBER = PhoneNumber(
    id=PhoneNumberRowId(7),
    business_account_id=BusinessAccountId(1),
    phone_number_id="813497231850626",
    display_phone_number="+54 11 5555-0000",
    verified_name="Demo",
)


class FakePacing:
    """The database's answer, fixed; the reservations asked for, kept."""

    def __init__(self, answer: PacedSlot) -> None:
        self.answer = answer
        self.asked: list[tuple[PhoneNumberRowId, float, float]] = []

    async def reserve(
        self, number: PhoneNumberRowId, *, spacing: float, within: float
    ) -> PacedSlot:
        self.asked.append((number, spacing, within))
        return self.answer


class FakeAsks:
    """Asks go to ``holder`` (another process's ``ClusterSendSlots.answer``), or nowhere."""

    def __init__(self) -> None:
        self.holder: SlotGranter | None = None
        self.answering: SlotGranter | None = None

    def answer_with(self, granter: SlotGranter) -> None:
        self.answering = granter

    async def ask(self, number: PhoneNumber, *, within: float) -> SlotAnswer:
        if self.holder is not None:
            answer = self.holder(number.id, number.throughput_level, within)
            if answer is not None:
                return answer
        await asyncio.Event().wait()  # nobody answers
        raise AssertionError("unreachable")


def process(
    *, holds: bool, pacing: FakePacing | None = None, asks: FakeAsks | None = None
) -> tuple[ClusterSendSlots, NumberThroughputs[PhoneNumberRowId]]:
    throughputs: NumberThroughputs[PhoneNumberRowId] = NumberThroughputs(fixed_mps=10.0)
    slots = ClusterSendSlots(
        throughputs=throughputs,
        holds=lambda number: holds and number == NUMBER.id,
        pacing=pacing or FakePacing(PacedSlot(wait=0.0)),
        asks=asks or FakeAsks(),
        clock=SystemClock(),
        ask_timeout=0.2,
    )
    return slots, throughputs


async def test_the_holder_paces_its_own_single_sends_in_memory() -> None:
    pacing = FakePacing(PacedSlot(wait=0.0))
    slots, throughputs = process(holds=True, pacing=pacing)

    first = await slots.wait_for_slot(NUMBER, within=1.0)
    second = await slots.wait_for_slot(NUMBER, within=1.0)

    assert pacing.asked == []  # never the database
    assert second - first == pytest.approx(throughputs.spacing("STANDARD"), abs=0.005)


async def test_a_process_that_does_not_hold_an_unheld_number_reserves_in_the_database() -> None:
    pacing = FakePacing(PacedSlot(wait=0.05))
    slots, throughputs = process(holds=False, pacing=pacing)
    loop = asyncio.get_running_loop()

    began = loop.time()
    at = await slots.wait_for_slot(NUMBER, within=0.7)

    assert pacing.asked == [(NUMBER.id, throughputs.spacing("STANDARD"), 0.7)]
    assert loop.time() - began >= 0.05
    assert at >= began + 0.05


def holder_and_asker() -> tuple[ClusterSendSlots, NumberThroughputs[PhoneNumberRowId]]:
    """Two processes: one holds the number, the other's asks reach it. The asker, and the
    holder's throughputs."""
    holder_asks, asker_asks = FakeAsks(), FakeAsks()
    _, holder_throughputs = process(holds=True, asks=holder_asks)
    owned = FakePacing(PacedSlot(wait=None, owned=True))
    asker, _ = process(holds=False, pacing=owned, asks=asker_asks)
    asker_asks.holder = holder_asks.answering
    return asker, holder_throughputs


async def test_a_held_number_s_slot_comes_from_its_holder_before_the_holder_s_bulk() -> None:
    asker, holder_throughputs = holder_and_asker()
    now = asyncio.get_running_loop().time
    throughput = holder_throughputs.of(NUMBER.id, "STANDARD", now())
    bulk_next = throughput.next_slot(now())

    await asker.wait_for_slot(NUMBER, within=1.0)

    # The ask took the slot the holder's bulk would have had next; the bulk's moved back.
    assert throughput.next_slot(now()) > bulk_next


async def test_a_holder_whose_slots_are_taken_further_than_the_send_may_wait_refuses() -> None:
    asker, _ = holder_and_asker()
    await asker.wait_for_slot(NUMBER, within=1.0)  # the next slot is now 0.1 s away

    with pytest.raises(NumberAtCapacity) as refused:
        await asker.wait_for_slot(NUMBER, within=0.01)

    assert 0.05 < refused.value.retry_after_seconds <= 0.11


async def test_a_holder_that_does_not_answer_makes_the_send_unavailable() -> None:
    asker, _ = process(holds=False, pacing=FakePacing(PacedSlot(wait=None, owned=True)))

    with pytest.raises(Unavailable):
        await asker.wait_for_slot(NUMBER, within=1.0)


async def test_an_unheld_number_whose_slots_are_taken_too_far_is_at_capacity() -> None:
    slots, _ = process(holds=False, pacing=FakePacing(PacedSlot(wait=None, busy_for=2.5)))

    with pytest.raises(NumberAtCapacity) as refused:
        await slots.wait_for_slot(NUMBER, within=1.0)

    assert refused.value.retry_after_seconds == 2.5


def test_a_process_answers_only_for_the_numbers_it_holds() -> None:
    holder, _ = process(holds=True)
    other, _ = process(holds=False)

    assert other.answer(NUMBER.id, "STANDARD", 1.0) is None
    granted = holder.answer(NUMBER.id, "STANDARD", 1.0)
    assert granted is not None
    assert granted.wait == 0.0
