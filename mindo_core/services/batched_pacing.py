"""``BatchedPacing``: the single sends of one process that reserve slots of the same unheld number
at the same time, reserved in one statement.

Each reservation in the database is a transaction on the number's lease row (``NumberPacing``),
and those of one number run one after the other on that row: at a few hundred sends a second
they were the largest part of a single send's cost on PostgreSQL. Here, as the quota's decisions
are, the reservations asked while one is made wait and go together: ``k`` of them take one
block of ``k`` slots (``k`` times the spacing, in one statement), the first at the block's
start and each next one spacing later. The block is asked only if its last slot comes within
what the most impatient of them may wait, so every send still gets a slot within its own bound
and the slots keep their spacing: the number's cap holds as it did. A block refused because the
slots are taken too far is asked again one send at a time, each with its own bound, as before
batching; one refused because a worker holds the number sends each send to ask that worker. A
send whose caller went away leaves its slot unused.
"""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from dataclasses import dataclass

from mindo_core.domain.accounts import PhoneNumberRowId
from mindo_core.ports.number_pacing import NumberPacing, PacedSlot

__all__ = ["BatchedPacing"]


@dataclass(frozen=True)
class _Asking:
    spacing: float
    within: float
    answer: asyncio.Future[PacedSlot]


class BatchedPacing:
    """A ``NumberPacing`` over another, one block of slots per batch of concurrent asks."""

    def __init__(self, pacing: NumberPacing) -> None:
        self._pacing = pacing
        self._asking: dict[PhoneNumberRowId, list[_Asking]] = {}
        self._reserving: dict[PhoneNumberRowId, asyncio.Task[None]] = {}

    async def reserve(
        self, number: PhoneNumberRowId, *, spacing: float, within: float
    ) -> PacedSlot:
        asking = _Asking(spacing, within, asyncio.get_running_loop().create_future())
        self._asking.setdefault(number, []).append(asking)
        if number not in self._reserving:
            self._reserving[number] = asyncio.create_task(self._reserve_all(number))
        # Shielded: a caller that goes away does not stop the others' reservation.
        return await asyncio.shield(asking.answer)

    async def _reserve_all(self, number: PhoneNumberRowId) -> None:
        """Every batch of the number, the next being whoever asked while one was reserved."""
        try:
            while batch := self._asking.pop(number, None):
                try:
                    for block in _blocks(batch):
                        await self._reserve_block(number, block)
                except BaseException as error:
                    # No caller waits forever: those not answered get the failure.
                    for each in batch:
                        if not each.answer.done():
                            each.answer.set_exception(error)
                            each.answer.exception()  # retrieved: a caller gone logs nothing
                    if not isinstance(error, Exception):
                        raise
        finally:
            del self._reserving[number]

    async def _reserve_block(self, number: PhoneNumberRowId, block: Sequence[_Asking]) -> None:
        spacing = block[0].spacing
        if len(block) > 1:
            last_within = min(a.within for a in block) - (len(block) - 1) * spacing
            paced = await self._pacing.reserve(
                number, spacing=spacing * len(block), within=last_within
            )
            if paced.wait is not None:
                for i, asking in enumerate(block):
                    _answer(asking, PacedSlot(wait=paced.wait + i * spacing))
                return
            if paced.owned:  # a worker holds the number: each send asks it, none reserves
                for asking in block:
                    _answer(asking, paced)
                return
        for asking in block:
            _answer(
                asking, await self._pacing.reserve(number, spacing=spacing, within=asking.within)
            )


def _blocks(batch: Sequence[_Asking]) -> list[list[_Asking]]:
    """The batch in blocks whose last slot can come within each member's bound: asks of one
    spacing together, at most as many as fit in the shortest bound."""
    blocks: list[list[_Asking]] = []
    for asking in batch:
        current = blocks[-1] if blocks else None
        if current is not None and current[0].spacing == asking.spacing:
            shortest = min(asking.within, *(a.within for a in current))
            if len(current) * asking.spacing <= shortest:
                current.append(asking)
                continue
        blocks.append([asking])
    return blocks


def _answer(asking: _Asking, slot: PacedSlot) -> None:
    if not asking.answer.done():
        asking.answer.set_result(slot)
