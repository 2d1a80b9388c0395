"""WatchBulk with ``follow_delivery``: after sending ends the stream shows the delivered, read
and failed changes that status webhooks make, and ends once every accepted message is read or
failed, or when its bound passes; without it the stream ends with sending, as before."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from datetime import UTC, datetime

import pytest

from mindo_core.bulks.model import Bulk, BulkRecipient
from mindo_core.delivery.webhook_payloads import StatusUpdate
from mindo_core.domain.errors import InvalidRequest
from mindo_core.domain.messages import DeliveryState
from mindo_core.services.bulk_queries import BulkView
from tests.bulk_fakes import NUMBER, BulkWorld, bulk_world

AT = datetime(2026, 11, 24, 10, 0, tzinfo=UTC)


@pytest.fixture
async def world() -> AsyncIterator[BulkWorld]:
    world = await bulk_world()
    yield world
    await world.engine.stop()


async def sent_bulk(world: BulkWorld, count: int) -> tuple[Bulk, list[BulkRecipient]]:
    await world.engine.start()
    bulk = await world.finished(await world.submit(count))
    return bulk, await world.recipients(bulk)


async def webhook(world: BulkWorld, recipient: BulkRecipient, status: DeliveryState) -> None:
    update = StatusUpdate(
        wamid=recipient.wamid or "",
        status=status,
        at=AT,
        recipient_id=recipient.wa_id,
        phone_number_id=NUMBER,
        error_code=131026 if status == "failed" else None,
    )
    await world.services.status_writer.write([update])


async def collect(stream: AsyncIterator[BulkView]) -> list[Bulk]:
    return [view.bulk async for view in stream]


async def test_the_stream_follows_delivery_until_every_message_is_read_or_failed(
    world: BulkWorld,
) -> None:
    bulk, recipients = await sent_bulk(world, 3)
    stream = world.services.watch_bulk(world.principal, bulk.id, follow_delivery=True)
    first = (await anext(stream)).bulk

    for recipient in recipients:
        await webhook(world, recipient, "delivered")
    await webhook(world, recipients[0], "read")
    await webhook(world, recipients[1], "read")
    shown = [(await anext(stream)).bulk]
    while shown[-1].counters.read < 2:
        shown.append((await asyncio.wait_for(anext(stream), 10)).bulk)
    # recipients[2] is delivered only: a read receipt may follow, so the stream stays open.
    following = asyncio.ensure_future(anext(stream))
    await asyncio.sleep(0.3)
    assert not following.done()
    await webhook(world, recipients[2], "failed")
    shown.append((await asyncio.wait_for(following, 10)).bulk)
    shown += await asyncio.wait_for(collect(stream), 10)

    assert (first.status, first.counters.sent, first.counters.delivered) == ("COMPLETED", 3, 0)
    final = shown[-1]
    assert (final.status, final.counters.sent, final.counters.read) == ("PARTIAL", 2, 2)
    assert final.counters.failed == 1
    assert [b.counters.read for b in shown] == sorted(b.counters.read for b in shown)


async def test_a_stream_without_follow_delivery_ends_with_sending(world: BulkWorld) -> None:
    bulk, _ = await sent_bulk(world, 2)

    shown = await collect(world.services.watch_bulk(world.principal, bulk.id))

    assert [(b.status, b.counters.delivered) for b in shown] == [("COMPLETED", 0)]


async def test_delivered_messages_are_followed_until_the_bound_then_the_final_state_shows(
    world: BulkWorld,
) -> None:
    bulk, recipients = await sent_bulk(world, 2)
    stream = world.services.watch_bulk(
        world.principal, bulk.id, follow_delivery=True, follow_delivery_timeout=1
    )
    await anext(stream)
    for recipient in recipients:
        await webhook(world, recipient, "delivered")

    shown = await asyncio.wait_for(collect(stream), 10)

    assert shown[-1].counters.delivered == 2
    assert shown[-1].counters.read == 0


async def test_a_bulk_already_read_to_the_end_shows_once(world: BulkWorld) -> None:
    bulk, recipients = await sent_bulk(world, 2)
    for recipient in recipients:
        await webhook(world, recipient, "read")

    shown = await collect(world.services.watch_bulk(world.principal, bulk.id, follow_delivery=True))

    assert [(b.counters.sent, b.counters.read) for b in shown] == [(2, 2)]


async def test_a_cancelled_bulk_waits_only_for_what_was_sent(world: BulkWorld) -> None:
    bulk = await world.submit(3)
    await world.services.bulk_queries.cancel(world.principal, bulk.id)

    shown = await collect(world.services.watch_bulk(world.principal, bulk.id, follow_delivery=True))

    assert [(b.status, b.counters.cancelled) for b in shown] == [("CANCELLED", 3)]


@pytest.mark.parametrize("seconds", [0.5, -1, 7 * 24 * 3600 + 1])
async def test_a_bound_out_of_range_is_refused_before_anything_is_read(
    world: BulkWorld, seconds: float
) -> None:
    bulk = await world.submit(1)

    with pytest.raises(InvalidRequest) as refused:
        await collect(
            world.services.watch_bulk(
                world.principal, bulk.id, follow_delivery=True, follow_delivery_timeout=seconds
            )
        )

    assert list(refused.value.field_errors) == ["follow_delivery_timeout_seconds"]
    assert world.progress.subscriber_count(bulk.id) == 0
