"""The progress bus across processes on PostgreSQL (LISTEN/NOTIFY): each bus below has its own
connections, as two processes would; what one publishes reaches the other's subscribers as the
bulk re-read from the store, newest first."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from dataclasses import replace

import pytest
from sqlalchemy import Engine, text

from mindo_core.adapters.sql import open_stores
from mindo_core.adapters.sql.notifications import PostgresNotifications
from mindo_core.adapters.sql.progress_bus import PostgresProgressBus
from mindo_core.adapters.sql.tables import metadata
from mindo_core.bulks.model import Bulk, BulkId
from mindo_core.ports.stores import Stores
from tests.contract.tenants import new_bulk, tenant

pytestmark = pytest.mark.postgres

WITHIN_SECONDS = 5.0


class CountingReader:
    """The store's unscoped read, counted."""

    def __init__(self, stores: Stores) -> None:
        self._stores = stores
        self.reads = 0

    async def __call__(self, bulk_id: BulkId) -> Bulk | None:
        self.reads += 1
        return await self._stores.bulks.get_bulk(bulk_id)


@pytest.fixture
async def stores(postgres_database: str, postgres_engine: Engine) -> AsyncIterator[Stores]:
    with postgres_engine.begin() as connection:
        for table in reversed(metadata.sorted_tables):
            connection.execute(table.delete())
    opened = await open_stores(postgres_database)
    yield opened
    await opened.close()


@pytest.fixture
async def bulk(stores: Stores) -> Bulk:
    return await stores.bulks.create_bulk(new_bulk(await tenant(stores)), [])


class Process:
    """What one process has: its notifications' two connections, and its bus over them."""

    def __init__(self, url: str, read: CountingReader) -> None:
        self.notifications = PostgresNotifications(url)
        self.bus = PostgresProgressBus(self.notifications, read)

    async def start(self) -> PostgresProgressBus:
        self.bus.start()
        await self.notifications.start()
        return self.bus

    async def close(self) -> None:
        await self.notifications.close()
        await self.bus.close()


@pytest.fixture
async def two_buses(
    postgres_database: str, stores: Stores
) -> AsyncIterator[tuple[PostgresProgressBus, PostgresProgressBus, CountingReader]]:
    """A publisher's bus and a watcher's bus, and what the watcher's bus reads."""
    watcher_reads = CountingReader(stores)
    publishing = Process(postgres_database, CountingReader(stores))
    watching = Process(postgres_database, watcher_reads)
    yield await publishing.start(), await watching.start(), watcher_reads
    await publishing.close()
    await watching.close()


async def test_a_change_published_by_one_process_reaches_a_watcher_of_another_from_the_store(
    two_buses: tuple[PostgresProgressBus, PostgresProgressBus, CountingReader],
    stores: Stores,
    bulk: Bulk,
) -> None:
    publisher, watcher, _ = two_buses
    watching = watcher.subscribe(bulk.id)
    paused = await stores.bulks.pause_bulk(bulk.id)

    publisher.publish(bulk.id, paused)

    async with asyncio.timeout(WITHIN_SECONDS):
        seen = await watching.next()
    assert seen == paused
    assert seen.status == "PAUSED"


async def test_the_watcher_shows_the_bulk_as_stored_not_as_announced(
    two_buses: tuple[PostgresProgressBus, PostgresProgressBus, CountingReader],
    stores: Stores,
    bulk: Bulk,
) -> None:
    publisher, watcher, _ = two_buses
    watching = watcher.subscribe(bulk.id)

    # Only the id travels: a snapshot that is not the stored one never reaches other processes.
    publisher.publish(bulk.id, replace(bulk, status="COMPLETED"))

    async with asyncio.timeout(WITHIN_SECONDS):
        seen = await watching.next()
    assert seen == await stores.bulks.get_bulk(bulk.id)
    assert seen.status == "QUEUED"


async def test_a_burst_of_changes_is_read_again_at_most_a_few_times_and_ends_on_the_newest(
    two_buses: tuple[PostgresProgressBus, PostgresProgressBus, CountingReader],
    stores: Stores,
    bulk: Bulk,
) -> None:
    publisher, watcher, reads = two_buses
    watching = watcher.subscribe(bulk.id)
    for _ in range(200):
        publisher.publish(bulk.id, bulk)
    paused = await stores.bulks.pause_bulk(bulk.id)
    publisher.publish(bulk.id, paused)

    async with asyncio.timeout(WITHIN_SECONDS):
        while (seen := await watching.next()) != paused:
            pass
    assert seen.status == "PAUSED"
    assert reads.reads < 20


async def test_a_bus_reads_nothing_for_bulks_nobody_watches_in_its_process(
    two_buses: tuple[PostgresProgressBus, PostgresProgressBus, CountingReader],
    stores: Stores,
    bulk: Bulk,
) -> None:
    publisher, watcher, reads = two_buses
    watched = await stores.bulks.create_bulk(new_bulk(await tenant(stores, "other", "2")), [])
    watching = watcher.subscribe(watched.id)

    publisher.publish(bulk.id, bulk)
    await asyncio.sleep(0.05)
    publisher.publish(watched.id, watched)

    async with asyncio.timeout(WITHIN_SECONDS):
        await watching.next()  # announced after the unwatched one, so heard after it
    assert reads.reads == 1


async def test_a_publisher_s_own_watchers_get_its_snapshot_at_once_without_a_read(
    postgres_database: str, stores: Stores, bulk: Bulk
) -> None:
    reads = CountingReader(stores)
    process = Process(postgres_database, reads)
    bus = await process.start()
    try:
        watching = bus.subscribe(bulk.id)
        bus.publish(bulk.id, bulk)
        assert watching.poll() == bulk
        await asyncio.sleep(0.3)  # its own notification comes back, and is ignored
        assert watching.poll() is None
        assert reads.reads == 0
    finally:
        await process.close()


async def test_a_watcher_whose_connection_was_cut_reconnects_and_hears_again(
    two_buses: tuple[PostgresProgressBus, PostgresProgressBus, CountingReader],
    postgres_engine: Engine,
    stores: Stores,
    bulk: Bulk,
) -> None:
    publisher, watcher, _ = two_buses
    watching = watcher.subscribe(bulk.id)
    with postgres_engine.begin() as connection:
        cut = connection.execute(
            text(
                "SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
                "WHERE datname = current_database() AND query LIKE 'LISTEN%'"
            )
        ).all()
    assert len(cut) == 2  # both buses listen

    async with asyncio.timeout(WITHIN_SECONDS):
        await watching.next()  # re-read once reconnected: it may have missed a change
        paused = await stores.bulks.pause_bulk(bulk.id)
        publisher.publish(bulk.id, paused)
        while await watching.next() != paused:
            pass


async def test_every_change_crosses_to_another_bus(
    two_buses: tuple[PostgresProgressBus, PostgresProgressBus, CountingReader],
    bulk: Bulk,
) -> None:
    publisher, watcher, _ = two_buses
    watching = watcher.subscribe(bulk.id)
    for _ in range(50):
        publisher.publish(bulk.id, bulk)
        # Each one is heard, or the timeout fails the test; the lag itself is a benchmark's
        # figure, not a test's.
        async with asyncio.timeout(WITHIN_SECONDS):
            await watching.next()


async def test_an_organisation_watcher_in_another_process_hears_each_of_its_bulks_only(
    two_buses: tuple[PostgresProgressBus, PostgresProgressBus, CountingReader],
    stores: Stores,
) -> None:
    publisher, watcher, reads = two_buses
    owner = await tenant(stores)
    bulk = await stores.bulks.create_bulk(new_bulk(owner), [])
    another = await stores.bulks.create_bulk(new_bulk(owner), [])
    watching = watcher.subscribe_organisation(owner.organisation.id)
    stranger = await stores.bulks.create_bulk(new_bulk(await tenant(stores, "other", "2")), [])
    paused = await stores.bulks.pause_bulk(bulk.id)

    publisher.publish(stranger.id, stranger)  # not its organisation's: not even read
    await asyncio.sleep(0.05)
    publisher.publish(bulk.id, paused)
    publisher.publish(another.id, another)

    heard: dict[BulkId, Bulk] = {}
    async with asyncio.timeout(WITHIN_SECONDS):
        while len(heard) < 2:
            heard |= {seen.id: seen for seen in await watching.next()}
    assert heard == {bulk.id: paused, another.id: another}
    assert reads.reads == 2
    watching.close()
