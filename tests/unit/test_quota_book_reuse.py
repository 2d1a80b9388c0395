"""The process ledger reuses a reading of the book for its decisions (``ProcessQuotaLedger`` with
book versions): within the refresh interval a decision does not read the window again, after
it it does; a send recorded meanwhile stays counted across the refresh; a moved version, or a
hold, makes the next decision read again; and reuse only ever counts more, never less."""

from __future__ import annotations

from datetime import datetime, timedelta

import pytest

from mindo_core.adapters.memory import memory_stores
from mindo_core.adapters.memory.quota_ledger import ProcessQuotaLedger
from mindo_core.domain.accounts import OrganisationId
from mindo_core.domain.errors import InvalidRequest
from mindo_core.domain.tiers import QUOTA_WINDOW
from mindo_core.ports.bulks import NewBulkRecipient, in_chunks
from mindo_core.ports.quota import QuotaBook
from mindo_core.ports.stores import Stores
from mindo_core.settings import Settings
from tests.contract.tenants import T0, Tenant, new_bulk, sent_message, tenant

NOW = T0 + timedelta(hours=1)
REFRESH_S = 10.0


class MovableVersions:
    """Book versions that move only when told (a change by another path, in the database)."""

    def __init__(self) -> None:
        self.current = 1

    async def version(self, organisation_id: OrganisationId) -> int:
        return self.current


async def book_at(
    ledger: ProcessQuotaLedger, organisation_id: OrganisationId, now: datetime
) -> QuotaBook:
    """The book a decision at ``now`` is given (it reserves nothing)."""
    seen: list[QuotaBook] = []

    def decision(book: QuotaBook) -> list[str]:
        seen.append(book)
        return []

    await ledger.decide(organisation_id, since=now - QUOTA_WINDOW, decision=decision)
    [book] = seen
    return book


def counted(book: QuotaBook) -> set[str]:
    """Every wa_id the book counts: its window's and what is owed."""
    return set(book.window) | set(book.owed)


async def setup() -> tuple[Stores, Tenant, ProcessQuotaLedger, MovableVersions]:
    stores = memory_stores()
    acme = await tenant(stores)
    versions = MovableVersions()
    ledger = ProcessQuotaLedger(stores.bulks, versions=versions, refresh_seconds=REFRESH_S)
    return stores, acme, ledger, versions


async def message_to(stores: Stores, acme: Tenant, wa_id: str, at: datetime) -> None:
    """A message recorded without a reservation: only a new reading of the window sees it."""
    message = sent_message(
        acme, f"wamid.{wa_id}", recipient_phone=f"+{wa_id}", created_at=at, sent_at=at
    )
    await stores.messages.add_message(message)


async def test_decisions_reuse_the_reading_within_the_refresh_and_read_again_after() -> None:
    stores, acme, ledger, _ = await setup()
    organisation = acme.organisation.id
    await book_at(ledger, organisation, NOW)
    await message_to(stores, acme, "34600000001", NOW)

    within = await book_at(ledger, organisation, NOW + timedelta(seconds=REFRESH_S - 0.1))
    after = await book_at(ledger, organisation, NOW + timedelta(seconds=REFRESH_S))

    assert "34600000001" not in counted(within)  # the reading of NOW, reused
    assert set(after.window) == {"34600000001"}


async def test_a_send_recorded_after_the_reading_stays_counted_across_the_refresh() -> None:
    stores, acme, ledger, _ = await setup()
    organisation = acme.organisation.id
    [reservation] = await ledger.decide(
        organisation, since=NOW - QUOTA_WINDOW, decision=lambda book: ["34600000001"]
    )

    await message_to(stores, acme, "34600000001", NOW)
    await ledger.release(organisation, [reservation], recorded=True)
    reused = await book_at(ledger, organisation, NOW + timedelta(seconds=1))
    refreshed = await book_at(ledger, organisation, NOW + timedelta(seconds=REFRESH_S + 1))

    # The reused reading has not its message: the recorded reservation still counts it.
    assert "34600000001" not in reused.window
    assert "34600000001" in reused.owed
    # A reading begun after the release has it in its window; the reservation is dropped.
    assert set(refreshed.window) == {"34600000001"}
    assert refreshed.owed == set()


async def test_a_moved_version_makes_the_next_decision_read_again() -> None:
    stores, acme, ledger, versions = await setup()
    organisation = acme.organisation.id
    await book_at(ledger, organisation, NOW)
    listed = [NewBulkRecipient(position=0, e164="+34600000002", variables_used={})]
    await stores.bulks.create_bulk(new_bulk(acme), in_chunks(listed, 10))
    assert "34600000002" not in counted(await book_at(ledger, organisation, NOW))

    versions.current += 1  # as the database's triggers move it with the bulk's acceptance

    assert (await book_at(ledger, organisation, NOW)).owed == {"34600000002"}


async def test_what_a_hold_stores_is_in_the_next_decision_without_a_version() -> None:
    stores, acme, ledger, _ = await setup()
    organisation = acme.organisation.id
    await book_at(ledger, organisation, NOW)

    async with ledger.holding(organisation, since=NOW - QUOTA_WINDOW):
        listed = [NewBulkRecipient(position=0, e164="+34600000002", variables_used={})]
        await stores.bulks.create_bulk(new_bulk(acme), in_chunks(listed, 10))

    assert (await book_at(ledger, organisation, NOW)).owed == {"34600000002"}


async def test_an_entry_expiring_while_the_reading_is_reused_is_counted_until_the_refresh() -> None:
    stores, acme, ledger, _ = await setup()
    organisation = acme.organisation.id
    # First messaged 24 hours before NOW + 1 s: it leaves the window a second after NOW, and
    # the reading cannot tell whether it was messaged again since (its first time only).
    await message_to(stores, acme, "34600000001", NOW + timedelta(seconds=1) - QUOTA_WINDOW)
    await book_at(ledger, organisation, NOW)

    reused = await book_at(ledger, organisation, NOW + timedelta(seconds=5))
    refreshed = await book_at(ledger, organisation, NOW + timedelta(seconds=REFRESH_S))

    assert list(reused.times()) == [NOW + timedelta(seconds=1) - QUOTA_WINDOW]
    assert refreshed.window == {}


async def test_without_versions_every_decision_reads_the_book() -> None:
    stores = memory_stores()
    acme = await tenant(stores)
    ledger = ProcessQuotaLedger(stores.bulks)
    await book_at(ledger, acme.organisation.id, NOW)
    await message_to(stores, acme, "34600000001", NOW)

    book = await book_at(ledger, acme.organisation.id, NOW)

    assert set(book.window) == {"34600000001"}


def test_the_refresh_interval_is_a_setting_with_clear_errors() -> None:
    assert Settings.from_env({}).quota_refresh_seconds == 10.0
    assert Settings.from_env({"MINDO_QUOTA_REFRESH_S": "0"}).quota_refresh_seconds == 0.0
    assert Settings.from_env({"MINDO_QUOTA_REFRESH_S": "2.5"}).quota_refresh_seconds == 2.5
    for bad in ("-1", "61", "nan", "soon"):
        with pytest.raises(InvalidRequest, match="MINDO_QUOTA_REFRESH_S"):
            Settings.from_env({"MINDO_QUOTA_REFRESH_S": bad})
