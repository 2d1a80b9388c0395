"""On SQLite the service's writers take turns: one that waits behind a busy writer (the engine
recording outcomes, say) gets the next transaction, instead of polling SQLite's lock and
missing it for seconds. A real SQLite file, the SQL stores; turns are counted, not timed.
"""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime
from pathlib import Path

from mindo_core.adapters.sql import open_stores, upgrade_database
from mindo_core.contacts.imports import ContactEntry

CHANGES = 30


async def test_a_writer_waits_at_most_a_few_turns_of_a_busy_writer(tmp_path: Path) -> None:
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

        writers = [asyncio.create_task(busy_writer()) for _ in range(2)]
        await asyncio.sleep(0.05)
        before = busy_writes
        for i in range(CHANGES):
            phone = f"+54911{61_000_000 + i}"
            await stores.contacts.suppress(organisation.id, phone, at=datetime.now(UTC))
        during = busy_writes - before
        done.set()
        await asyncio.gather(*writers)

        # Each change waited for the transactions already queued (one per busy writer), not
        # for SQLite's busy handler to find the lock free: fair turns give about 2 a change.
        assert during <= 4 * CHANGES
    finally:
        await stores.close()
