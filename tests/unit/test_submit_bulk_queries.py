"""Reading and cancelling submitted bulk sends: scoped to the caller's organisation, paged
within documented bounds, cancellable only while they run."""

from __future__ import annotations

from datetime import UTC, date, datetime

import pytest

from mindo_core.domain.clock import FixedClock
from mindo_core.domain.errors import BulkNotFound, FailedPrecondition, InvalidRequest, NotFound
from mindo_core.ports.bulks import BulkFilter
from mindo_core.services.bulk_queries import EXPORT_BATCH
from tests.bulk_fakes import BulkWorld, bulk_world, tenant

NOW = datetime(2026, 11, 24, 12, 0, tzinfo=UTC)


@pytest.fixture
async def world() -> BulkWorld:
    return await bulk_world(clock=FixedClock(NOW))


async def test_a_bulk_is_shown_with_its_template_and_number(world: BulkWorld) -> None:
    bulk = await world.submit(3)

    view = await world.services.bulk_queries.get(world.principal, bulk.id)

    assert view.bulk == bulk
    assert (view.template.name, view.template.language) == ("order_update", "es")
    assert view.phone_number.id == bulk.phone_number_row_id


async def test_an_id_in_any_uuid_spelling_finds_the_bulk(world: BulkWorld) -> None:
    bulk = await world.submit(1)

    view = await world.services.bulk_queries.get(world.principal, f" {bulk.id.upper()} ")

    assert view.bulk.id == bulk.id


@pytest.mark.parametrize("bulk_id", ["", "nope", "123", "a3f2b8c9-4d5e-6f7a-8b9c-0d1e2f3a4b5c"])
async def test_unknown_and_malformed_ids_are_not_found(world: BulkWorld, bulk_id: str) -> None:
    with pytest.raises(BulkNotFound) as raised:
        await world.services.bulk_queries.get(world.principal, bulk_id)

    assert isinstance(raised.value, NotFound)
    assert raised.value.code == "bulk_not_found"
    assert raised.value.message == f"Bulk send '{bulk_id}' no encontrado"


async def test_another_organisations_bulk_is_not_found_whatever_is_asked(
    world: BulkWorld,
) -> None:
    bulk = await world.submit(2)
    stranger = await tenant(world.services, "Stranger", connect=False)
    queries = world.services.bulk_queries

    with pytest.raises(BulkNotFound):
        await queries.get(stranger, bulk.id)
    with pytest.raises(BulkNotFound):
        await queries.messages(stranger, bulk.id, status=None, page=1, page_size=20)
    with pytest.raises(BulkNotFound):
        await queries.cancel(stranger, bulk.id)
    assert (await queries.list(stranger, BulkFilter(), page=1, page_size=20)).count == 0
    assert (await world.bulk(bulk)).status == "QUEUED"


async def test_the_list_is_newest_first_filtered_and_paged(world: BulkWorld) -> None:
    clock = world.clock
    assert isinstance(clock, FixedClock)
    first = await world.submit(1)
    clock.advance(60)
    second = await world.submit(1)
    clock.advance(60)
    third = await world.submit(1)
    await world.services.bulk_queries.cancel(world.principal, second.id)
    queries = world.services.bulk_queries

    everything = await queries.list(world.principal, BulkFilter(), page=1, page_size=2)
    rest = await queries.list(world.principal, BulkFilter(), page=2, page_size=2)
    cancelled = await queries.list(
        world.principal, BulkFilter(status="CANCELLED"), page=1, page_size=20
    )
    today = await queries.list(
        world.principal,
        BulkFilter(created_after=date(2026, 11, 24), created_before=date(2026, 11, 24)),
        page=1,
        page_size=20,
    )
    tomorrow = await queries.list(
        world.principal, BulkFilter(created_after=date(2026, 11, 25)), page=1, page_size=20
    )

    assert everything.count == 3
    assert [v.bulk.id for v in everything.items] == [third.id, second.id]
    assert [v.bulk.id for v in rest.items] == [first.id]
    assert [v.bulk.id for v in cancelled.items] == [second.id]
    assert today.count == 3
    assert tomorrow.count == 0


@pytest.mark.parametrize(("page", "page_size", "field"), [(0, 20, "page"), (1, 0, "page_size")])
async def test_pages_out_of_range_are_refused_naming_the_field(
    world: BulkWorld, page: int, page_size: int, field: str
) -> None:
    with pytest.raises(InvalidRequest) as refused:
        await world.services.bulk_queries.list(
            world.principal, BulkFilter(), page=page, page_size=page_size
        )

    assert list(refused.value.field_errors) == [field]


async def test_page_size_is_at_most_100(world: BulkWorld) -> None:
    bulk = await world.submit(1)

    with pytest.raises(InvalidRequest):
        await world.services.bulk_queries.messages(
            world.principal, bulk.id, status=None, page=1, page_size=101
        )


async def test_messages_are_listed_in_submission_order_and_filtered_by_status(
    world: BulkWorld,
) -> None:
    bulk = await world.submit(5)
    queries = world.services.bulk_queries

    page = await queries.messages(world.principal, bulk.id, status=None, page=2, page_size=2)
    failed = await queries.messages(world.principal, bulk.id, status="failed", page=1, page_size=2)

    assert page.count == 5
    assert [r.position for r in page.items] == [2, 3]
    assert failed.count == 0


async def test_an_export_reads_every_recipient_in_order_across_its_batches(
    world: BulkWorld,
) -> None:
    bulk = await world.submit(EXPORT_BATCH * 2 + 3)
    queries = world.services.bulk_queries

    exported = [r async for r in queries.export(world.principal, bulk.id, status=None)]
    failed = [r async for r in queries.export(world.principal, bulk.id, status="failed")]

    assert [r.position for r in exported] == list(range(EXPORT_BATCH * 2 + 3))
    assert failed == []


async def test_an_export_of_another_organisations_bulk_is_not_found(world: BulkWorld) -> None:
    bulk = await world.submit(2)
    stranger = await tenant(world.services, "Stranger", connect=False)

    with pytest.raises(BulkNotFound):
        await anext(world.services.bulk_queries.export(stranger, bulk.id, status=None))


async def test_cancelling_a_queued_bulk_cancels_every_recipient(world: BulkWorld) -> None:
    bulk = await world.submit(4)
    subscription = world.progress.subscribe(bulk.id)

    view = await world.services.bulk_queries.cancel(world.principal, bulk.id)

    assert view.bulk.status == "CANCELLED"
    assert view.bulk.completed_at == NOW
    assert (view.bulk.counters.cancelled, view.bulk.counters.pending) == (4, 0)
    assert {r.state for r in await world.recipients(bulk)} == {"cancelled"}
    assert subscription.poll() == view.bulk


async def test_a_bulk_that_is_over_cannot_be_cancelled(world: BulkWorld) -> None:
    bulk = await world.submit(1)
    await world.services.bulk_queries.cancel(world.principal, bulk.id)

    with pytest.raises(FailedPrecondition) as refused:
        await world.services.bulk_queries.cancel(world.principal, bulk.id)

    assert "CANCELLED" in refused.value.message
