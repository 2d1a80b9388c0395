"""WatchBulk: the current snapshot, then changes at most every 100 ms (always the newest), then
the final snapshot, then the end; unknown or foreign bulks are not found; leaving unsubscribes."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from dataclasses import replace

import pytest

from mindo_core.adapters.memory.progress_bus import InProcessProgressBus
from mindo_core.bulks.model import Bulk, BulkCounters, BulkStatus
from mindo_core.domain.errors import BulkNotFound
from mindo_core.services.bulk_queries import BulkView
from mindo_core.services.watch_bulk import WatchBulk
from tests.bulk_fakes import BulkWorld, bulk_world, tenant


@pytest.fixture
async def world() -> AsyncIterator[BulkWorld]:
    world = await bulk_world()
    yield world
    await world.engine.stop()


def progressed(bulk: Bulk, sent: int) -> Bulk:
    total = bulk.counters.total
    counters = BulkCounters(total=total, sent=sent, pending=total - sent)
    status: BulkStatus = "COMPLETED" if sent == total else "PROCESSING"
    return replace(bulk, status=status, counters=counters)


async def collect(stream: AsyncIterator[BulkView]) -> list[Bulk]:
    return [view.bulk async for view in stream]


@pytest.mark.parametrize("bulk_id", ["nope", "a3f2b8c9-4d5e-6f7a-8b9c-0d1e2f3a4b5c"])
async def test_an_unknown_or_malformed_bulk_is_not_found(world: BulkWorld, bulk_id: str) -> None:
    with pytest.raises(BulkNotFound):
        await collect(world.services.watch_bulk(world.principal, bulk_id))


async def test_another_organisations_bulk_is_not_found(world: BulkWorld) -> None:
    bulk = await world.submit(1)
    stranger = await tenant(world.services, "Stranger", connect=False)

    with pytest.raises(BulkNotFound):
        await collect(world.services.watch_bulk(stranger, bulk.id))

    assert isinstance(world.progress, InProcessProgressBus)
    assert world.progress.subscriber_count(bulk.id) == 0


async def test_a_bulk_that_is_over_shows_once_and_the_stream_ends(world: BulkWorld) -> None:
    bulk = await world.submit(2)
    await world.services.bulk_queries.cancel(world.principal, bulk.id)

    shown = await collect(world.services.watch_bulk(world.principal, bulk.id))

    assert [b.status for b in shown] == ["CANCELLED"]


async def test_the_stream_follows_a_running_bulk_to_its_final_snapshot(world: BulkWorld) -> None:
    bulk = await world.submit(300, pacing="1000")
    stream = world.services.watch_bulk(world.principal, bulk.id)
    first = await anext(stream)
    await world.engine.start()

    rest = await asyncio.wait_for(collect(stream), 10)

    assert first.bulk.status == "QUEUED"
    assert (first.template.name, first.phone_number.id) == (
        "order_update",
        bulk.phone_number_row_id,
    )
    assert rest[-1].status == "COMPLETED"
    assert rest[-1].counters.sent == 300
    assert [b.counters.processed for b in rest] == sorted(b.counters.processed for b in rest)


async def test_a_slow_watcher_gets_the_newest_snapshot_not_every_one(world: BulkWorld) -> None:
    bulk = await world.submit(1000)
    bus = world.progress
    stream = world.services.watch_bulk(world.principal, bulk.id)
    await anext(stream)

    # The watcher reads nothing while 1,000 changes are published.
    for sent in range(1, 1001):
        bus.publish(bulk.id, progressed(bulk, sent))
    shown = await collect(stream)

    assert shown == [progressed(bulk, 1000)]


async def test_changes_close_together_are_coalesced_to_the_newest(world: BulkWorld) -> None:
    bulk = await world.submit(10)
    bus = world.progress
    watch = WatchBulk(world.services.bulk_queries, bus, world.clock, min_interval=0.05)
    stream = watch(world.principal, bulk.id)
    await anext(stream)
    bus.publish(bulk.id, progressed(bulk, 1))

    second: asyncio.Task[BulkView] = asyncio.ensure_future(anext(stream))
    # Published while the watcher waits out its interval after the first change.
    for sent in range(2, 6):
        await asyncio.sleep(0)
        bus.publish(bulk.id, progressed(bulk, sent))
    shown = (await second).bulk
    bus.publish(bulk.id, progressed(bulk, 10))
    rest = await collect(stream)

    assert shown.counters.sent == 5
    assert rest == [progressed(bulk, 10)]


async def test_hundreds_of_watchers_all_see_the_end(world: BulkWorld) -> None:
    bulk = await world.submit(200)
    streams = [world.services.watch_bulk(world.principal, bulk.id) for _ in range(300)]
    for stream in streams:
        await anext(stream)
    await world.engine.start()

    finals = await asyncio.wait_for(asyncio.gather(*(collect(s) for s in streams)), 20)

    assert all(shown[-1].status == "COMPLETED" for shown in finals)
    assert isinstance(world.progress, InProcessProgressBus)
    assert world.progress.subscriber_count(bulk.id) == 0


async def test_a_watcher_that_leaves_unsubscribes(world: BulkWorld) -> None:
    bulk = await world.submit(3)
    stream = world.services.watch_bulk(world.principal, bulk.id)
    await anext(stream)
    bus = world.progress
    assert isinstance(bus, InProcessProgressBus)
    assert bus.subscriber_count(bulk.id) == 1

    await stream.aclose()  # type: ignore[attr-defined]

    assert bus.subscriber_count(bulk.id) == 0


async def test_a_change_the_bus_did_not_carry_shows_after_a_refresh(world: BulkWorld) -> None:
    bulk = await world.submit(2)
    watch = WatchBulk(
        world.services.bulk_queries, world.progress, world.clock, refresh_interval=0.01
    )
    stream = watch(world.principal, bulk.id)
    await anext(stream)

    # Cancelled without the bus hearing of it (as another process would).
    await world.stores.bulks.stop_bulk(bulk.id, now=world.clock.now(), reason=None, cancelled=True)
    shown = await asyncio.wait_for(collect(stream), 5)

    assert [b.status for b in shown] == ["CANCELLED"]
