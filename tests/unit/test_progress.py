"""The progress bus: publishing never waits, each subscriber sees the newest snapshot, and a
slow subscriber only skips snapshots, it never holds anything up."""

from __future__ import annotations

import asyncio
from dataclasses import replace
from datetime import UTC, datetime

from mindo_core.adapters.memory.progress_bus import InProcessProgressBus
from mindo_core.bulks.model import Bulk, BulkCounters, BulkId
from mindo_core.domain.accounts import OrganisationId, PhoneNumberRowId
from mindo_core.domain.templates import TemplateId

BULK = BulkId("a3f2b8c9-4d5e-6f7a-8b9c-0d1e2f3a4b5c")
OTHER = BulkId("b4c3d9e0-5f6a-7b8c-9d0e-1f2a3b4c5d6e")


def snapshot(sent: int, bulk_id: BulkId = BULK) -> Bulk:
    return Bulk(
        id=bulk_id,
        task_id="task",
        organisation_id=OrganisationId(1),
        phone_number_row_id=PhoneNumberRowId(2),
        template_id=TemplateId(3),
        template_name="order_update",
        language="es",
        status="PROCESSING",
        counters=BulkCounters(total=1000, sent=sent, pending=1000 - sent),
        total_recipients=1000,
        estimated_time_minutes=1.0,
        created_at=datetime(2026, 11, 24, tzinfo=UTC),
    )


async def test_a_subscriber_gets_the_newest_snapshot_and_skips_the_ones_in_between() -> None:
    bus = InProcessProgressBus()
    subscription = bus.subscribe(BULK)

    for sent in range(1000):
        bus.publish(BULK, snapshot(sent))

    assert await subscription.next() == snapshot(999)
    assert subscription.poll() is None


async def test_next_waits_for_a_publication() -> None:
    bus = InProcessProgressBus()
    subscription = bus.subscribe(BULK)
    waiting = asyncio.create_task(subscription.next())
    await asyncio.sleep(0)

    assert not waiting.done()
    bus.publish(BULK, snapshot(1))
    assert await waiting == snapshot(1)


async def test_subscribers_see_only_their_bulk() -> None:
    bus = InProcessProgressBus()
    mine = bus.subscribe(BULK)

    bus.publish(OTHER, snapshot(5, OTHER))

    assert mine.poll() is None


async def test_hundreds_of_subscribers_each_get_the_snapshot_and_can_leave() -> None:
    bus = InProcessProgressBus()
    subscriptions = [bus.subscribe(BULK) for _ in range(500)]

    bus.publish(BULK, snapshot(7))
    received = await asyncio.gather(*(s.next() for s in subscriptions))
    for subscription in subscriptions:
        subscription.close()
        subscription.close()

    assert received == [snapshot(7)] * 500
    assert bus.subscriber_count(BULK) == 0


async def test_a_subscriber_that_never_reads_holds_one_snapshot_at_most() -> None:
    bus = InProcessProgressBus()
    idle = bus.subscribe(BULK)
    reader = bus.subscribe(BULK)

    for sent in range(10_000):
        bus.publish(BULK, snapshot(sent))
    latest = await reader.next()

    assert latest == snapshot(9_999)
    assert idle.poll() == latest
    assert idle.poll() is None


async def test_publishing_a_changed_copy_is_what_subscribers_see() -> None:
    bus = InProcessProgressBus()
    subscription = bus.subscribe(BULK)
    finished = replace(snapshot(1000), status="COMPLETED")

    bus.publish(BULK, snapshot(10))
    bus.publish(BULK, finished)

    assert await subscription.next() == finished
