"""Calls to Meta are marked started in group commits: the marks asked together go in one write,
writes are a slice apart, and a call whose mark did not become durable does not start."""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from collections.abc import Set as AbstractSet
from datetime import datetime

import pytest

from mindo_core.domain.clock import SystemClock
from mindo_core.domain.messages import MessageId
from mindo_core.engine.settings import EngineSettings
from mindo_core.engine.start_marks import StartMarks


class _Marks:
    """A store of marks: every id is this worker's but ``foreign``; each write is recorded."""

    def __init__(self, *, foreign: AbstractSet[MessageId] = frozenset()) -> None:
        self.writes: list[tuple[list[MessageId], float]] = []
        self.foreign = foreign
        self.fail = False

    async def mark_calls_started(
        self, message_ids: Sequence[MessageId], *, worker: str, at: datetime
    ) -> AbstractSet[MessageId]:
        self.writes.append((list(message_ids), asyncio.get_running_loop().time()))
        await asyncio.sleep(0)
        if self.fail:
            raise OSError("database is locked")
        return {m for m in message_ids if m not in self.foreign}


def _marks(store: _Marks, slice_seconds: float = 0.005) -> StartMarks:
    return StartMarks(store, SystemClock(), worker="w", slice_seconds=slice_seconds)  # type: ignore[arg-type]


async def test_marks_asked_together_go_in_one_write() -> None:
    store = _Marks()
    marks = _marks(store)

    answers = await asyncio.gather(*(marks.started(MessageId(i)) for i in range(10)))

    assert answers == [True] * 10
    assert [ids for ids, _ in store.writes] == [[MessageId(i) for i in range(10)]]


async def test_writes_are_at_least_a_slice_apart() -> None:
    store = _Marks()
    marks = _marks(store, slice_seconds=0.05)

    await marks.started(MessageId(1))
    await asyncio.gather(marks.started(MessageId(2)), marks.started(MessageId(3)))

    (_, first), (second_ids, second) = store.writes
    assert second_ids == [MessageId(2), MessageId(3)]
    assert second - first >= 0.05 * 0.9  # the loop's clock is coarse by a little


async def test_a_call_no_longer_this_workers_is_not_started() -> None:
    store = _Marks(foreign={MessageId(2)})
    marks = _marks(store)

    answers = await asyncio.gather(marks.started(MessageId(1)), marks.started(MessageId(2)))

    assert answers == [True, False]


async def test_a_failed_write_starts_none_of_its_calls_and_the_next_write_goes_on() -> None:
    store = _Marks()
    marks = _marks(store)
    store.fail = True

    failed = await asyncio.gather(marks.started(MessageId(1)), marks.started(MessageId(2)))
    store.fail = False
    later = await marks.started(MessageId(3))

    assert (failed, later) == ([False, False], True)


async def test_a_mark_asked_ahead_is_durable_when_its_call_comes() -> None:
    store = _Marks()
    marks = _marks(store)

    marks.ask([MessageId(1), MessageId(2)])
    await asyncio.sleep(0.01)
    answers = [await marks.started(MessageId(1)), await marks.started(MessageId(2))]

    assert answers == [True, True]
    assert [ids for ids, _ in store.writes] == [[MessageId(1), MessageId(2)]]
    assert len(marks) == 0  # nothing kept once started


async def test_marks_forgotten_are_not_kept() -> None:
    marks = _marks(_Marks())

    marks.ask([MessageId(1), MessageId(2)])
    marks.forget([MessageId(1), MessageId(2)])

    assert len(marks) == 0


async def test_a_mark_counts_as_asked_until_its_call_starts_or_it_is_forgotten() -> None:
    marks = _marks(_Marks())

    marks.ask([MessageId(1), MessageId(2)])
    asked_before = [marks.asked(MessageId(m)) for m in (1, 2, 3)]
    await marks.started(MessageId(1))
    marks.forget([MessageId(2)])

    assert asked_before == [True, True, False]
    assert not marks.asked(MessageId(1))
    assert not marks.asked(MessageId(2))


def test_marks_lead_their_slots_by_20_ms_and_more_at_high_rates_up_to_100_ms() -> None:
    settings = EngineSettings()

    assert settings.mark_lead(80) == pytest.approx(0.02)
    assert settings.mark_lead(200) == pytest.approx(0.02)
    assert settings.mark_lead(500) == pytest.approx(0.05)
    assert settings.mark_lead(1000) == pytest.approx(0.1)
    assert settings.mark_lead(10_000) == pytest.approx(0.1)
