"""On SQLite the service's writers take turns: one that waits behind a busy writer (the engine
recording outcomes, say) gets the next transaction, instead of polling SQLite's lock and
missing it for seconds; a writer whose client waits (a single send's record, an idempotency
key) goes before them. A real SQLite file, the SQL stores; turns are counted, not timed.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path

from mindo_core.adapters.sql import open_stores, upgrade_database
from mindo_core.contacts.imports import ContactEntry
from mindo_core.domain.accounts import OrganisationId
from mindo_core.ports.idempotency import NewIdempotencyKey
from mindo_core.ports.stores import Stores

CHANGES = 30


BUSY_WRITERS = 3
Change = Callable[[Stores, OrganisationId, int], Awaitable[object]]


async def test_a_writer_waits_at_most_a_few_turns_of_busy_writers(tmp_path: Path) -> None:
    async def suppress(stores: Stores, organisation_id: OrganisationId, i: int) -> object:
        phone = f"+54911{61_000_000 + i}"
        return await stores.contacts.suppress(organisation_id, phone, at=datetime.now(UTC))

    busy_writes = await _busy_writes_during(tmp_path, suppress)

    # Each change waited for the transactions already queued (one per busy writer), not for
    # SQLite's busy handler to find the lock free: fair turns give about 3 a change.
    assert CHANGES <= busy_writes <= (BUSY_WRITERS + 1) * CHANGES


async def test_a_writer_whose_client_waits_goes_before_the_busy_writers(tmp_path: Path) -> None:
    async def claim_key(stores: Stores, organisation_id: OrganisationId, i: int) -> object:
        key = NewIdempotencyKey(
            organisation_id=organisation_id,
            key_hash=f"key-{i}",
            fingerprint="body",
            created_at=datetime.now(UTC),
        )
        expired = datetime.now(UTC) - timedelta(days=1)
        return await stores.idempotency.claim_key(key, expired_at_or_before=expired)

    busy_writes = await _busy_writes_during(tmp_path, claim_key)

    # Each urgent change waited at most for the transaction in progress, not for the queue.
    assert busy_writes <= CHANGES + CHANGES // 2


async def _busy_writes_during(tmp_path: Path, change: Change) -> int:
    """How many transactions ``BUSY_WRITERS`` back-to-back writers commit while ``CHANGES``
    changes are made one after another."""
    url = f"sqlite:///{tmp_path / 'mindo.db'}"
    await asyncio.to_thread(upgrade_database, url)
    stores = await open_stores(url)
    try:
        organisation = await stores.organisations.create_organisation("Acme")
        busy_writes = 0
        done = asyncio.Event()

        # Transactions of a few milliseconds back to back, as a bulk at full speed writes.
        batch = [ContactEntry(phone=f"+54911{62_000_000 + i}") for i in range(300)]

        async def busy_writer() -> None:
            nonlocal busy_writes
            while not done.is_set():
                await stores.contact_directory.import_contacts(
                    organisation.id, batch, list_name=None, merged=0, at=datetime.now(UTC)
                )
                busy_writes += 1

        writers = [asyncio.create_task(busy_writer()) for _ in range(BUSY_WRITERS)]
        await asyncio.sleep(0.05)
        before = busy_writes
        for i in range(CHANGES):
            await change(stores, organisation.id, i)
        during = busy_writes - before
        done.set()
        await asyncio.gather(*writers)
        return during
    finally:
        await stores.close()
