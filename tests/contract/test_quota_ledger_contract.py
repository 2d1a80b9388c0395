"""The quota ledger: what a decision reads and reserves, on every backend (memory, SQLite and
PostgreSQL); and on PostgreSQL, where API processes share it, that decisions from several
processes at once never hand out more slots than are left, and that reservations a process
never released expire."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable, Sequence
from datetime import timedelta

import pytest
import sqlalchemy as sa
from sqlalchemy import Engine

from mindo_core.adapters.sql import open_stores
from mindo_core.adapters.sql.engine import make_sync_engine
from mindo_core.adapters.sql.tables import metadata
from mindo_core.domain.accounts import OrganisationId
from mindo_core.ports.bulks import NewBulkRecipient, in_chunks
from mindo_core.ports.quota import QuotaBook, QuotaLedger
from mindo_core.ports.stores import Stores
from tests.contract.tenants import T0, new_bulk, sent_message, tenant

SINCE = T0 - timedelta(hours=24)
SHORT_RESERVATION_S = 0.5

Decision = Callable[[QuotaBook], list[str]]


def reserve_all(wa_ids: Sequence[str]) -> Decision:
    def decision(book: QuotaBook) -> list[str]:
        return list(wa_ids)

    return decision


def new_recipient_if_room(wa_id: str, limit: int) -> Decision:
    """One send's decision: ``wa_id`` reserved while the window and what is owed leave room."""

    def decision(book: QuotaBook) -> list[str]:
        taken = len(book.window) + len(book.owed - book.window.keys())
        return [wa_id] if taken < limit else []

    return decision


async def owed_now(ledger: QuotaLedger, organisation_id: OrganisationId) -> set[str]:
    book = await ledger.read(organisation_id, since=SINCE)
    return set(book.owed - book.window.keys())


# -- every backend ------------------------------------------------------------------------


async def test_a_decision_reads_the_window_and_the_bulks_pending_recipients(
    stores: Stores,
) -> None:
    acme = await tenant(stores)
    await stores.messages.add_message(sent_message(acme, recipient_phone="+34600000001"))
    listed = [NewBulkRecipient(position=0, e164="+34600000002", variables_used={"nombre": "B"})]
    await stores.bulks.create_bulk(new_bulk(acme), in_chunks(listed, 10))
    seen: list[QuotaBook] = []

    def decision(book: QuotaBook) -> list[str]:
        seen.append(book)
        return []

    assert (
        await stores.quota_ledger.decide(acme.organisation.id, since=SINCE, decision=decision) == []
    )

    [book] = seen
    assert set(book.window) == {"34600000001"}
    assert book.owed == {"34600000002"}


async def test_reservations_are_owed_until_released_unsent(stores: Stores) -> None:
    acme = await tenant(stores)
    ledger = stores.quota_ledger
    organisation = acme.organisation.id

    first, second = await ledger.decide(
        organisation, since=SINCE, decision=reserve_all(["34600000001", "34600000002"])
    )
    assert await owed_now(ledger, organisation) == {"34600000001", "34600000002"}

    await ledger.release(organisation, [first], recorded=False)
    assert await owed_now(ledger, organisation) == {"34600000002"}
    await ledger.release(organisation, [second], recorded=False)
    assert await owed_now(ledger, organisation) == set()


async def test_a_reservation_released_as_recorded_owes_nothing_beside_its_message(
    stores: Stores,
) -> None:
    acme = await tenant(stores)
    ledger = stores.quota_ledger
    organisation = acme.organisation.id
    [reservation] = await ledger.decide(
        organisation, since=SINCE, decision=reserve_all(["34611222333"])
    )

    await stores.messages.add_message(sent_message(acme))  # to +34611222333
    await ledger.release(organisation, [reservation], recorded=True)

    book = await ledger.read(organisation, since=SINCE)
    assert set(book.window) == {"34611222333"}
    assert book.owed - book.window.keys() == set()


async def test_a_failed_decision_reserves_nothing(stores: Stores) -> None:
    acme = await tenant(stores)

    def decision(book: QuotaBook) -> list[str]:
        raise RuntimeError("the decision failed")

    with pytest.raises(RuntimeError):
        await stores.quota_ledger.decide(acme.organisation.id, since=SINCE, decision=decision)

    assert await owed_now(stores.quota_ledger, acme.organisation.id) == set()


async def test_reservations_are_the_organisation_s_own(stores: Stores) -> None:
    acme = await tenant(stores, "acme", "1")
    beta = await tenant(stores, "beta", "2")
    await stores.quota_ledger.decide(
        acme.organisation.id, since=SINCE, decision=reserve_all(["34600000001"])
    )

    assert await owed_now(stores.quota_ledger, beta.organisation.id) == set()


async def test_a_hold_reads_the_book_and_what_it_stores_is_in_the_next_decision(
    stores: Stores,
) -> None:
    acme = await tenant(stores)
    organisation = acme.organisation.id
    await stores.quota_ledger.decide(
        organisation, since=SINCE, decision=reserve_all(["34600000001"])
    )

    async with stores.quota_ledger.holding(organisation, since=SINCE) as book:
        assert book.owed == {"34600000001"}
        listed = [NewBulkRecipient(position=0, e164="+34600000002", variables_used={"nombre": "B"})]
        await stores.bulks.create_bulk(new_bulk(acme), in_chunks(listed, 10))

    assert await owed_now(stores.quota_ledger, organisation) == {"34600000001", "34600000002"}


# -- what a decision reuses, and what makes it read again --------------------------------------
# The ledgers reuse a reading of the book for their refresh interval (10 s here): a change that
# adds to what bulks owe must be in the very next decision all the same (on SQLite and
# PostgreSQL the database's book version moves with it; the memory stores read it every time).


def one_recipient(position: int = 0, e164: str = "+34600000002") -> list[NewBulkRecipient]:
    return [NewBulkRecipient(position=position, e164=e164, variables_used={"nombre": "B"})]


async def owed_at_decision(ledger: QuotaLedger, organisation_id: OrganisationId) -> set[str]:
    """What the next decision on the organisation finds owed beyond the window."""
    seen: list[QuotaBook] = []

    def decision(book: QuotaBook) -> list[str]:
        seen.append(book)
        return []

    await ledger.decide(organisation_id, since=SINCE, decision=decision)
    [book] = seen
    return set(book.owed - book.window.keys())


async def test_a_bulk_accepted_outside_a_hold_is_in_the_next_decision(stores: Stores) -> None:
    acme = await tenant(stores)
    organisation = acme.organisation.id
    assert await owed_at_decision(stores.quota_ledger, organisation) == set()

    await stores.bulks.create_bulk(new_bulk(acme), in_chunks(one_recipient(), 10))

    assert await owed_at_decision(stores.quota_ledger, organisation) == {"34600000002"}


async def test_a_scheduled_bulk_that_starts_is_in_the_next_decision(stores: Stores) -> None:
    acme = await tenant(stores)
    organisation = acme.organisation.id
    scheduled = new_bulk(acme, send_at=T0 + timedelta(minutes=1))
    await stores.bulks.create_bulk(scheduled, in_chunks(one_recipient(), 10))
    assert await owed_at_decision(stores.quota_ledger, organisation) == set()

    await stores.bulks.start_scheduled(T0 + timedelta(minutes=1))

    assert await owed_at_decision(stores.quota_ledger, organisation) == {"34600000002"}


async def test_a_paused_bulk_resumed_is_in_the_next_decision(stores: Stores) -> None:
    acme = await tenant(stores)
    organisation = acme.organisation.id
    bulk = await stores.bulks.create_bulk(new_bulk(acme), in_chunks(one_recipient(), 10))
    await stores.bulks.pause_bulk(bulk.id)
    assert await owed_at_decision(stores.quota_ledger, organisation) == set()

    await stores.bulks.resume_bulk(bulk.id)

    assert await owed_at_decision(stores.quota_ledger, organisation) == {"34600000002"}


@pytest.mark.parametrize("before", ["failed", "unconfirmed", "cancelled"])
async def test_a_recipient_made_pending_again_by_any_writer_is_in_the_next_decision(
    migrated_url: str, before: str
) -> None:
    stores = await open_stores(migrated_url)
    try:
        acme = await tenant(stores)
        organisation = acme.organisation.id
        bulk = await stores.bulks.create_bulk(new_bulk(acme), in_chunks(one_recipient(), 10))
        await stores.bulks.list_bulk_recipients(  # made a row
            organisation, bulk.id, status=None, offset=0, limit=10
        )
        await asyncio.to_thread(_set_recipients, migrated_url, before)
        assert await owed_at_decision(stores.quota_ledger, organisation) == set()

        # By hand: the version moves whatever path writes it (a resend, the policy's sweep).
        await asyncio.to_thread(_set_recipients, migrated_url, "pending")

        assert await owed_at_decision(stores.quota_ledger, organisation) == {"34600000002"}
    finally:
        await stores.close()


async def test_each_transaction_moves_the_version_once_whatever_it_moves(
    migrated_url: str,
) -> None:
    stores = await open_stores(migrated_url)
    try:
        acme = await tenant(stores)
        listed = [
            NewBulkRecipient(position=i, e164=f"+3460000000{i}", variables_used={})
            for i in range(3)
        ]
        bulk = await stores.bulks.create_bulk(new_bulk(acme), in_chunks(listed, 10))
        await stores.bulks.list_bulk_recipients(
            acme.organisation.id, bulk.id, status=None, offset=0, limit=10
        )
    finally:
        await stores.close()
    engine = make_sync_engine(migrated_url)
    try:
        with engine.connect() as connection:  # one session, as a pooled connection is reused
            versions = []
            for _ in range(2):
                with connection.begin():
                    connection.execute(sa.text("UPDATE messages SET status = 'failed'"))
                    connection.execute(sa.text("UPDATE messages SET status = 'pending'"))
                version = sa.text("SELECT version FROM quota_book_versions")
                versions.append(connection.execute(version).scalar_one())
                connection.rollback()
    finally:
        engine.dispose()

    # Moved by each transaction (PostgreSQL: once in each, for its three recipients).
    assert versions[1] > versions[0]


def _set_recipients(url: str, status: str) -> None:
    engine = make_sync_engine(url)
    try:
        with engine.begin() as connection:
            connection.execute(sa.text("UPDATE messages SET status = :status"), {"status": status})
    finally:
        engine.dispose()


# -- PostgreSQL: one ledger shared by processes -------------------------------------------------


@pytest.fixture
async def processes(postgres_database: str, postgres_engine: Engine) -> AsyncIterator[list[Stores]]:
    """Three API processes' stores over one emptied database, each with its own connections."""
    with postgres_engine.begin() as connection:
        for table in reversed(metadata.sorted_tables):
            connection.execute(table.delete())
    opened = [await open_stores(postgres_database) for _ in range(3)]
    yield opened
    for stores in opened:
        await stores.close()


@pytest.mark.postgres
async def test_processes_deciding_at_once_never_hand_out_more_than_the_room_left(
    processes: list[Stores],
) -> None:
    acme = await tenant(processes[0])
    organisation = acme.organisation.id
    limit = 7
    for n in range(3):  # three slots taken already
        message = sent_message(acme, f"wamid.{n}", recipient_phone=f"+3460000000{n}")
        await processes[0].messages.add_message(message)

    decided = await asyncio.gather(
        *(
            processes[n % 3].quota_ledger.decide(
                organisation,
                since=SINCE,
                decision=new_recipient_if_room(f"3461000{n:04d}", limit),
            )
            for n in range(30)
        )
    )

    assert sum(len(reservations) for reservations in decided) == limit - 3
    assert len(await owed_now(processes[1].quota_ledger, organisation)) == limit - 3


@pytest.mark.postgres
async def test_a_reservation_never_released_expires(
    processes: list[Stores], postgres_database: str, postgres_engine: Engine
) -> None:
    # A process whose reservations last half a second (and reuse no reading of the book, which
    # would keep them for its refresh interval more): killed mid-send, it never releases.
    crashed = await open_stores(
        postgres_database, reservation_seconds=SHORT_RESERVATION_S, quota_refresh_seconds=0.0
    )
    survivor = processes[0]
    try:
        acme = await tenant(crashed)
        organisation = acme.organisation.id
        await crashed.quota_ledger.decide(
            organisation, since=SINCE, decision=reserve_all(["34600000001"])
        )
        assert await owed_now(survivor.quota_ledger, organisation) == {"34600000001"}
    finally:
        await crashed.close()

    await asyncio.sleep(SHORT_RESERVATION_S + 0.2)

    assert await owed_now(survivor.quota_ledger, organisation) == set()
    await survivor.quota_ledger.decide(organisation, since=SINCE, decision=reserve_all([]))
    assert _reservation_rows(postgres_engine) == 0  # the next decision deleted it


@pytest.mark.postgres
async def test_recorded_reservations_are_marked_with_the_next_decision_and_kept_a_refresh(
    processes: list[Stores], postgres_engine: Engine
) -> None:
    ledger = processes[1].quota_ledger
    acme = await tenant(processes[1])
    organisation = acme.organisation.id
    [reservation] = await ledger.decide(
        organisation, since=SINCE, decision=reserve_all(["34611222333"])
    )
    await processes[1].messages.add_message(sent_message(acme))
    await ledger.release(organisation, [reservation], recorded=True)
    assert _kept_seconds(postgres_engine) == [None]  # no transaction of its own on the hot path

    await ledger.decide(organisation, since=SINCE, decision=reserve_all([]))

    # Kept for a reading reused from before the record (10 s, and 5 of margin) ...
    assert _kept_seconds(postgres_engine) == [15.0]
    # ... but no reading taken after its mark counts it: the window has its message.
    assert (await processes[2].quota_ledger.read(organisation, since=SINCE)).owed == set()


def _kept_seconds(engine: Engine) -> list[float | None]:
    """Each reservation's life after its mark (None: not marked)."""
    with engine.connect() as connection:
        kept = sa.text(
            "SELECT EXTRACT(EPOCH FROM expires_at - recorded_at) FROM quota_reservations"
        )
        return [None if k is None else round(float(k), 1) for (k,) in connection.execute(kept)]


def _reservation_rows(engine: Engine) -> int:
    with engine.connect() as connection:
        return int(
            connection.execute(sa.text("SELECT count(*) FROM quota_reservations")).scalar_one()
        )


@pytest.mark.postgres
async def test_a_decision_in_another_process_waits_for_a_hold_and_sees_what_it_stored(
    processes: list[Stores],
) -> None:
    submitting, sending, _ = processes
    acme = await tenant(submitting)
    organisation = acme.organisation.id
    seen: list[QuotaBook] = []

    def decision(book: QuotaBook) -> list[str]:
        seen.append(book)
        return []

    async with submitting.quota_ledger.holding(organisation, since=SINCE):
        deciding = asyncio.create_task(
            sending.quota_ledger.decide(organisation, since=SINCE, decision=decision)
        )
        listed = [NewBulkRecipient(position=0, e164="+34600000002", variables_used={"nombre": "B"})]
        await submitting.bulks.create_bulk(new_bulk(acme), in_chunks(listed, 10))
        await asyncio.sleep(0.3)
        assert not deciding.done()  # it waits for the organisation's lock

    await deciding
    [book] = seen
    assert book.owed == {"34600000002"}


@pytest.mark.postgres
async def test_two_processes_reusing_their_readings_never_oversubscribe(
    processes: list[Stores],
) -> None:
    """Two API processes decide at once on one organisation, wave after wave, their sends
    recorded or given back as they go, while one accepts a bulk: each reuses its reading of the
    book (10 s), and still the window and what is owed never pass the limit."""
    first, second, _ = processes
    acme = await tenant(first)
    organisation = acme.organisation.id
    limit = 40
    for n in range(5):
        message = sent_message(acme, f"wamid.old{n}", recipient_phone=f"+3460000000{n}")
        await first.messages.add_message(message)
    refused: list[int] = []
    accepted: list[int] = []

    async def send(process: Stores, n: int) -> None:
        wa_id = f"3461{n:07d}"
        reserved = await process.quota_ledger.decide(
            organisation, since=SINCE, decision=new_recipient_if_room(wa_id, limit)
        )
        if not reserved:
            refused.append(n)
            return
        await asyncio.sleep(0.005 * (n % 4))  # the call to Meta
        if n % 3:
            message = sent_message(acme, f"wamid.{n}", recipient_phone=f"+{wa_id}")
            await process.messages.add_message(message)
            await process.quota_ledger.release(organisation, reserved, recorded=True)
        else:  # Meta refused it: the slot is given back
            await process.quota_ledger.release(organisation, reserved, recorded=False)

    async def accept_bulk(size: int) -> None:
        async with first.quota_ledger.holding(organisation, since=SINCE) as book:
            taken = len(book.window) + len(book.owed - book.window.keys())
            if taken + size <= limit:
                listed = [
                    NewBulkRecipient(position=i, e164=f"+3462{i:07d}", variables_used={})
                    for i in range(size)
                ]
                await first.bulks.create_bulk(new_bulk(acme), in_chunks(listed, 10))
                accepted.append(size)

    for wave in range(10):
        sends = [send((first, second)[n % 2], wave * 6 + n) for n in range(6)]
        extra = [accept_bulk(10)] if wave == 2 else []
        await asyncio.gather(*extra, *sends)

    book = await second.quota_ledger.read(organisation, since=SINCE)
    assert len(book.window) + len(book.owed - book.window.keys()) <= limit
    # The test bites: the bulk took room, and the limit was reached.
    assert accepted == [10]
    assert refused
