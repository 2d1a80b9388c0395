"""WatchBulks: an initial message with the organisation's bulks not over yet, then every change
to any of its bulks (submitted, sending, ended, moved by a webhook), never another
organisation's; a change the bus did not carry shows after a refresh; leaving unsubscribes."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator
from dataclasses import replace
from datetime import UTC, datetime

import pytest

from mindo_core.bulks.model import BulkId
from mindo_core.delivery.webhook_payloads import StatusUpdate
from mindo_core.domain.accounts import OrganisationId
from mindo_core.services.watch_bulks import BulksChange, WatchBulks
from tests.bulk_fakes import NUMBER, BulkWorld, bulk_world, tenant

AT = datetime(2026, 11, 24, 10, 0, tzinfo=UTC)


@pytest.fixture
async def world() -> AsyncIterator[BulkWorld]:
    world = await bulk_world()
    yield world
    await world.engine.stop()


def watch(world: BulkWorld, *, refresh_interval: float = 5.0) -> WatchBulks:
    return WatchBulks(
        accounts=world.stores.accounts,
        templates=world.stores.templates,
        bulks=world.stores.bulks,
        progress=world.progress,
        clock=world.clock,
        min_interval=0.01,
        refresh_interval=refresh_interval,
    )


def shown(change: BulksChange) -> list[tuple[BulkId, str]]:
    return [(view.bulk.id, view.bulk.status) for view in change.views]


async def until(
    stream: AsyncIterator[BulksChange], bulk_id: BulkId, status: str
) -> list[BulksChange]:
    """The messages up to the one showing ``bulk_id`` in ``status``."""
    seen: list[BulksChange] = []
    while (bulk_id, status) not in (shown(seen[-1]) if seen else []):
        seen.append(await asyncio.wait_for(anext(stream), 10))
    return seen


async def test_the_first_message_holds_the_bulks_not_over_yet_oldest_first(
    world: BulkWorld,
) -> None:
    older = await world.submit(2)
    newer = await world.submit(2)
    over = await world.submit(2)
    await world.services.bulk_queries.cancel(world.principal, over.id)
    paused = await world.submit(1)
    await world.services.bulk_queries.pause(world.principal, paused.id)
    stranger = await tenant(world.services, "Stranger", connect=False)

    first = await anext(world.services.watch_bulks(world.principal))
    theirs = await anext(world.services.watch_bulks(stranger))

    assert first.initial
    assert shown(first) == [(older.id, "QUEUED"), (newer.id, "QUEUED"), (paused.id, "PAUSED")]
    assert first.views[0].template.name == "order_update"
    assert (theirs.initial, theirs.views) == (True, [])


async def test_a_new_bulk_shows_and_is_followed_to_its_end(world: BulkWorld) -> None:
    stream = world.services.watch_bulks(world.principal)
    assert (await anext(stream)).views == []

    bulk = await world.submit(50, pacing="1000")
    submitted = await asyncio.wait_for(anext(stream), 10)
    await world.engine.start()
    rest = await until(stream, bulk.id, "COMPLETED")

    assert (submitted.initial, shown(submitted)) == (False, [(bulk.id, "QUEUED")])
    assert not any(change.initial for change in rest)
    sent = [v.bulk.counters.sent for change in rest for v in change.views]
    assert sent == sorted(sent)
    assert sent[-1] == 50


async def test_another_organisations_bulks_never_show(world: BulkWorld) -> None:
    stream = world.services.watch_bulks(world.principal)
    await anext(stream)
    mine = await world.submit(1)
    theirs = replace(
        mine,
        id=BulkId(str(uuid.uuid4())),
        organisation_id=OrganisationId(world.principal.organisation.id + 1),
    )

    world.progress.publish(theirs.id, theirs)
    change = await asyncio.wait_for(anext(stream), 10)

    assert shown(change) == [(mine.id, "QUEUED")]


async def test_a_webhook_on_a_finished_bulk_shows(world: BulkWorld) -> None:
    await world.engine.start()
    bulk = await world.finished(await world.submit(1))
    (recipient,) = await world.recipients(bulk)
    stream = world.services.watch_bulks(world.principal)
    await anext(stream)

    update = StatusUpdate(
        wamid=recipient.wamid or "",
        status="read",
        at=AT,
        recipient_id=recipient.wa_id,
        phone_number_id=NUMBER,
    )
    await world.services.status_writer.write([update])
    change = await asyncio.wait_for(anext(stream), 10)

    assert [(v.bulk.id, v.bulk.counters.read) for v in change.views] == [(bulk.id, 1)]


async def test_a_change_the_bus_did_not_carry_shows_after_a_refresh(world: BulkWorld) -> None:
    bulk = await world.submit(2)
    stream = watch(world, refresh_interval=0.01)(world.principal)
    await anext(stream)

    # Cancelled without the bus hearing of it (as another process would).
    await world.stores.bulks.stop_bulk(bulk.id, now=world.clock.now(), reason=None, cancelled=True)
    change = await asyncio.wait_for(anext(stream), 10)

    assert shown(change) == [(bulk.id, "CANCELLED")]


async def test_a_watcher_that_leaves_unsubscribes(world: BulkWorld) -> None:
    stream = world.services.watch_bulks(world.principal)
    await anext(stream)
    organisation = world.principal.organisation.id
    assert world.progress.organisation_subscriber_count(organisation) == 1

    await stream.aclose()  # type: ignore[attr-defined]

    assert world.progress.organisation_subscriber_count(organisation) == 0
