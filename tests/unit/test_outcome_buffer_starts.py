"""The outcome buffer as the engine's one writer: call starts written at once, outcomes with
them only when due, and a start lead that follows slow writes (fakes of our own port)."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Sequence
from contextlib import asynccontextmanager
from datetime import UTC, datetime
from typing import cast

import pytest

from mindo_core.adapters.memory.progress_bus import InProcessProgressBus
from mindo_core.bulks.model import Bulk, BulkId
from mindo_core.domain.clock import SystemClock
from mindo_core.domain.messages import MessageId
from mindo_core.engine.outcome_buffer import OutcomeBuffer
from mindo_core.ports.bulks import BulkStore, RecipientOutcome, RecordedCalls

AT = datetime(2026, 1, 1, tzinfo=UTC)


class _Writes:
    """Records each write: (starts, outcomes). Starts of odd ids are refused (settled
    meanwhile); a write takes ``delay`` seconds, or fails while ``failing``."""

    def __init__(self, delay: float = 0.0) -> None:
        self.delay = delay
        self.failing = False
        self.writes: list[tuple[list[MessageId], list[MessageId]]] = []

    async def record_outcomes(
        self, outcomes: Sequence[RecipientOutcome], *, worker: str | None = None
    ) -> Sequence[Bulk]:
        return (await self._write([], outcomes)).bulks

    async def record_calls(
        self,
        *,
        started: Sequence[MessageId],
        outcomes: Sequence[RecipientOutcome],
        worker: str | None,
        now: datetime,
    ) -> RecordedCalls:
        assert worker == "w1"
        return await self._write(started, outcomes)

    async def _write(
        self, started: Sequence[MessageId], outcomes: Sequence[RecipientOutcome]
    ) -> RecordedCalls:
        await asyncio.sleep(self.delay)
        if self.failing:
            raise OSError("disk full")
        self.writes.append((list(started), [o.message_id for o in outcomes]))
        return RecordedCalls(started={m for m in started if m % 2 == 0}, bulks=())


def _outcome(message_id: int) -> RecipientOutcome:
    return RecipientOutcome(
        message_id=MessageId(message_id), bulk_id=BulkId("b1"), kind="accepted", at=AT
    )


@asynccontextmanager
async def _running(writes: _Writes, *, interval: float = 30.0) -> AsyncIterator[OutcomeBuffer]:
    buffer = OutcomeBuffer(
        cast(BulkStore, writes),
        InProcessProgressBus(),
        clock=SystemClock(),
        interval=interval,
        worker="w1",
    )
    task = asyncio.create_task(buffer.run())
    try:
        yield buffer
    finally:
        task.cancel()
        await asyncio.gather(task, return_exceptions=True)


async def test_a_start_is_written_at_once_without_the_outcomes_not_yet_due() -> None:
    writes = _Writes()
    async with _running(writes) as buffer:  # outcomes due only after 30 s
        buffer.add(_outcome(1))
        assert await buffer.started(MessageId(2)) is True
        assert writes.writes == [([MessageId(2)], [])]
        await buffer.flush()
    assert writes.writes[-1] == ([], [MessageId(1)])


async def test_outcomes_due_ride_in_the_same_write_as_the_starts() -> None:
    writes = _Writes()
    async with _running(writes, interval=0.01) as buffer:
        buffer.add(_outcome(1))
        await asyncio.sleep(0.05)  # past the interval: due, if not written already
        asked = [asyncio.ensure_future(buffer.started(MessageId(m))) for m in (2, 3, 4)]
        answers = await asyncio.gather(*asked)
    assert answers == [True, False, True]  # 3 was settled meanwhile: its call must not go
    assert [starts for starts, _ in writes.writes if starts] == [[2, 3, 4]]
    assert sum(len(outcomes) for _, outcomes in writes.writes) == 1


async def test_a_failed_write_fails_its_starts_and_keeps_its_outcomes() -> None:
    writes = _Writes()
    writes.failing = True
    async with _running(writes, interval=0.01) as buffer:
        buffer.add(_outcome(1))
        with pytest.raises(OSError, match="disk full"):
            await buffer.started(MessageId(2))
        writes.failing = False
        await buffer.flush()
    assert writes.writes == [([], [MessageId(1)])]


async def test_the_start_lead_follows_slow_writes_up_to_a_bound() -> None:
    writes = _Writes()
    async with _running(writes) as buffer:
        await buffer.started(MessageId(2))
        assert buffer.start_lead == 0.05  # quick writes: the lead as set
        writes.delay = 0.1
        await buffer.started(MessageId(4))
        assert 0.1 < buffer.start_lead <= 0.25
        writes.delay = 0.4
        await buffer.started(MessageId(6))
        assert buffer.start_lead == 0.25
