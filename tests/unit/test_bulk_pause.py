"""Pausing and resuming a bulk while the engine sends it: nothing new starts while it is
PAUSED, resuming goes on where it stopped, and nobody gets the message twice. Virtual time."""

from __future__ import annotations

import asyncio
from collections import Counter
from datetime import UTC, datetime

import pytest

from mindo_core.domain.errors import FailedPrecondition
from mindo_core.engine.bulk_engine import EngineSettings
from tests.bulk_fakes import BulkWorld, eventually, run_world_virtually

START = datetime(2026, 11, 24, 12, 0, tzinfo=UTC)


def virtual(test: object) -> None:
    run_world_virtually(test, start=START, settings=EngineSettings(seed=3))  # type: ignore[arg-type]


async def sent_at_least(world: BulkWorld, count: int) -> None:
    async def enough() -> bool:
        return len(world.meta.calls) >= count

    await eventually(enough, limit=3600)


def test_nothing_new_starts_while_paused_and_resuming_sends_the_rest_once() -> None:
    async def scenario(world: BulkWorld) -> None:
        bulk = await world.submit(400)  # 80/s: 5 s
        await world.engine.start()
        await sent_at_least(world, 100)

        paused = await world.services.bulk_queries.pause(world.principal, bulk.id)
        assert paused.bulk.status == "PAUSED"
        at_pause = len(world.meta.calls)
        await asyncio.sleep(60)  # virtual: a minute paused

        during = len(world.meta.calls) - at_pause
        held = await world.bulk(bulk)
        assert during == 0
        assert held.status == "PAUSED"
        assert held.counters.pending + held.counters.sent == 400
        c = held.counters
        assert c.total == c.sent + c.failed + c.pending + c.cancelled

        resumed = await world.services.bulk_queries.resume(world.principal, bulk.id)
        assert resumed.bulk.status == "PROCESSING"
        # Re-planned from now: what is left at 80/s, not the whole bulk.
        assert resumed.bulk.estimated_time_minutes < bulk.estimated_time_minutes
        done = await world.finished(bulk, limit=3600)

        assert done.status == "COMPLETED"
        assert done.counters.sent == 400
        assert set(Counter(world.meta.calls).values()) == {1}

    virtual(scenario)


def test_pausing_a_finished_bulk_or_resuming_a_running_one_is_refused() -> None:
    async def scenario(world: BulkWorld) -> None:
        bulk = await world.submit(3)
        with pytest.raises(FailedPrecondition, match="only a PAUSED bulk send can be resumed"):
            await world.services.bulk_queries.resume(world.principal, bulk.id)
        await world.engine.start()
        await world.finished(bulk)
        with pytest.raises(FailedPrecondition, match="can be paused"):
            await world.services.bulk_queries.pause(world.principal, bulk.id)

    virtual(scenario)


def test_a_paused_bulk_can_be_cancelled() -> None:
    async def scenario(world: BulkWorld) -> None:
        bulk = await world.submit(400)
        await world.engine.start()
        await sent_at_least(world, 50)
        await world.services.bulk_queries.pause(world.principal, bulk.id)

        cancelled = await world.services.bulk_queries.cancel(world.principal, bulk.id)
        await asyncio.sleep(10)

        done = await world.bulk(bulk)
        assert cancelled.bulk.status == done.status == "CANCELLED"
        assert done.counters.sent + done.counters.cancelled == 400
        assert done.counters.pending == 0

    virtual(scenario)


def test_a_template_paused_by_meta_stops_a_paused_bulk_too() -> None:
    async def scenario(world: BulkWorld) -> None:
        bulk = await world.submit(400)
        await world.engine.start()
        await sent_at_least(world, 50)
        await world.services.bulk_queries.pause(world.principal, bulk.id)

        await world.meta_pauses_order_update()
        await asyncio.sleep(10)

        stopped = await world.bulk(bulk)
        assert stopped.status == "PARTIAL"
        assert stopped.stop_reason is not None
        assert "order_update" in stopped.stop_reason
        c = stopped.counters
        assert (c.pending, c.sent + c.cancelled) == (0, 400)
        with pytest.raises(FailedPrecondition):
            await world.services.bulk_queries.resume(world.principal, bulk.id)

    virtual(scenario)
