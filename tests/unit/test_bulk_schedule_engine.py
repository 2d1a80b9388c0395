"""A scheduled bulk under the engine, in virtual time: nothing is sent before send_at, it
starts at send_at (not at the supervisor's next poll), a paused one does not start until it is
resumed (and then waits for its time if that is still ahead), and a template Meta pauses before
its time stops it with the reason."""

from __future__ import annotations

import asyncio
from collections import Counter
from datetime import UTC, datetime, timedelta

from mindo_core.engine.bulk_engine import EngineSettings
from tests.bulk_fakes import BulkWorld, run_world_virtually

START = datetime(2026, 11, 24, 12, 0, tzinfo=UTC)


def virtual(test: object) -> None:
    # A long poll: starting on time must not depend on it.
    settings = EngineSettings(seed=3, poll_interval=30.0)
    run_world_virtually(test, start=START, settings=settings)  # type: ignore[arg-type]


def in_minutes(world: BulkWorld, minutes: float) -> str:
    return (world.clock.now() + timedelta(minutes=minutes)).isoformat()


def test_nothing_is_sent_before_send_at_and_the_bulk_starts_at_send_at() -> None:
    async def scenario(world: BulkWorld) -> None:
        await world.engine.start()
        # Between two polls: 20 and 21 × 30 s.
        send_at = world.clock.now() + timedelta(seconds=607)
        bulk = await world.submit(40, send_at=send_at.isoformat())

        await asyncio.sleep(606)  # virtual: a second before its time
        waiting = await world.bulk(bulk)
        assert (waiting.status, waiting.counters.pending) == ("SCHEDULED", 40)
        assert world.meta.calls == []

        done = await world.finished(bulk, limit=60)
        assert done.status == "COMPLETED"
        assert done.started_at is not None
        assert send_at <= done.started_at < send_at + timedelta(seconds=1)
        assert set(Counter(world.meta.calls).values()) == {1}

    virtual(scenario)


def test_a_paused_scheduled_bulk_waits_past_its_time_until_resumed() -> None:
    async def scenario(world: BulkWorld) -> None:
        await world.engine.start()
        bulk = await world.submit(3, send_at=in_minutes(world, 5))

        paused = await world.services.bulk_queries.pause(world.principal, bulk.id)
        await asyncio.sleep(600)  # virtual: five minutes past its time
        still = await world.bulk(bulk)
        resumed = await world.services.bulk_queries.resume(world.principal, bulk.id)
        done = await world.finished(bulk, limit=60)

        assert paused.bulk.status == "PAUSED"
        assert (still.status, still.counters.pending) == ("PAUSED", 3)
        assert resumed.bulk.status in ("SCHEDULED", "QUEUED", "PROCESSING")
        assert done.status == "COMPLETED"
        assert set(Counter(world.meta.calls).values()) == {1}

    virtual(scenario)


def test_a_scheduled_bulk_resumed_before_its_time_waits_for_it() -> None:
    async def scenario(world: BulkWorld) -> None:
        await world.engine.start()
        send_at = world.clock.now() + timedelta(minutes=5)
        bulk = await world.submit(3, send_at=send_at.isoformat())

        await world.services.bulk_queries.pause(world.principal, bulk.id)
        resumed = await world.services.bulk_queries.resume(world.principal, bulk.id)
        await asyncio.sleep(60)
        waiting, calls_before = await world.bulk(bulk), list(world.meta.calls)
        done = await world.finished(bulk, limit=600)

        assert resumed.bulk.status == "SCHEDULED"
        assert (waiting.status, calls_before) == ("SCHEDULED", [])
        assert done.started_at is not None
        assert done.started_at >= send_at

    virtual(scenario)


def test_a_template_paused_by_meta_before_send_at_stops_the_scheduled_bulk() -> None:
    async def scenario(world: BulkWorld) -> None:
        await world.engine.start()
        bulk = await world.submit(5, send_at=in_minutes(world, 5))

        await world.meta_pauses_order_update()
        await asyncio.sleep(600)

        stopped = await world.bulk(bulk)
        assert stopped.status == "FAILED"
        assert stopped.stop_reason is not None
        assert "order_update" in stopped.stop_reason
        assert (stopped.counters.pending, stopped.counters.cancelled) == (0, 5)
        assert world.meta.calls == []

    virtual(scenario)
