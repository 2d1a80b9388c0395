"""Reservations of one number's slots asked at the same time go in one statement: a block of as
many slots, each send a slot of its own spaced as one at a time would be, every slot within
its send's bound; a block refused is asked again one send at a time."""

from __future__ import annotations

import asyncio

import pytest

from mindo_core.domain.accounts import PhoneNumberRowId
from mindo_core.ports.number_pacing import PacedSlot
from mindo_core.services.batched_pacing import BatchedPacing

NUMBER = PhoneNumberRowId(7)
SPACING = 0.01


class RowPacing:
    """The lease row's arithmetic (``SqlNumberPacing``) at a standing clock: ``paced_until``
    moves on by the spacing asked if the next slot starts within the bound. Statements are
    counted, and held until ``release`` is set."""

    def __init__(self, *, owned: bool = False) -> None:
        self.paced_until = 0.0
        self.owned = owned
        self.statements: list[tuple[float, float]] = []
        self.release = asyncio.Event()
        self.release.set()

    async def reserve(
        self, number: PhoneNumberRowId, *, spacing: float, within: float
    ) -> PacedSlot:
        self.statements.append((spacing, within))
        await self.release.wait()
        if self.owned or self.paced_until > within:
            return PacedSlot(wait=None, owned=self.owned, busy_for=self.paced_until)
        start = self.paced_until
        self.paced_until = start + spacing
        return PacedSlot(wait=start)


async def reserve_at_once(pacing: BatchedPacing, bounds: list[float]) -> list[PacedSlot]:
    return await asyncio.gather(
        *(pacing.reserve(NUMBER, spacing=SPACING, within=bound) for bound in bounds)
    )


async def test_concurrent_reservations_take_one_block_of_spaced_slots() -> None:
    row = RowPacing()
    row.release.clear()
    batched = BatchedPacing(row)
    first = asyncio.ensure_future(batched.reserve(NUMBER, spacing=SPACING, within=1.0))
    await asyncio.sleep(0)
    waiting = asyncio.ensure_future(reserve_at_once(batched, [1.0] * 5))
    await asyncio.sleep(0)
    row.release.set()

    slots = [await first, *await waiting]

    assert [s.wait for s in slots] == pytest.approx([0.0, 0.01, 0.02, 0.03, 0.04, 0.05])
    assert len(row.statements) == 2
    assert row.statements[1] == pytest.approx((5 * SPACING, 1.0 - 4 * SPACING))


async def test_no_slot_comes_later_than_its_send_may_wait() -> None:
    row = RowPacing()
    row.paced_until = 0.945
    slots = await reserve_at_once(BatchedPacing(row), [1.0] * 10)

    granted = [s.wait for s in slots if s.wait is not None]
    assert all(wait <= 1.0 for wait in granted)
    assert granted == pytest.approx([0.945, 0.955, 0.965, 0.975, 0.985, 0.995])
    assert sum(s.wait is None for s in slots) == 4


async def test_a_block_refused_because_a_worker_holds_the_number_tells_each_send() -> None:
    row = RowPacing(owned=True)
    slots = await reserve_at_once(BatchedPacing(row), [1.0, 1.0, 1.0])

    assert all(s.wait is None and s.owned for s in slots)
    assert len(row.statements) == 1


async def test_a_failed_statement_reaches_every_send_of_the_batch() -> None:
    class Broken(RowPacing):
        async def reserve(
            self, number: PhoneNumberRowId, *, spacing: float, within: float
        ) -> PacedSlot:
            raise ConnectionError("the database went away")

    batched = BatchedPacing(Broken())
    outcomes = await asyncio.gather(
        *(batched.reserve(NUMBER, spacing=SPACING, within=1.0) for _ in range(3)),
        return_exceptions=True,
    )
    assert len(outcomes) == 3
    assert all(isinstance(outcome, ConnectionError) for outcome in outcomes)
