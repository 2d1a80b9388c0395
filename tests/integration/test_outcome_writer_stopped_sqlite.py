"""The engine's outcome writer stopped (cancelled) at any point of a write to a real SQLite file:
the write runs to its end, SQLite's write lock is free afterwards, and the flush that follows
on stop records every outcome. (Cut halfway, the transaction left the lock with a connection
nobody returned: the stop's flush failed with "database is locked" and Meta's accepted sends
stayed in flight, to be marked unconfirmed by the next start. Hypothesis' state machine over a
bulk on SQL found it.)"""

from __future__ import annotations

import asyncio
import shutil
import sqlite3
from collections.abc import AsyncIterator
from datetime import timedelta
from pathlib import Path

import pytest

from mindo_core.adapters.memory.progress_bus import InProcessProgressBus
from mindo_core.adapters.sql import open_stores, upgrade_database
from mindo_core.engine.outcome_buffer import OutcomeBuffer
from mindo_core.ports.bulks import NewBulkRecipient, RecipientOutcome, in_chunks
from mindo_core.ports.stores import Stores
from tests.contract.tenants import T0, new_bulk, tenant

SIZE = 50
LATER = T0 + timedelta(days=2)


@pytest.fixture(scope="module")
def migrated(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("migrated") / "mindo.db"
    upgrade_database(f"sqlite:///{path}")
    return path


@pytest.fixture
def database(migrated: Path, tmp_path: Path) -> Path:
    copy = tmp_path / "mindo.db"
    shutil.copy(migrated, copy)
    return copy


@pytest.fixture
async def stores(database: Path) -> AsyncIterator[Stores]:
    opened = await open_stores(f"sqlite:///{database}")
    yield opened
    await opened.close()


def write_lock_is_free(database: Path) -> bool:
    other = sqlite3.connect(database, timeout=0.2)
    try:
        other.execute("BEGIN IMMEDIATE")
        other.execute("ROLLBACK")
        return True
    except sqlite3.OperationalError:
        return False
    finally:
        other.close()


@pytest.mark.parametrize("turns", range(40))
async def test_a_writer_stopped_mid_write_leaves_the_lock_free_and_the_flush_records_all(
    stores: Stores, database: Path, turns: int
) -> None:
    owner = await tenant(stores)
    people = (
        NewBulkRecipient(position=i, e164=f"+3461100{i:04d}", variables_used={})
        for i in range(SIZE)
    )
    bulk = await stores.bulks.create_bulk(new_bulk(owner, total_recipients=SIZE), in_chunks(people))
    claimed = await stores.bulks.claim_recipients(bulk.id, worker="w", limit=SIZE, now=LATER)
    buffer = OutcomeBuffer(stores.bulks, InProcessProgressBus(), max_batch=SIZE)
    for recipient in claimed:
        buffer.add(
            RecipientOutcome(
                message_id=recipient.message_id,
                bulk_id=bulk.id,
                kind="accept",
                at=LATER,
                wamid=f"wamid.{recipient.position}",
            )
        )
    writer = asyncio.ensure_future(buffer.run())
    for _ in range(turns):  # the write is somewhere along its way
        await asyncio.sleep(0)

    writer.cancel()
    await asyncio.gather(writer, return_exceptions=True)
    lock_free = write_lock_is_free(database)
    await buffer.flush()

    assert lock_free
    stored = await stores.bulks.get_bulk(bulk.id)
    assert stored is not None
    assert (stored.counters.sent, stored.counters.pending) == (SIZE, 0)
