"""A number's slots shared by processes on PostgreSQL: single sends of processes that do not hold
the number reserve evenly spaced slots in its lease row, concurrently, and never one further
than they may wait; a held number's slots are its holder's; a worker taking a number starts
after every slot reserved before it, and a worker handing a number over leaves one slot's
spacing after its last send."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator

import pytest
from sqlalchemy import Engine

from mindo_core.adapters.sql import open_stores
from mindo_core.adapters.sql.ownership import HANDOVER_GAP_SECONDS
from mindo_core.adapters.sql.tables import metadata
from mindo_core.domain.accounts import PhoneNumberRowId
from mindo_core.ports.number_pacing import NumberPacing, PacedSlot
from mindo_core.ports.stores import Stores

pytestmark = pytest.mark.postgres

NUMBER = PhoneNumberRowId(501)
# Five messages a second: slots far apart beside a loaded machine's statement latency.
SPACING = 0.2
LEASE_S = 5.0


@pytest.fixture
async def processes(postgres_database: str, postgres_engine: Engine) -> AsyncIterator[list[Stores]]:
    """Four processes' stores over one emptied database, each with its own connections."""
    with postgres_engine.begin() as connection:
        for table in reversed(metadata.sorted_tables):
            connection.execute(table.delete())
    opened = [await open_stores(postgres_database, lease_seconds=LEASE_S) for _ in range(4)]
    yield opened
    for stores in opened:
        await stores.close()


def pacing(stores: Stores) -> NumberPacing:
    assert stores.number_pacing is not None
    return stores.number_pacing


async def reserve_at(stores: Stores, *, within: float = 10.0) -> tuple[PacedSlot, float | None]:
    """The answer and the slot as a Unix time (read when the answer came: a little late)."""
    paced = await pacing(stores).reserve(NUMBER, spacing=SPACING, within=within)
    return paced, None if paced.wait is None else time.time() + paced.wait


async def test_processes_reserving_at_once_each_take_one_slot_of_their_own(
    processes: list[Stores],
) -> None:
    began = time.monotonic()
    answers = await asyncio.gather(
        *(pacing(stores).reserve(NUMBER, spacing=SPACING, within=10.0) for stores in processes * 10)
    )
    elapsed = time.monotonic() - began
    after = await pacing(processes[0]).reserve(NUMBER, spacing=SPACING, within=0.0)

    assert all(answer.wait is not None for answer in answers)
    assert not any(answer.owned for answer in answers)
    # Forty reservations moved the number's slots on by forty spacings, none lost to a race.
    assert 40 * SPACING - elapsed - 0.01 <= after.busy_for <= 40 * SPACING + 0.01
    assert max(a.wait or 0.0 for a in answers) >= 39 * SPACING - elapsed - 0.01


async def test_a_slot_further_than_the_send_may_wait_is_refused_and_nothing_is_taken(
    processes: list[Stores],
) -> None:
    first = processes[0]
    for _ in range(5):  # a second of slots taken
        await pacing(first).reserve(NUMBER, spacing=SPACING, within=2.0)

    refused = await pacing(first).reserve(NUMBER, spacing=SPACING, within=0.3)
    taken = await pacing(first).reserve(NUMBER, spacing=SPACING, within=2.0)

    assert refused.wait is None
    assert not refused.owned
    assert 0.5 < refused.busy_for <= 1.0
    assert taken.wait is not None
    assert taken.wait == pytest.approx(refused.busy_for, abs=0.1)  # the refusal took nothing


async def test_a_held_number_s_slots_are_its_holder_s(processes: list[Stores]) -> None:
    worker, api = processes[0], processes[1]
    assert await worker.ownership.acquire("w", [NUMBER], limit=1) == {NUMBER}

    answer = await pacing(api).reserve(NUMBER, spacing=SPACING, within=1.0)

    assert (answer.wait, answer.owned) == (None, True)


async def test_a_worker_taking_a_number_starts_after_every_slot_reserved_before_it(
    processes: list[Stores],
) -> None:
    worker, *apis = processes
    reserved: list[float] = []

    async def keep_reserving(stores: Stores) -> None:
        while True:
            paced, at = await reserve_at(stores)
            if paced.owned:
                return
            if at is not None:
                reserved.append(at)

    reservers = [asyncio.create_task(keep_reserving(stores)) for stores in apis]
    await asyncio.sleep(0.5)
    assert await worker.ownership.acquire("w", [NUMBER], limit=1) == {NUMBER}
    waits = await worker.ownership.paced_by_others([NUMBER])
    start_after = time.time() + waits.get(NUMBER, 0.0)
    await asyncio.gather(*reservers)  # each stops at its first "owned"

    assert reserved
    # Every slot taken before the lease was (a few ms of reading late aside) before the
    # worker's first send may start.
    assert max(reserved) <= start_after + 0.01


async def test_a_released_number_s_next_sender_keeps_a_slot_s_spacing(
    processes: list[Stores],
) -> None:
    worker, api = processes[0], processes[1]
    await worker.ownership.acquire("w", [NUMBER], limit=1)

    released_at = time.time()
    await worker.ownership.release("w", [NUMBER])
    _, at = await reserve_at(api)

    assert at is not None
    assert at >= released_at + HANDOVER_GAP_SECONDS - 0.005
    assert await worker.ownership.paced_by_others([PhoneNumberRowId(999)]) == {}
