"""Number ownership across workers: the leases on PostgreSQL under concurrency (several
workers racing, a lease expiring, a stale owner refused), and the scoped settlement a taker
makes on every backend."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from datetime import timedelta

import pytest
from sqlalchemy import Engine

from mindo_core.adapters.sql import open_stores
from mindo_core.adapters.sql.tables import metadata
from mindo_core.bulks.model import Bulk
from mindo_core.domain.accounts import PhoneNumberRowId
from mindo_core.ports.bulks import ClaimedRecipient, NewBulkRecipient, RecipientOutcome, in_chunks
from mindo_core.ports.stores import Stores
from tests.contract.tenants import T0, new_bulk, tenant

LATER = T0 + timedelta(minutes=5)
SHORT_LEASE_S = 0.6


def accept(claimed: ClaimedRecipient, wamid: str) -> RecipientOutcome:
    return RecipientOutcome(
        message_id=claimed.message_id, bulk_id=claimed.bulk_id, kind="accept", at=LATER, wamid=wamid
    )


async def bulk_on(stores: Stores, name: str, suffix: str, people: int = 3) -> Bulk:
    owner = await tenant(stores, name, suffix)
    listed = [
        NewBulkRecipient(
            position=i, e164=f"+346{suffix}100{i:04d}", variables_used={"nombre": f"C{i}"}
        )
        for i in range(people)
    ]
    new = new_bulk(owner, pacing="normal", total_recipients=people)
    return await stores.bulks.create_bulk(new, in_chunks(listed, 100))


async def states(stores: Stores, bulk: Bulk) -> list[tuple[str, str | None]]:
    page = await stores.bulks.list_bulk_recipients(
        bulk.organisation_id, bulk.id, status=None, offset=0, limit=100
    )
    return [(recipient.state, recipient.wamid) for recipient in page.items]


# -- every backend: what a taker settles -----------------------------------------------


async def test_a_scoped_settlement_touches_only_that_number_and_others_claims(
    stores: Stores,
) -> None:
    mine = await bulk_on(stores, "acme", "1")
    other_number = await bulk_on(stores, "beta", "2")
    [old] = await stores.bulks.claim_recipients(mine.id, worker="dead", limit=1, now=LATER)
    [own] = await stores.bulks.claim_recipients(mine.id, worker="taker", limit=1, now=LATER)
    [elsewhere] = await stores.bulks.claim_recipients(
        other_number.id, worker="dead", limit=1, now=LATER
    )
    await stores.bulks.mark_calls_started(
        [old.message_id, elsewhere.message_id], worker="dead", at=LATER
    )
    await stores.bulks.mark_calls_started([own.message_id], worker="taker", at=LATER)

    settled = await stores.bulks.settle_in_flight(
        policy="mark_unconfirmed",
        now=LATER,
        number=mine.phone_number_row_id,
        owner="taker",
    )

    assert settled == 1
    assert [state for state, _ in await states(stores, mine)] == [
        "unconfirmed",
        "in_flight",
        "pending",
    ]
    assert await states(stores, other_number) == [
        ("in_flight", None),
        ("pending", None),
        ("pending", None),
    ]
    assert (old.position, own.position) == (0, 1)


async def test_a_worker_s_outcomes_move_only_what_it_claimed(stores: Stores) -> None:
    bulk = await bulk_on(stores, "acme", "1", people=1)
    [claimed] = await stores.bulks.claim_recipients(bulk.id, worker="old", limit=1, now=LATER)
    await stores.bulks.settle_in_flight(policy="resend", now=LATER)
    [again] = await stores.bulks.claim_recipients(bulk.id, worker="new", limit=1, now=LATER)
    assert again.message_id == claimed.message_id

    assert await stores.bulks.record_outcomes([accept(claimed, "wamid.old")], worker="old") == []
    assert await states(stores, bulk) == [("in_flight", None)]
    changed = await stores.bulks.record_outcomes([accept(again, "wamid.new")], worker="new")
    assert [b.id for b in changed] == [bulk.id]
    assert await states(stores, bulk) == [("sent", "wamid.new")]


async def test_a_worker_s_acceptances_at_once_move_only_what_it_claimed(stores: Stores) -> None:
    bulk = await bulk_on(stores, "acme", "1", people=3)
    old = await stores.bulks.claim_recipients(bulk.id, worker="old", limit=3, now=LATER)
    await stores.bulks.settle_in_flight(policy="resend", now=LATER)
    new = await stores.bulks.claim_recipients(bulk.id, worker="new", limit=2, now=LATER)

    stale = [accept(c, f"wamid.old{c.position}") for c in old]
    assert await stores.bulks.record_outcomes(stale, worker="old") == []
    fresh = [accept(c, f"wamid.new{c.position}") for c in new]
    [changed] = await stores.bulks.record_outcomes(fresh, worker="new")

    assert changed.counters.sent == 2
    assert await states(stores, bulk) == [
        ("sent", "wamid.new0"),
        ("sent", "wamid.new1"),
        ("pending", None),
    ]


async def test_the_numbers_in_flight_are_those_of_any_bulk_with_a_recipient_in_flight(
    stores: Stores,
) -> None:
    running = await bulk_on(stores, "acme", "1")
    stopped = await bulk_on(stores, "beta", "2")
    await bulk_on(stores, "gamma", "3")  # nothing claimed
    assert await stores.bulks.numbers_in_flight() == set()
    await stores.bulks.claim_recipients(running.id, worker="w1", limit=1, now=LATER)
    await stores.bulks.claim_recipients(stopped.id, worker="dead", limit=2, now=LATER)
    await stores.bulks.stop_bulk(stopped.id, now=LATER, reason="Stopped", cancelled=False)

    assert await stores.bulks.numbers_in_flight() == {
        running.phone_number_row_id,
        stopped.phone_number_row_id,
    }
    await stores.bulks.settle_in_flight(policy="mark_unconfirmed", now=LATER)
    assert await stores.bulks.numbers_in_flight() == set()


# -- PostgreSQL: the leases ---------------------------------------------------------------


@pytest.fixture
async def workers(postgres_database: str, postgres_engine: Engine) -> AsyncIterator[list[Stores]]:
    """Three workers' stores over one emptied database, each with its own connections (as
    three processes have), with short leases."""
    with postgres_engine.begin() as connection:
        for table in reversed(metadata.sorted_tables):
            connection.execute(table.delete())
    opened = [await open_stores(postgres_database, lease_seconds=SHORT_LEASE_S) for _ in range(3)]
    yield opened
    for stores in opened:
        await stores.close()


NUMBERS = [PhoneNumberRowId(n) for n in range(101, 109)]


@pytest.mark.postgres
async def test_workers_racing_for_numbers_never_share_one(workers: list[Stores]) -> None:
    for round_ in range(10):
        order = NUMBERS[round_ % 8 :] + NUMBERS[: round_ % 8]
        taken = await asyncio.gather(
            *(
                stores.ownership.acquire(f"w{i}", order[::-1] if i % 2 else order, limit=8)
                for i, stores in enumerate(workers)
            )
        )
        everything = [number for part in taken for number in part]
        assert sorted(everything) == NUMBERS  # each number once, none left out
        for i, stores in enumerate(workers):
            await stores.ownership.leave(f"w{i}")


@pytest.mark.postgres
async def test_a_renewed_lease_holds_and_an_unrenewed_one_expires(workers: list[Stores]) -> None:
    a, b, _ = workers
    number = NUMBERS[0]
    assert await a.ownership.acquire("a", [number], limit=1) == {number}
    for _ in range(4):  # 1.2 s: twice the lease, renewed every 0.3 s
        await asyncio.sleep(SHORT_LEASE_S / 2)
        assert (await a.ownership.renew("a")).held == {number}
        assert await b.ownership.acquire("b", [number], limit=1) == set()

    await asyncio.sleep(SHORT_LEASE_S + 0.1)

    assert (await b.ownership.acquire("b", [number], limit=1)) == {number}
    assert (await a.ownership.renew("a")).held == set()  # lost, and told so
    assert (await b.ownership.renew("b")).held == {number}


@pytest.mark.postgres
async def test_heartbeats_count_live_workers_and_leaving_frees_numbers_at_once(
    workers: list[Stores],
) -> None:
    a, b, c = workers
    for name, stores in zip("abc", workers, strict=True):
        await stores.ownership.renew(name)
    assert (await a.ownership.renew("a")).live_workers == 3
    await a.ownership.acquire("a", NUMBERS[:2], limit=2)

    await a.ownership.leave("a")

    assert (await b.ownership.renew("b")).live_workers == 2
    assert await c.ownership.acquire("c", NUMBERS[:2], limit=2) == set(NUMBERS[:2])
    await b.ownership.release("b", NUMBERS[:2])  # not b's: c keeps them
    assert (await c.ownership.renew("c")).held == set(NUMBERS[:2])


@pytest.mark.postgres
async def test_a_stale_owner_is_refused_once_its_number_is_taken(workers: list[Stores]) -> None:
    old, new, _ = workers
    bulk = await bulk_on(old, "acme", "1", people=2)
    number = bulk.phone_number_row_id
    await old.ownership.acquire("old", [number], limit=1)
    first = await old.bulks.claim_recipients(bulk.id, worker="old", limit=1, now=LATER)
    await old.bulks.mark_calls_started([c.message_id for c in first], worker="old", at=LATER)
    await asyncio.sleep(SHORT_LEASE_S + 0.1)  # "old" is cut off: its lease runs out
    assert await new.ownership.acquire("new", [number], limit=1) == {number}

    # The stale owner claims nothing more, and cannot settle what the new one claims.
    assert await old.bulks.claim_recipients(bulk.id, worker="old", limit=5, now=LATER) == []
    second = await new.bulks.claim_recipients(bulk.id, worker="new", limit=5, now=LATER)
    assert len(second) == 1
    assert (
        await old.bulks.settle_in_flight(
            policy="mark_unconfirmed", now=LATER, number=number, owner="old"
        )
        == 0
    )
    # The taker settles the stale owner's in-flight recipient, not its own.
    assert (
        await new.bulks.settle_in_flight(
            policy="mark_unconfirmed", now=LATER, number=number, owner="new"
        )
        == 1
    )
    assert [state for state, _ in await states(new, bulk)] == ["unconfirmed", "in_flight"]
    # The stale owner's late word changes nothing, and it cannot finish the bulk.
    assert await old.bulks.record_outcomes([accept(first[0], "wamid.x")], worker="old") == []
    await new.bulks.record_outcomes([accept(second[0], "wamid.y")], worker="new")
    refused = await old.bulks.finish_bulk(bulk.id, LATER, worker="old")
    assert refused.status == "PROCESSING"
    finished = await new.bulks.finish_bulk(bulk.id, LATER, worker="new")
    assert finished.status != "PROCESSING"
    assert finished.counters.sent == 1
