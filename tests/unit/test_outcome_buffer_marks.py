"""The outcome buffer writes the marks of calls started, and takes the outcomes waiting along in
the same transaction: on SQLite the marks never queue for the one writer behind a separate
outcome write. What a failed write carried stays first in line, and a mark refused or failed
does not start its call."""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from datetime import UTC, datetime

import pytest

from mindo_core.adapters.memory.progress_bus import InProcessProgressBus
from mindo_core.bulks.model import BulkId
from mindo_core.domain.clock import SystemClock
from mindo_core.domain.messages import MessageId
from mindo_core.engine.outcome_buffer import OutcomeBuffer
from mindo_core.engine.start_marks import StartMarks
from mindo_core.ports.bulks import RecipientOutcome, RecordedAndMarked

NOW = datetime(2026, 12, 7, tzinfo=UTC)


class _Store:
    """Records each combined write; every mark is this worker's."""

    def __init__(self) -> None:
        self.writes: list[tuple[list[MessageId], list[MessageId]]] = []
        self.fail = False

    async def record_outcomes_and_mark(
        self,
        outcomes: Sequence[RecipientOutcome],
        message_ids: Sequence[MessageId],
        *,
        worker: str,
        at: datetime,
    ) -> RecordedAndMarked:
        self.writes.append(([o.message_id for o in outcomes], list(message_ids)))
        await asyncio.sleep(0)
        if self.fail:
            raise OSError("database is locked")
        return RecordedAndMarked(bulks=(), marked=frozenset(message_ids))


def _outcome(message_id: int) -> RecipientOutcome:
    return RecipientOutcome(
        message_id=MessageId(message_id), bulk_id=BulkId("b"), kind="accept", at=NOW, wamid="w"
    )


def _buffer(store: _Store, *, worker: str = "w") -> OutcomeBuffer:
    return OutcomeBuffer(store, InProcessProgressBus(), max_batch=2, worker=worker)  # type: ignore[arg-type]


async def test_a_mark_write_takes_the_outcomes_waiting_up_to_a_batch() -> None:
    store = _Store()
    buffer = _buffer(store)
    for message_id in (1, 2, 3):
        buffer.add(_outcome(message_id))

    marked = await buffer.mark_calls_started([MessageId(9)], worker="w", at=NOW)

    assert marked == {MessageId(9)}
    assert store.writes == [([MessageId(1), MessageId(2)], [MessageId(9)])]
    assert len(buffer) == 1


async def test_a_failed_mark_write_keeps_its_outcomes_first_in_line() -> None:
    store = _Store()
    buffer = _buffer(store)
    buffer.add(_outcome(1))
    store.fail = True

    with pytest.raises(OSError, match="locked"):
        await buffer.mark_calls_started([MessageId(9)], worker="w", at=NOW)

    store.fail = False
    buffer.add(_outcome(2))
    await buffer.mark_calls_started([], worker="w", at=NOW)
    assert store.writes[-1] == ([MessageId(1), MessageId(2)], [])


async def test_outcomes_of_another_worker_name_do_not_ride_with_the_marks() -> None:
    store = _Store()
    buffer = _buffer(store, worker="other")
    buffer.add(_outcome(1))

    await buffer.mark_calls_started([MessageId(9)], worker="w", at=NOW)

    assert store.writes == [([], [MessageId(9)])]
    assert len(buffer) == 1


async def test_a_call_whose_combined_write_failed_does_not_start() -> None:
    store = _Store()
    store.fail = True
    marks = StartMarks(_buffer(store), SystemClock(), worker="w")

    assert await marks.started(MessageId(9)) is False
