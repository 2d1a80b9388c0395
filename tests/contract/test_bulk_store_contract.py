"""What every bulk store promises: the in-memory store, a SQLite file and PostgreSQL (when
MINDO_TEST_POSTGRES_URL is set) run the same tests.

A bulk's recipients are messages: claimed by the engine, recorded as Meta answers, counted in
the bulk's counters, listed with their message-level status, and seen by the quota window.
"""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import replace
from datetime import UTC, date, datetime, timedelta
from types import MappingProxyType

import pytest

from mindo_core.bulks.model import (
    NO_ANSWER_REASON,
    UNCONFIRMED_REASON,
    Bulk,
    BulkCounters,
    BulkId,
    IllegalTransition,
    RecipientStatus,
)
from mindo_core.bulks.send_window import SendWindow
from mindo_core.domain.accounts import OrganisationId
from mindo_core.domain.errors import BulkNotFound, Conflict
from mindo_core.domain.templates import TemplateId
from mindo_core.ports.bulks import (
    BulkFilter,
    ClaimedRecipient,
    NewBulkRecipient,
    NewRecipientChunk,
    PendingRecipient,
    RecipientOutcome,
    in_chunks,
)
from mindo_core.ports.stores import Stores
from tests.contract.tenants import (
    MADRID_SUMMER,
    T0,
    Tenant,
    new_bulk,
    sent_message,
    template_info,
    tenant,
)

LATER = T0 + timedelta(minutes=5)


def recipients(count: int, *, not_before: datetime | None = None) -> list[NewBulkRecipient]:
    return [
        NewBulkRecipient(
            position=i,
            e164=f"+3461100{i:04d}",
            variables_used={"nombre": f"Cliente {i}"},
            not_before=not_before,
        )
        for i in range(count)
    ]


async def create(
    stores: Stores,
    owner: Tenant,
    people: Iterable[NewBulkRecipient] | int = 3,
    *,
    created_at: datetime = T0,
    bulk_id: str | None = None,
    template_id: TemplateId | None = None,
    send_at: datetime | None = None,
    chunk_size: int = 700,  # not the SQL stores' 1,000: what callers hand over is their own
) -> Bulk:
    listed = recipients(people) if isinstance(people, int) else people
    submitted = len(listed) + 1 if isinstance(listed, Sequence) else 0
    new = new_bulk(
        owner,
        pacing="normal",
        total_recipients=submitted,  # as submitted, one duplicate dropped
        created_at=created_at,
        **({} if bulk_id is None else {"id": BulkId(bulk_id)}),
        **({} if template_id is None else {"template_id": template_id}),
        send_at=send_at,
    )
    return await stores.bulks.create_bulk(new, in_chunks(listed, chunk_size))


def accept(claimed: ClaimedRecipient, wamid: str, at: datetime = LATER) -> RecipientOutcome:
    return RecipientOutcome(
        message_id=claimed.message_id, bulk_id=claimed.bulk_id, kind="accept", at=at, wamid=wamid
    )


def refuse(claimed: ClaimedRecipient, at: datetime = LATER) -> RecipientOutcome:
    return RecipientOutcome(
        message_id=claimed.message_id,
        bulk_id=claimed.bulk_id,
        kind="refuse",
        at=at,
        error_code=131026,
        error_message="Message undeliverable",
    )


def release(claimed: ClaimedRecipient, retry_at: datetime | None) -> RecipientOutcome:
    return RecipientOutcome(
        message_id=claimed.message_id,
        bulk_id=claimed.bulk_id,
        kind="release",
        at=LATER,
        retry_at=retry_at,
    )


async def claim(
    stores: Stores, bulk: Bulk, limit: int = 10, now: datetime = LATER, worker: str = "w1"
) -> list[ClaimedRecipient]:
    return list(await stores.bulks.claim_recipients(bulk.id, worker=worker, limit=limit, now=now))


async def call(
    stores: Stores, bulk: Bulk, limit: int = 10, now: datetime = LATER, worker: str = "w1"
) -> list[ClaimedRecipient]:
    """Claimed, and their calls to Meta started (durably marked, as the engine does first)."""
    claimed = await claim(stores, bulk, limit=limit, now=now, worker=worker)
    ids = [c.message_id for c in claimed]
    await stores.bulks.mark_calls_started(ids, worker=worker, at=now)
    return claimed


async def states(stores: Stores, bulk: Bulk) -> list[str]:
    page = await stores.bulks.list_bulk_recipients(
        bulk.organisation_id, bulk.id, status=None, offset=0, limit=1000
    )
    return [recipient.state for recipient in page.items]


async def fetch(stores: Stores, bulk: Bulk) -> Bulk:
    found = await stores.bulks.get_bulk(bulk.id)
    assert found is not None
    return found


# --------------------------------------------------------------------------------------------
# Creating and reading


async def test_a_new_bulk_is_queued_with_every_recipient_pending(stores: Stores) -> None:
    acme = await tenant(stores)

    bulk = await create(stores, acme, 3)

    assert bulk.status == "QUEUED"
    assert bulk.counters == BulkCounters(total=3, pending=3)
    # The list as submitted keeps its duplicate; the counters count unique recipients.
    assert (bulk.total_recipients, bulk.duplicates_removed) == (4, 1)
    assert (bulk.template_name, bulk.language) == ("greeting", "es")
    assert (bulk.created_at, bulk.started_at, bulk.completed_at) == (T0, None, None)
    assert await stores.bulks.get_bulk(bulk.id) == bulk
    assert await stores.bulks.get_bulk(bulk.id, acme.organisation.id) == bulk
    page = await stores.bulks.list_bulk_recipients(
        acme.organisation.id, bulk.id, status=None, offset=0, limit=10
    )
    assert page.count == 3
    assert [(r.position, r.e164, r.state, r.attempts) for r in page.items] == [
        (0, "+34611000000", "pending", 0),
        (1, "+34611000001", "pending", 0),
        (2, "+34611000002", "pending", 0),
    ]
    assert page.items[1].variables_used == {"nombre": "Cliente 1"}


async def test_recipients_keep_their_variables_and_when_they_may_go(stores: Stores) -> None:
    acme = await tenant(stores)
    shared = MappingProxyType({"nombre": "Todos"})  # recipients may share one mapping
    refill = datetime(2025, 3, 2, 9, 15, 30, 123456, tzinfo=MADRID_SUMMER)
    people = [
        NewBulkRecipient(position=i, e164=f"+5491100{i:04d}", variables_used=shared)
        for i in range(1500)
    ]
    people.append(
        NewBulkRecipient(position=1500, e164="+5491199999", variables_used={}, not_before=refill)
    )

    bulk = await create(stores, acme, people)

    page = await stores.bulks.list_bulk_recipients(
        acme.organisation.id, bulk.id, status=None, offset=1499, limit=5
    )
    assert page.count == 1501
    assert [r.position for r in page.items] == [1499, 1500]
    assert page.items[0].variables_used == {"nombre": "Todos"}
    assert (page.items[1].variables_used, page.items[1].not_before) == ({}, refill)
    assert page.items[1].not_before is not None
    assert page.items[1].not_before.utcoffset() == timedelta(0)


async def test_recipients_may_be_streamed_from_a_generator_read_once(stores: Stores) -> None:
    # Several SQL chunks (1,000 rows each), so that chunks meet in the middle.
    acme = await tenant(stores)
    read: list[int] = []

    def streamed() -> Iterator[NewBulkRecipient]:
        for i in range(2_503):
            read.append(i)
            yield NewBulkRecipient(position=i, e164=f"+3461{i:07d}", variables_used={"n": str(i)})

    bulk = await create(stores, acme, streamed())

    assert read == list(range(2_503))
    assert bulk.counters == BulkCounters(total=2_503, pending=2_503)
    page = await stores.bulks.list_bulk_recipients(
        acme.organisation.id, bulk.id, status=None, offset=999, limit=3
    )
    assert [(r.position, r.e164, r.variables_used) for r in page.items] == [
        (999, "+34610000999", {"n": "999"}),
        (1_000, "+34610001000", {"n": "1000"}),
        (1_001, "+34610001001", {"n": "1001"}),
    ]


async def test_recipients_out_of_position_order_store_nothing(stores: Stores) -> None:
    acme = await tenant(stores)
    people = recipients(3)
    bulk_id = str(uuid.uuid4())

    with pytest.raises(ValueError, match="position"):
        await create(stores, acme, [people[0], people[2], people[1]], bulk_id=bulk_id)

    assert await stores.bulks.get_bulk(BulkId(bulk_id)) is None
    listed = await stores.bulks.list_bulks(acme.organisation.id, BulkFilter(), offset=0, limit=10)
    assert listed.count == 0


async def test_chunks_that_do_not_follow_on_store_nothing(stores: Stores) -> None:
    acme = await tenant(stores)
    first, third = recipients(3)[:2], recipients(5)[3:]
    bulk_id = str(uuid.uuid4())

    with pytest.raises(ValueError, match="position"):
        await create(stores, acme, first + third, bulk_id=bulk_id, chunk_size=2)

    assert await stores.bulks.get_bulk(BulkId(bulk_id)) is None


async def test_a_chunk_with_columns_of_different_lengths_stores_nothing(stores: Stores) -> None:
    acme = await tenant(stores)
    bulk = await create(stores, acme, 1)
    lopsided = NewRecipientChunk(
        first_position=0, e164s=["+34611000001", "+34611000002"], variables_used=[{}]
    )
    new = new_bulk(acme, total_recipients=2)

    with pytest.raises(ValueError, match="equal length"):
        await stores.bulks.create_bulk(new, [lopsided])

    assert await stores.bulks.get_bulk(new.id) is None
    assert await stores.bulks.get_bulk(bulk.id) is not None


async def test_another_organisations_bulk_is_not_found(stores: Stores) -> None:
    acme = await tenant(stores, "acme", "1")
    other = await tenant(stores, "other", "2")
    bulk = await create(stores, acme)

    assert await stores.bulks.get_bulk(bulk.id, other.organisation.id) is None
    assert await stores.bulks.get_bulk(BulkId(str(uuid.uuid4()))) is None
    page = await stores.bulks.list_bulk_recipients(
        other.organisation.id, bulk.id, status=None, offset=0, limit=10
    )
    assert (page.count, list(page.items)) == (0, [])
    listed = await stores.bulks.list_bulks(other.organisation.id, BulkFilter(), offset=0, limit=10)
    assert listed.count == 0


async def test_a_bulk_id_is_taken_once(stores: Stores) -> None:
    acme = await tenant(stores)
    bulk = await create(stores, acme, 2)

    with pytest.raises(Conflict):
        await create(stores, acme, 5, bulk_id=bulk.id)

    assert await stores.bulks.get_bulk(bulk.id) == bulk
    assert await states(stores, bulk) == ["pending", "pending"]


async def test_bulks_are_listed_newest_first_with_their_count(stores: Stores) -> None:
    acme = await tenant(stores, "acme", "1")
    other = await tenant(stores, "other", "2")
    made = [await create(stores, acme, 1, created_at=T0 + timedelta(hours=h)) for h in range(5)]
    await create(stores, other, 1, created_at=T0 + timedelta(hours=9))

    first = await stores.bulks.list_bulks(acme.organisation.id, BulkFilter(), offset=0, limit=2)
    third = await stores.bulks.list_bulks(acme.organisation.id, BulkFilter(), offset=4, limit=2)

    assert first.count == third.count == 5
    assert list(first.items) == [made[4], made[3]]
    assert list(third.items) == [made[0]]


async def test_bulks_are_filtered_by_status_template_and_inclusive_utc_days(
    stores: Stores,
) -> None:
    acme = await tenant(stores)
    english = await stores.templates.upsert_template(acme.account.id, template_info(language="en"))
    # 23:30 UTC on the 1st is already the 2nd in Madrid: days are UTC days.
    late_first = await create(stores, acme, 1, created_at=datetime(2025, 3, 1, 23, 30, tzinfo=UTC))
    second = await create(stores, acme, 1, created_at=datetime(2025, 3, 2, 0, 0, tzinfo=UTC))
    third = await create(
        stores, acme, 1, created_at=datetime(2025, 3, 3, 12, 0, tzinfo=UTC), template_id=english.id
    )
    await stores.bulks.stop_bulk(second.id, now=LATER, reason=None, cancelled=True)

    async def listed(filters: BulkFilter) -> list[BulkId]:
        page = await stores.bulks.list_bulks(acme.organisation.id, filters, offset=0, limit=10)
        assert page.count == len(page.items)
        return [bulk.id for bulk in page.items]

    assert await listed(BulkFilter(created_after=date(2025, 3, 2))) == [third.id, second.id]
    assert await listed(BulkFilter(created_before=date(2025, 3, 2))) == [second.id, late_first.id]
    assert await listed(
        BulkFilter(created_after=date(2025, 3, 1), created_before=date(2025, 3, 1))
    ) == [late_first.id]
    assert await listed(BulkFilter(status="CANCELLED")) == [second.id]
    assert await listed(BulkFilter(status="QUEUED", template_id=english.id)) == [third.id]
    assert await listed(BulkFilter(template_id=acme.template.id)) == [second.id, late_first.id]


async def test_bulks_to_run_are_the_queued_and_processing_ones_oldest_first(
    stores: Stores,
) -> None:
    acme = await tenant(stores, "acme", "1")
    other = await tenant(stores, "other", "2")
    newest = await create(stores, acme, 1, created_at=T0 + timedelta(hours=2))
    oldest = await create(stores, other, 1, created_at=T0)
    cancelled = await create(stores, acme, 1, created_at=T0 + timedelta(hours=1))
    await stores.bulks.stop_bulk(cancelled.id, now=LATER, reason=None, cancelled=True)
    await claim(stores, oldest)

    running = await stores.bulks.bulks_to_run()

    assert [(b.id, b.status) for b in running] == [
        (oldest.id, "PROCESSING"),
        (newest.id, "QUEUED"),
    ]
    assert [b.id for b in await stores.bulks.bulks_to_run(acme.number.id)] == [newest.id]
    assert [b.id for b in await stores.bulks.bulks_to_run(other.number.id)] == [oldest.id]


async def test_a_bulk_with_send_at_is_scheduled_and_not_run_until_started(
    stores: Stores,
) -> None:
    acme = await tenant(stores)
    soon = await create(stores, acme, 2, send_at=T0 + timedelta(minutes=1))
    later = await create(stores, acme, 1, send_at=T0 + timedelta(hours=1))

    assert (soon.status, soon.send_at, soon.counters.pending) == (
        "SCHEDULED",
        T0 + timedelta(minutes=1),
        2,
    )
    assert await stores.bulks.bulks_to_run() == []
    assert await stores.bulks.start_scheduled(T0) == T0 + timedelta(minutes=1)
    assert await stores.bulks.bulks_to_run() == []

    next_one = await stores.bulks.start_scheduled(T0 + timedelta(minutes=1))

    assert next_one == T0 + timedelta(hours=1)
    assert [(b.id, b.status) for b in await stores.bulks.bulks_to_run()] == [(soon.id, "QUEUED")]
    assert (await fetch(stores, later)).status == "SCHEDULED"
    assert await stores.bulks.start_scheduled(T0 + timedelta(days=1)) is None


async def test_a_scheduled_bulk_is_cancelled_whole_and_listed_by_status(stores: Stores) -> None:
    acme = await tenant(stores)
    kept = await create(stores, acme, 2, send_at=T0 + timedelta(hours=1))
    dropped = await create(stores, acme, 3, send_at=T0 + timedelta(hours=1))
    await create(stores, acme, 1)

    cancelled = await stores.bulks.stop_bulk(dropped.id, now=LATER, reason=None, cancelled=True)
    listed = await stores.bulks.list_bulks(
        acme.organisation.id, BulkFilter(status="SCHEDULED"), offset=0, limit=10
    )

    assert (cancelled.status, cancelled.counters.cancelled) == ("CANCELLED", 3)
    assert [b.id for b in listed.items] == [kept.id]
    assert await stores.bulks.start_scheduled(T0 + timedelta(days=1)) is None
    assert (await fetch(stores, dropped)).status == "CANCELLED"


# --------------------------------------------------------------------------------------------
# Claims


async def test_a_claim_takes_due_recipients_in_position_order_and_starts_the_bulk(
    stores: Stores,
) -> None:
    acme = await tenant(stores)
    bulk = await create(stores, acme, 3)

    first = await claim(stores, bulk, limit=2, worker="worker-a")
    second = await claim(stores, bulk, limit=2, now=LATER + timedelta(seconds=1))

    assert [(c.position, c.e164, c.attempts) for c in first] == [
        (0, "+34611000000", 1),
        (1, "+34611000001", 1),
    ]
    assert first[0].variables_used == {"nombre": "Cliente 0"}
    assert {c.bulk_id for c in first} == {bulk.id}
    assert [c.position for c in second] == [2]
    assert await claim(stores, bulk) == []
    started = await fetch(stores, bulk)
    assert (started.status, started.started_at) == ("PROCESSING", LATER)
    # In flight still counts as pending: nothing was sent yet.
    assert started.counters == BulkCounters(total=3, pending=3)
    assert await states(stores, bulk) == ["in_flight"] * 3


async def test_a_claim_is_durable_before_it_returns(stores: Stores, elsewhere: Stores) -> None:
    acme = await tenant(stores)
    bulk = await create(stores, acme, 2)

    claimed = await claim(stores, bulk, limit=1)

    assert await states(elsewhere, bulk) == ["in_flight", "pending"]
    assert (await fetch(elsewhere, bulk)).status == "PROCESSING"
    assert [c.position for c in await claim(elsewhere, bulk)] == [1]
    assert claimed[0].position == 0


async def test_a_claim_that_finds_nothing_due_leaves_the_bulk_queued(stores: Stores) -> None:
    acme = await tenant(stores)
    refill = LATER + timedelta(hours=3)
    bulk = await create(stores, acme, recipients(2, not_before=refill))

    assert await claim(stores, bulk, now=LATER) == []
    assert (await fetch(stores, bulk)).status == "QUEUED"
    assert await stores.bulks.next_due_at(bulk.id) == refill
    assert [c.position for c in await claim(stores, bulk, now=refill)] == [0, 1]


async def test_recipients_go_in_position_order_as_they_become_due(stores: Stores) -> None:
    acme = await tenant(stores)
    people = recipients(3)
    people[0] = NewBulkRecipient(
        position=0, e164="+34600000000", variables_used={}, not_before=LATER + timedelta(hours=1)
    )
    bulk = await create(stores, acme, people)

    assert [c.position for c in await claim(stores, bulk, limit=1)] == [1]
    assert await stores.bulks.next_due_at(bulk.id) == T0  # position 2 has been due since creation
    assert [c.position for c in await claim(stores, bulk, limit=1)] == [2]
    assert await stores.bulks.next_due_at(bulk.id) == LATER + timedelta(hours=1)
    assert await claim(stores, bulk, limit=5, now=LATER + timedelta(minutes=59)) == []
    late = await claim(stores, bulk, limit=5, now=LATER + timedelta(hours=1))
    assert [c.position for c in late] == [0]
    assert await stores.bulks.next_due_at(bulk.id) is None


async def test_a_cancelled_bulk_yields_nothing(stores: Stores) -> None:
    acme = await tenant(stores)
    bulk = await create(stores, acme, 3)
    await stores.bulks.stop_bulk(bulk.id, now=LATER, reason=None, cancelled=True)

    assert await claim(stores, bulk) == []
    assert await claim(stores, await create(stores, acme, 1), limit=0) == []


async def test_two_concurrent_claims_never_return_the_same_recipient(
    stores: Stores, elsewhere: Stores
) -> None:
    acme = await tenant(stores)
    bulk = await create(stores, acme, 60)

    rounds = await asyncio.gather(
        *(
            claim(store, bulk, limit=4, worker=f"worker-{i}")
            for i in range(12)
            for store in (stores, elsewhere)
        )
    )

    positions = [c.position for claimed in rounds for c in claimed]
    assert len(positions) == len(set(positions)) == 60
    assert await states(stores, bulk) == ["in_flight"] * 60
    assert (await fetch(stores, bulk)).status == "PROCESSING"


async def test_the_next_due_time_of_an_unknown_bulk_is_an_error(stores: Stores) -> None:
    with pytest.raises(BulkNotFound):
        await stores.bulks.next_due_at(BulkId(str(uuid.uuid4())))


# --------------------------------------------------------------------------------------------
# Outcomes


async def test_outcomes_move_recipients_and_counters_together(stores: Stores) -> None:
    acme = await tenant(stores)
    bulk = await create(stores, acme, 4)
    claimed = await claim(stores, bulk, limit=3)
    retry_at = LATER + timedelta(seconds=30)

    changed = await stores.bulks.record_outcomes(
        [accept(claimed[0], "wamid.B0"), refuse(claimed[1]), release(claimed[2], retry_at)]
    )

    after = await fetch(stores, bulk)
    assert list(changed) == [after]
    assert after.counters == BulkCounters(total=4, sent=1, failed=1, pending=2)
    assert after.status == "PROCESSING"
    page = await stores.bulks.list_bulk_recipients(
        acme.organisation.id, bulk.id, status=None, offset=0, limit=10
    )
    sent, failed, released, untouched = page.items
    assert (sent.state, sent.wamid, sent.sent_at, sent.attempts) == ("sent", "wamid.B0", LATER, 1)
    assert (failed.state, failed.failed_at, failed.error_code) == ("failed", LATER, 131026)
    assert failed.error_message == "Message undeliverable"
    assert (released.state, untouched.state) == ("pending", "pending")


async def test_a_call_with_no_answer_is_unconfirmed_with_its_reason_and_not_claimed_again(
    stores: Stores,
) -> None:
    acme = await tenant(stores)
    bulk = await create(stores, acme, 2)
    first, _ = await call(stores, bulk, limit=2)
    no_answer = RecipientOutcome(
        message_id=first.message_id,
        bulk_id=bulk.id,
        kind="unconfirm",
        at=LATER,
        error_message=NO_ANSWER_REASON,
    )

    [changed] = await stores.bulks.record_outcomes([no_answer])

    assert changed.counters == BulkCounters(total=2, failed=1, pending=1)
    failed = await stores.bulks.list_bulk_recipients(
        acme.organisation.id, bulk.id, status="failed", offset=0, limit=10
    )
    assert [(r.state, r.error_message) for r in failed.items] == [("unconfirmed", NO_ANSWER_REASON)]
    await stores.bulks.settle_in_flight(policy="mark_unconfirmed", now=LATER)
    assert await claim(stores, bulk, now=LATER + timedelta(hours=1)) == []


async def test_a_released_recipient_waits_for_its_retry_time(stores: Stores) -> None:
    acme = await tenant(stores)
    bulk = await create(stores, acme, 1)
    [first] = await claim(stores, bulk)
    retry_at = LATER + timedelta(seconds=30)
    await stores.bulks.record_outcomes([release(first, retry_at)])

    assert await claim(stores, bulk, now=retry_at - timedelta(seconds=1)) == []
    assert await stores.bulks.next_due_at(bulk.id) == retry_at
    [again] = await claim(stores, bulk, now=retry_at)
    assert (again.message_id, again.attempts) == (first.message_id, 2)


async def test_an_outcome_for_a_recipient_no_longer_in_flight_changes_nothing(
    stores: Stores,
) -> None:
    acme = await tenant(stores)
    bulk = await create(stores, acme, 2)
    claimed = await call(stores, bulk)
    await stores.bulks.record_outcomes([accept(claimed[0], "wamid.first")])
    await stores.bulks.settle_in_flight(policy="mark_unconfirmed", now=LATER)
    before = await fetch(stores, bulk)

    changed = await stores.bulks.record_outcomes(
        [accept(claimed[0], "wamid.again"), refuse(claimed[1]), release(claimed[1], None)]
    )

    assert list(changed) == []
    assert await fetch(stores, bulk) == before
    assert await states(stores, bulk) == ["sent", "unconfirmed"]
    found = await stores.messages.find_message_by_wamid(acme.organisation.id, "wamid.first")
    assert found is not None
    assert await stores.messages.find_message_by_wamid(acme.organisation.id, "wamid.again") is None


async def test_many_acceptances_at_once_each_keep_their_own_wamid_and_time(
    stores: Stores,
) -> None:
    acme = await tenant(stores)
    bulk = await create(stores, acme, 4)
    claimed = await call(stores, bulk)
    await stores.bulks.record_outcomes([accept(claimed[3], "wamid.early")])
    times = [LATER + timedelta(milliseconds=i) for i in range(4)]

    [changed] = await stores.bulks.record_outcomes(
        [accept(c, f"wamid.{c.position}", at=at) for c, at in zip(claimed, times, strict=True)]
    )

    assert changed.counters.sent == 4  # the fourth was already sent, and stays as it was
    page = await stores.bulks.list_bulk_recipients(
        bulk.organisation_id, bulk.id, status=None, offset=0, limit=10
    )
    assert [(r.state, r.wamid, r.sent_at) for r in page.items] == [
        ("sent", "wamid.0", times[0]),
        ("sent", "wamid.1", times[1]),
        ("sent", "wamid.2", times[2]),
        ("sent", "wamid.early", LATER),
    ]


async def test_outcomes_of_several_bulks_are_recorded_together(stores: Stores) -> None:
    acme = await tenant(stores)
    one = await create(stores, acme, 1, created_at=T0)
    two = await create(stores, acme, 2, created_at=T0 + timedelta(seconds=1))
    untouched = await create(stores, acme, 1, created_at=T0 + timedelta(seconds=2))
    [a] = await claim(stores, one)
    b = await claim(stores, two)
    await claim(stores, untouched)

    changed = await stores.bulks.record_outcomes(
        [refuse(b[1]), accept(a, "wamid.A"), accept(b[0], "B")]
    )

    assert {bulk.id: bulk.counters for bulk in changed} == {
        one.id: BulkCounters(total=1, sent=1),
        two.id: BulkCounters(total=2, sent=1, failed=1),
    }


async def test_a_bulk_message_is_found_by_its_wamid(stores: Stores) -> None:
    acme = await tenant(stores, "acme", "1")
    other = await tenant(stores, "other", "2")
    bulk = await create(stores, acme, 1)
    [claimed] = await claim(stores, bulk)
    await stores.bulks.record_outcomes([accept(claimed, "wamid.BULK")])

    found = await stores.messages.find_message_by_wamid(acme.organisation.id, "wamid.BULK")

    assert found is not None
    assert (found.id, found.status, found.sent_at) == (claimed.message_id, "sent", LATER)
    assert found.recipient_phone == "+34611000000"
    assert found.variables_used == {"nombre": "Cliente 0"}
    assert (found.template_id, found.phone_number_row_id) == (acme.template.id, acme.number.id)
    assert await stores.messages.find_message_by_wamid(other.organisation.id, "wamid.BULK") is None
    with pytest.raises(Conflict):
        await stores.messages.add_message(sent_message(acme, "wamid.BULK"))


# --------------------------------------------------------------------------------------------
# Finishing, cancelling, stopping


@pytest.mark.parametrize(("accepted", "status"), [(2, "COMPLETED"), (1, "PARTIAL"), (0, "FAILED")])
async def test_a_finished_bulk_gets_its_final_status(
    stores: Stores, accepted: int, status: str
) -> None:
    acme = await tenant(stores)
    bulk = await create(stores, acme, 2)
    claimed = await claim(stores, bulk)
    await stores.bulks.record_outcomes(
        [accept(c, f"wamid.{c.position}") if c.position < accepted else refuse(c) for c in claimed]
    )

    finished = await stores.bulks.finish_bulk(bulk.id, LATER + timedelta(minutes=1))

    assert (finished.status, finished.completed_at) == (status, LATER + timedelta(minutes=1))
    assert finished.counters.progress_percentage == 100.0
    assert await fetch(stores, bulk) == finished
    assert await stores.bulks.finish_bulk(bulk.id, LATER + timedelta(hours=1)) == finished


async def test_a_bulk_with_recipients_to_send_is_not_finished(stores: Stores) -> None:
    # As when the sweep of unknown outcomes resends one after the engine found none due.
    acme = await tenant(stores)
    bulk = await create(stores, acme, 2)
    await claim(stores, bulk, limit=1)
    before = await fetch(stores, bulk)

    unchanged = await stores.bulks.finish_bulk(bulk.id, LATER)

    assert unchanged == before
    assert (unchanged.status, unchanged.completed_at) == ("PROCESSING", None)


async def test_cancelling_cancels_the_pending_and_lets_in_flight_ones_finish(
    stores: Stores,
) -> None:
    acme = await tenant(stores)
    bulk = await create(stores, acme, 4)
    claimed = await claim(stores, bulk, limit=2)

    cancelled = await stores.bulks.stop_bulk(bulk.id, now=LATER, reason=None, cancelled=True)

    assert (cancelled.status, cancelled.completed_at) == ("CANCELLED", LATER)
    assert cancelled.counters == BulkCounters(total=4, pending=2, cancelled=2)
    assert await states(stores, bulk) == ["in_flight", "in_flight", "cancelled", "cancelled"]
    await stores.bulks.record_outcomes(
        [accept(claimed[0], "wamid.late"), release(claimed[1], None)]
    )
    after = await fetch(stores, bulk)
    assert after.status == "CANCELLED"
    assert after.counters == BulkCounters(total=4, sent=1, cancelled=3)
    assert await states(stores, bulk) == ["sent", "cancelled", "cancelled", "cancelled"]


async def test_stopping_skips_the_pending_and_ends_the_bulk_at_once(stores: Stores) -> None:
    acme = await tenant(stores)
    bulk = await create(stores, acme, 3)
    claimed = await claim(stores, bulk, limit=1)

    stopped = await stores.bulks.stop_bulk(
        bulk.id, now=LATER, reason="Template paused by Meta", cancelled=False
    )

    # The one in flight counts as pending until it is recorded; the bulk failed so far.
    assert (stopped.status, stopped.stop_reason) == ("FAILED", "Template paused by Meta")
    assert stopped.counters == BulkCounters(total=3, cancelled=2, pending=1)
    assert await states(stores, bulk) == ["in_flight", "skipped", "skipped"]
    [changed] = await stores.bulks.record_outcomes([accept(claimed[0], "wamid.0")])
    assert changed.status == "PARTIAL"
    assert changed.counters == BulkCounters(total=3, sent=1, cancelled=2)
    assert await fetch(stores, bulk) == changed


async def test_recipients_skipped_by_a_stop_carry_its_reason(stores: Stores) -> None:
    acme = await tenant(stores)
    bulk = await create(stores, acme, 4)
    claimed = await claim(stores, bulk, limit=2)
    await stores.bulks.stop_bulk(bulk.id, now=LATER, reason="Template paused", cancelled=False)
    # One claimed but not sent when the stop came goes as its siblings did, with the reason.
    await stores.bulks.record_outcomes([release(claimed[1], retry_at=LATER)])

    page = await stores.bulks.list_bulk_recipients(
        acme.organisation.id, bulk.id, status="cancelled", offset=0, limit=10
    )
    assert [(r.position, r.error_message) for r in page.items] == [
        (1, "Template paused"),
        (2, "Template paused"),
        (3, "Template paused"),
    ]
    assert (await fetch(stores, bulk)).counters == BulkCounters(total=4, pending=1, cancelled=3)


async def test_a_crash_settled_after_a_stop_skips_with_the_reason(stores: Stores) -> None:
    acme = await tenant(stores)
    bulk = await create(stores, acme, 2)
    await claim(stores, bulk, limit=1)
    await stores.bulks.stop_bulk(bulk.id, now=LATER, reason="Template paused", cancelled=False)

    assert await stores.bulks.settle_in_flight(policy="resend", now=LATER) == 1

    page = await stores.bulks.list_bulk_recipients(
        acme.organisation.id, bulk.id, status=None, offset=0, limit=10
    )
    assert {(r.state, r.error_message) for r in page.items} == {("skipped", "Template paused")}
    assert (await fetch(stores, bulk)).counters == BulkCounters(total=2, cancelled=2)


async def test_a_bulk_that_is_over_cannot_be_stopped(stores: Stores) -> None:
    acme = await tenant(stores)
    bulk = await create(stores, acme, 1)
    await stores.bulks.stop_bulk(bulk.id, now=LATER, reason=None, cancelled=True)

    with pytest.raises(IllegalTransition):
        await stores.bulks.stop_bulk(bulk.id, now=LATER, reason="again", cancelled=False)
    with pytest.raises(BulkNotFound):
        await stores.bulks.stop_bulk(
            BulkId(str(uuid.uuid4())), now=LATER, reason=None, cancelled=True
        )


# --------------------------------------------------------------------------------------------
# After a crash


async def test_settling_marks_in_flight_recipients_unconfirmed(stores: Stores) -> None:
    acme = await tenant(stores)
    one = await create(stores, acme, 3)
    two = await create(stores, acme, 1)
    await call(stores, one, limit=2)
    await call(stores, two)

    settled = await stores.bulks.settle_in_flight(policy="mark_unconfirmed", now=LATER)

    assert settled == 3
    assert await states(stores, one) == ["unconfirmed", "unconfirmed", "pending"]
    assert (await fetch(stores, one)).counters == BulkCounters(total=3, failed=2, pending=1)
    failed = await stores.bulks.list_bulk_recipients(
        acme.organisation.id, one.id, status="failed", offset=0, limit=10
    )
    assert failed.count == 2
    assert {r.error_message for r in failed.items} == {UNCONFIRMED_REASON}
    assert await stores.bulks.settle_in_flight(policy="mark_unconfirmed", now=LATER) == 0


async def test_settling_with_resend_makes_them_pending_again(stores: Stores) -> None:
    acme = await tenant(stores)
    bulk = await create(stores, acme, 2)
    first = await call(stores, bulk, limit=1)

    assert await stores.bulks.settle_in_flight(policy="resend", now=LATER) == 1

    assert await states(stores, bulk) == ["pending", "pending"]
    assert (await fetch(stores, bulk)).counters == BulkCounters(total=2, pending=2)
    again = await claim(stores, bulk, limit=1, now=LATER)
    assert [(c.message_id, c.attempts) for c in again] == [(first[0].message_id, 2)]


async def test_a_release_without_a_call_undoes_the_claims_attempt(stores: Stores) -> None:
    acme = await tenant(stores)
    bulk = await create(stores, acme, 2)
    first, second = await claim(stores, bulk, limit=2)
    unsent = replace(release(first, None), unsent=True)

    await stores.bulks.record_outcomes([unsent, release(second, None)])

    again = await claim(stores, bulk, now=LATER)
    assert [(c.position, c.attempts) for c in again] == [(0, 1), (1, 2)]


async def test_recipients_claimed_whose_calls_never_started_go_again_not_unknown(
    stores: Stores,
) -> None:
    acme = await tenant(stores)
    bulk = await create(stores, acme, 4)
    started = await call(stores, bulk, limit=1)
    claimed = await claim(stores, bulk, limit=2)

    settled = await stores.bulks.settle_in_flight(policy="mark_unconfirmed", now=LATER)

    assert settled == 3
    assert await states(stores, bulk) == ["unconfirmed", "pending", "pending", "pending"]
    assert (await fetch(stores, bulk)).counters == BulkCounters(total=4, failed=1, pending=3)
    # Sent later as if never claimed: their claim's attempt is undone.
    again = await claim(stores, bulk, limit=2, now=LATER)
    assert [(c.message_id, c.attempts) for c in again] == [(c.message_id, 1) for c in claimed]
    assert started[0].message_id not in {c.message_id for c in again}


async def test_a_call_is_marked_started_only_under_the_workers_own_claim(stores: Stores) -> None:
    acme = await tenant(stores)
    bulk = await create(stores, acme, 3)
    first, second, third = await claim(stores, bulk, limit=3, worker="w1")
    await stores.bulks.record_outcomes([accept(third, "wamid.third")])

    marked = await stores.bulks.mark_calls_started(
        [first.message_id, third.message_id], worker="w1", at=LATER
    )
    by_another = await stores.bulks.mark_calls_started([second.message_id], worker="w2", at=LATER)

    # The one answered already and the one claimed by another worker are not marked.
    assert marked == {first.message_id}
    assert by_another == set()
    await stores.bulks.settle_in_flight(policy="mark_unconfirmed", now=LATER)
    assert await states(stores, bulk) == ["unconfirmed", "pending", "sent"]


async def test_a_recipient_claimed_again_after_a_retry_is_not_started_until_marked(
    stores: Stores,
) -> None:
    acme = await tenant(stores)
    bulk = await create(stores, acme, 1)
    [first] = await call(stores, bulk)
    await stores.bulks.record_outcomes([release(first, None)])
    [again] = await claim(stores, bulk, now=LATER)

    await stores.bulks.settle_in_flight(policy="mark_unconfirmed", now=LATER)

    assert again.attempts == 2
    assert await states(stores, bulk) == ["pending"]
    [third] = await claim(stores, bulk, now=LATER)
    assert third.attempts == 2  # the first call counts, the claim never called does not


async def test_claimed_but_never_called_recipients_of_a_stopped_bulk_are_skipped(
    stores: Stores,
) -> None:
    acme = await tenant(stores)
    bulk = await create(stores, acme, 2)
    await claim(stores, bulk, limit=2)
    await stores.bulks.stop_bulk(bulk.id, now=LATER, reason="Stopped: token", cancelled=False)

    assert await stores.bulks.settle_in_flight(policy="mark_unconfirmed", now=LATER) == 2

    assert await states(stores, bulk) == ["skipped", "skipped"]
    skipped = await stores.bulks.list_bulk_recipients(
        acme.organisation.id, bulk.id, status=None, offset=0, limit=10
    )
    assert {r.error_message for r in skipped.items} == {"Stopped: token"}


# --------------------------------------------------------------------------------------------
# Listing recipients by message-level status


async def test_recipients_are_filtered_by_their_documented_status(stores: Stores) -> None:
    acme = await tenant(stores)
    bulk = await create(stores, acme, 5)
    claimed = await claim(stores, bulk, limit=3)
    await stores.bulks.record_outcomes([accept(claimed[0], "wamid.0"), refuse(claimed[1])])
    await stores.bulks.stop_bulk(bulk.id, now=LATER, reason="Paused", cancelled=False)

    async def positions(status: RecipientStatus | None) -> tuple[int, list[int]]:
        page = await stores.bulks.list_bulk_recipients(
            acme.organisation.id, bulk.id, status=status, offset=0, limit=10
        )
        return page.count, [r.position for r in page.items]

    assert await positions("failed") == (1, [1])
    assert await positions("sent") == (1, [0])
    assert await positions("sending") == (1, [2])
    assert await positions("cancelled") == (2, [3, 4])
    assert await positions("pending") == (0, [])
    assert await positions("delivered") == (0, [])
    assert await positions(None) == (5, [0, 1, 2, 3, 4])


async def test_every_recipient_of_a_running_bulk_is_listed_with_a_status(stores: Stores) -> None:
    acme = await tenant(stores)
    bulk = await create(stores, acme, 3)
    await claim(stores, bulk, limit=1)

    page = await stores.bulks.list_bulk_recipients(
        acme.organisation.id, bulk.id, status="pending", offset=0, limit=10
    )
    assert [r.position for r in page.items] == [1, 2]


async def test_counters_add_up_in_every_state_a_bulk_passes_through(stores: Stores) -> None:
    acme = await tenant(stores)
    bulk = await create(stores, acme, 6)

    def adds_up(found: Bulk) -> None:
        c = found.counters
        assert c.total == c.sent + c.failed + c.pending + c.cancelled == 6

    claimed = await claim(stores, bulk, limit=3)
    adds_up(await fetch(stores, bulk))
    await stores.bulks.record_outcomes([accept(claimed[0], "wamid.0"), refuse(claimed[1])])
    adds_up(await fetch(stores, bulk))
    cancelled = await stores.bulks.stop_bulk(bulk.id, now=LATER, reason=None, cancelled=True)
    adds_up(cancelled)
    assert cancelled.counters == BulkCounters(total=6, sent=1, failed=1, pending=1, cancelled=3)
    await stores.bulks.record_outcomes([release(claimed[2], retry_at=LATER)])
    final = await fetch(stores, bulk)
    adds_up(final)
    assert final.counters == BulkCounters(total=6, sent=1, failed=1, cancelled=4)
    assert final.counters.progress_percentage == 100.0


# --------------------------------------------------------------------------------------------
# The quota window


async def test_the_window_has_everyone_the_organisation_sent_to_since_then(
    stores: Stores,
) -> None:
    acme = await tenant(stores, "acme", "1")
    other = await tenant(stores, "other", "2")
    since = T0
    await stores.messages.add_message(
        sent_message(acme, "wamid.old", sent_at=since, created_at=since)
    )
    await stores.messages.add_message(
        sent_message(acme, "wamid.s1", recipient_phone="+34611000001", sent_at=since + timedelta(1))
    )
    await stores.messages.add_message(
        sent_message(
            acme,
            None,
            recipient_phone="+34699999999",
            status="failed",
            sent_at=None,
            failed_at=since + timedelta(hours=1),
        )
    )
    await stores.messages.add_message(
        sent_message(other, "wamid.other", recipient_phone="+34622222222", sent_at=LATER)
    )
    bulk = await create(stores, acme, 4)
    claimed = await claim(stores, bulk, limit=3, now=LATER)
    await stores.bulks.record_outcomes(
        [accept(claimed[0], "wamid.b0"), accept(claimed[1], "wamid.b1")]
    )

    window = await stores.bulks.recipient_window(acme.organisation.id, since)

    assert window == {
        # Sent by the bulk; its earlier single message was sent later.
        "34611000001": LATER,
        "34611000000": LATER,
        # In flight: perhaps sent, so it counts from its claim.
        "34611000002": LATER,
    }
    assert (
        await stores.bulks.recipient_window(OrganisationId(acme.organisation.id + 999), since) == {}
    )


async def test_the_window_counts_single_messages_sent_after_the_given_time(
    stores: Stores,
) -> None:
    acme = await tenant(stores)
    sent_at = T0 + timedelta(minutes=1)
    await stores.messages.add_message(sent_message(acme, "wamid.1", sent_at=sent_at))

    assert await stores.bulks.recipient_window(acme.organisation.id, T0) == {"34611222333": sent_at}
    assert await stores.bulks.recipient_window(acme.organisation.id, sent_at) == {}


async def test_a_recipient_messaged_twice_is_in_the_window_from_the_first_time(
    stores: Stores,
) -> None:
    acme = await tenant(stores)
    first, second = T0 + timedelta(minutes=1), T0 + timedelta(minutes=2)
    # Written latest first: the window keeps the earliest time, whatever the rows' order.
    await stores.messages.add_message(sent_message(acme, "wamid.2", sent_at=second))
    await stores.messages.add_message(sent_message(acme, "wamid.1", sent_at=first))

    window = await stores.bulks.recipient_window(acme.organisation.id, T0)

    assert dict(window) == {"34611222333": first}
    assert list(window.values()) == [first]


async def test_promised_recipients_are_what_running_bulks_still_have_to_send(
    stores: Stores,
) -> None:
    acme = await tenant(stores, "acme", "1")
    other = await tenant(stores, "other", "2")
    # 1,500 recipients: more than one staged chunk, so staged and materialised rows both count.
    sending = await create(stores, acme, 1_500)
    claimed = await claim(stores, sending, limit=3, now=LATER)
    await stores.bulks.record_outcomes(
        [accept(claimed[0], "wamid.p0"), refuse(claimed[1]), release(claimed[2], None)]
    )
    cancelled = await create(stores, acme, 2)
    await stores.bulks.stop_bulk(cancelled.id, now=LATER, reason=None, cancelled=True)
    await create(stores, other, 2)

    promised = await stores.bulks.promised_recipients(acme.organisation.id)

    # Sent (0) and refused (1) are no longer owed; the released one (2) is pending again.
    assert promised == {f"3461100{i:04d}" for i in range(2, 1_500)}


# --------------------------------------------------------------------------------------------
# Time


async def test_bulk_timestamps_must_be_aware(stores: Stores) -> None:
    acme = await tenant(stores)
    bulk = await create(stores, acme, 1)

    with pytest.raises(ValueError, match="timezone-aware"):
        await stores.bulks.claim_recipients(bulk.id, worker="w", limit=1, now=datetime(2025, 3, 1))
    assert await states(stores, bulk) == ["pending"]


# --------------------------------------------------------------------------------------------
# Big bulks. The SQL stores keep a bulk's recipients in chunks of 1,000 until they are needed
# (``staged_recipients``); every promise above holds across chunk boundaries.

BIG = 2_345  # two full chunks and part of a third


async def states_from(stores: Stores, bulk: Bulk, offset: int) -> list[tuple[int, str]]:
    page = await stores.bulks.list_bulk_recipients(
        bulk.organisation_id, bulk.id, status=None, offset=offset, limit=BIG
    )
    assert page.count == BIG
    return [(recipient.position, recipient.state) for recipient in page.items]


async def test_a_big_bulk_is_claimed_whole_in_position_order(stores: Stores) -> None:
    acme = await tenant(stores)
    bulk = await create(stores, acme, BIG, chunk_size=BIG)  # one chunk, bigger than the SQL one

    claimed = [c for _ in range(6) for c in await claim(stores, bulk, limit=400)]

    assert [c.position for c in claimed] == list(range(BIG))
    assert claimed[1_500].e164 == "+34611001500"
    assert claimed[1_500].variables_used == {"nombre": "Cliente 1500"}
    assert await claim(stores, bulk) == []
    assert (await fetch(stores, bulk)).counters == BulkCounters(total=BIG, pending=BIG)


async def test_recipients_waiting_for_quota_do_not_hold_back_later_ones(
    stores: Stores,
) -> None:
    acme = await tenant(stores)
    waiting = recipients(1_500, not_before=LATER + timedelta(hours=2))
    free = [replace_position(r, 1_500 + r.position) for r in recipients(BIG - 1_500)]
    bulk = await create(stores, acme, waiting + free)

    first = await claim(stores, bulk, limit=100)

    assert [c.position for c in first] == list(range(1_500, 1_600))
    due_later = await claim(stores, bulk, limit=100, now=LATER + timedelta(hours=2))
    assert [c.position for c in due_later] == list(range(100))
    assert (
        await stores.bulks.next_due_at(bulk.id) == T0
    )  # positions 1,600 onwards: due since creation


async def test_a_big_bulk_is_listed_whole_as_soon_as_it_is_created(stores: Stores) -> None:
    acme = await tenant(stores)
    bulk = await create(stores, acme, BIG)

    listed = await states_from(stores, bulk, offset=2_300)

    assert listed == [(position, "pending") for position in range(2_300, BIG)]
    assert [c.position for c in await claim(stores, bulk, limit=3)] == [0, 1, 2]


async def test_cancelling_a_big_bulk_cancels_every_recipient_not_yet_claimed(
    stores: Stores,
) -> None:
    acme = await tenant(stores)
    bulk = await create(stores, acme, BIG)
    await claim(stores, bulk, limit=10)

    cancelled = await stores.bulks.stop_bulk(bulk.id, now=LATER, reason=None, cancelled=True)

    assert cancelled.counters == BulkCounters(total=BIG, pending=10, cancelled=BIG - 10)
    listed = await states_from(stores, bulk, offset=0)
    assert listed == [(p, "in_flight") for p in range(10)] + [
        (p, "cancelled") for p in range(10, BIG)
    ]
    assert await claim(stores, bulk, limit=100) == []


async def test_concurrent_claims_share_a_big_bulk_exactly_once(
    stores: Stores, elsewhere: Stores
) -> None:
    acme = await tenant(stores)
    bulk = await create(stores, acme, BIG)

    rounds = await asyncio.gather(
        *(
            claim(store, bulk, limit=100, worker=f"worker-{i}")
            for i in range(14)
            for store in (stores, elsewhere)
        )
    )

    positions = sorted(c.position for claimed in rounds for c in claimed)
    # A claim may come back short while another makes the next chunk; none takes a recipient
    # twice, and what is left is claimed afterwards.
    rest = [c.position for _ in range(BIG // 100 + 1) for c in await claim(stores, bulk, limit=100)]
    assert sorted(positions + rest) == list(range(BIG))


def replace_position(recipient: NewBulkRecipient, position: int) -> NewBulkRecipient:
    return NewBulkRecipient(
        position=position,
        e164=f"+3461199{position:04d}",
        variables_used=recipient.variables_used,
        not_before=recipient.not_before,
    )


async def test_a_big_bulk_half_claimed_is_finished_by_another_process_after_a_crash(
    stores: Stores, elsewhere: Stores
) -> None:
    # The first process claimed into the second chunk, then died; the next one settles what
    # was in flight and claims the rest, the staged chunks included.
    acme = await tenant(stores)
    bulk = await create(stores, acme, BIG)
    first = [c.position for _ in range(3) for c in await call(stores, bulk, limit=400)]

    settled = await elsewhere.bulks.settle_in_flight(policy="mark_unconfirmed", now=LATER)
    rest = [c.position for _ in range(5) for c in await claim(elsewhere, bulk, limit=400)]

    assert settled == 1_200
    assert first + rest == list(range(BIG))
    assert (await fetch(elsewhere, bulk)).counters == BulkCounters(
        total=BIG, failed=1_200, pending=BIG - 1_200
    )


async def test_any_text_a_value_may_hold_survives_staging(stores: Stores) -> None:
    # PostgreSQL's JSON operators refuse an escaped NUL as text: staging must not depend on them.
    odd = {"nombre": "a\x00b", "nota": 'comillas " y \\ barra, ñ, 🎉, \u2028'}
    acme = await tenant(stores)
    people = [NewBulkRecipient(position=0, e164="+34611000000", variables_used=odd)]
    bulk = await create(stores, acme, people + recipients(3)[1:])

    [claimed] = await claim(stores, bulk, limit=1)
    listed = await stores.bulks.list_bulk_recipients(
        acme.organisation.id, bulk.id, status=None, offset=0, limit=1
    )
    cancelled = await stores.bulks.stop_bulk(bulk.id, now=LATER, reason=None, cancelled=True)

    assert claimed.variables_used == odd
    assert listed.items[0].variables_used == odd
    assert cancelled.counters == BulkCounters(total=3, pending=1, cancelled=2)


# --------------------------------------------------------------------------------------------
# Re-planning the quota waits (a tier raised)


async def test_pending_recipients_are_listed_with_their_waits(stores: Stores) -> None:
    acme = await tenant(stores)
    refill = LATER + timedelta(hours=20)
    people = recipients(1_200)
    people[1_100] = replace(people[1_100], not_before=refill)
    bulk = await create(stores, acme, people)
    await claim(stores, bulk, limit=2)

    pending = await stores.bulks.pending_recipients(bulk.id)

    assert [p.position for p in pending] == list(range(2, 1_200))
    assert pending[0] == PendingRecipient(position=2, e164=people[2].e164, not_before=None)
    assert pending[1_098].not_before == refill


async def test_replanned_waits_let_recipients_go_sooner(stores: Stores) -> None:
    acme = await tenant(stores)
    bulk = await create(stores, acme, recipients(3, not_before=LATER + timedelta(hours=20)))
    assert await claim(stores, bulk, now=LATER) == []

    replanned = await stores.bulks.replan_waits(
        bulk.id, {0: None, 1: LATER, 2: LATER + timedelta(hours=1)}, estimated_time_minutes=60.5
    )

    assert replanned.estimated_time_minutes == 60.5
    assert await stores.bulks.next_due_at(bulk.id) == min(T0, LATER)
    assert [c.position for c in await claim(stores, bulk, limit=5, now=LATER)] == [0, 1]
    later = LATER + timedelta(hours=1)
    assert [c.position for c in await claim(stores, bulk, limit=5, now=later)] == [2]


async def test_replanning_leaves_claimed_recipients_and_finished_bulks_alone(
    stores: Stores,
) -> None:
    acme = await tenant(stores)
    bulk = await create(stores, acme, recipients(2))
    [claimed] = await claim(stores, bulk, limit=1)
    wait = LATER + timedelta(hours=3)

    await stores.bulks.replan_waits(bulk.id, {0: wait, 1: wait}, estimated_time_minutes=1.0)
    pending = await stores.bulks.pending_recipients(bulk.id)
    assert [(p.position, p.not_before) for p in pending] == [(1, wait)]
    assert await claim(stores, bulk, limit=5, now=LATER) == []

    await stores.bulks.stop_bulk(bulk.id, now=LATER, reason=None, cancelled=True)
    over = await stores.bulks.replan_waits(bulk.id, {1: None}, estimated_time_minutes=9.0)
    assert over.estimated_time_minutes == 1.0
    assert await stores.bulks.pending_recipients(bulk.id) == []
    assert claimed.position == 0


async def test_a_bulk_keeps_its_original_estimate_and_its_completion_is_re_planned(
    stores: Stores, elsewhere: Stores
) -> None:
    acme = await tenant(stores)
    bulk = await create(stores, acme, recipients(2))
    scheduled = await create(stores, acme, recipients(1), send_at=LATER)
    planned = T0 + timedelta(minutes=bulk.estimated_time_minutes)
    assert (bulk.original_estimated_time_minutes, bulk.estimated_completion_at) == (
        bulk.estimated_time_minutes,
        planned,
    )
    assert scheduled.estimated_completion_at == LATER + timedelta(
        minutes=scheduled.estimated_time_minutes
    )
    await claim(stores, bulk, limit=1)

    moved = await stores.bulks.set_estimated_completion(bulk.id, LATER + timedelta(seconds=7))
    replanned = await stores.bulks.replan_waits(bulk.id, {}, estimated_time_minutes=42.0)

    assert moved is not None
    assert moved.estimated_completion_at == LATER + timedelta(seconds=7)
    # Every process reads it from the store; the 202's estimate stays.
    seen = await fetch(elsewhere, bulk)
    assert seen.estimated_completion_at == LATER + timedelta(seconds=7)
    assert seen.expected_completion_at == LATER + timedelta(seconds=7)
    assert (replanned.estimated_time_minutes, replanned.original_estimated_time_minutes) == (
        42.0,
        bulk.estimated_time_minutes,
    )
    assert replanned.original_estimate_minutes == bulk.estimated_time_minutes


async def test_the_completion_of_a_bulk_not_running_is_left_alone(stores: Stores) -> None:
    acme = await tenant(stores)
    bulk = await create(stores, acme, recipients(1))
    await stores.bulks.stop_bulk(bulk.id, now=LATER, reason=None, cancelled=True)

    over = await stores.bulks.set_estimated_completion(bulk.id, LATER + timedelta(hours=1))

    assert over is not None
    assert over.estimated_completion_at == bulk.estimated_completion_at
    assert over.expected_completion_at is None  # over: completed_at says when
    assert await stores.bulks.set_estimated_completion(BulkId(str(uuid.uuid4())), LATER) is None


# --------------------------------------------------------------------------------------------
# Pause and resume


async def test_a_paused_bulk_gives_no_claims_and_keeps_its_recipients_pending(
    stores: Stores,
) -> None:
    acme = await tenant(stores)
    bulk = await create(stores, acme, 1_500)
    first = await claim(stores, bulk, limit=2)

    paused = await stores.bulks.pause_bulk(bulk.id)

    assert paused.status == "PAUSED"
    assert await claim(stores, bulk, limit=10) == []
    assert bulk.id not in {b.id for b in await stores.bulks.bulks_to_run()}
    # In flight when it paused: one answered, one claimed but not sent (back to pending).
    await stores.bulks.record_outcomes([accept(first[0], "wamid.0"), release(first[1], None)])
    after = await fetch(stores, bulk)
    assert after.status == "PAUSED"
    assert after.counters == BulkCounters(total=1_500, sent=1, pending=1_499)
    listed = await stores.bulks.list_bulk_recipients(
        acme.organisation.id, bulk.id, status="pending", offset=0, limit=1
    )
    assert listed.count == 1_499
    assert (await stores.bulks.pause_bulk(bulk.id)).status == "PAUSED"  # again: no change


async def test_resuming_goes_on_where_it_stopped_each_recipient_once(stores: Stores) -> None:
    acme = await tenant(stores)
    bulk = await create(stores, acme, 3)
    [first] = await claim(stores, bulk, limit=1)
    await stores.bulks.record_outcomes([accept(first, "wamid.0")])
    await stores.bulks.pause_bulk(bulk.id)

    resumed = await stores.bulks.resume_bulk(bulk.id)

    assert resumed.status == "PROCESSING"
    again = await claim(stores, bulk, limit=10)
    assert [c.position for c in again] == [1, 2]


async def test_a_bulk_paused_before_it_started_resumes_queued(stores: Stores) -> None:
    acme = await tenant(stores)
    bulk = await create(stores, acme, 2)
    await stores.bulks.pause_bulk(bulk.id)

    assert (await stores.bulks.resume_bulk(bulk.id)).status == "QUEUED"


async def test_a_pause_reason_is_kept_until_resumed_and_a_second_pause_keeps_the_first(
    stores: Stores,
) -> None:
    acme = await tenant(stores)
    guarded = await create(stores, acme, 2)
    by_user = await create(stores, acme, 2)

    paused = await stores.bulks.pause_bulk(guarded.id, reason="Paused by the quality guard: X")
    again = await stores.bulks.pause_bulk(guarded.id, reason="another")
    user_paused = await stores.bulks.pause_bulk(by_user.id)
    listed = await stores.bulks.list_bulks(
        acme.organisation.id, BulkFilter(status="PAUSED"), offset=0, limit=10
    )
    resumed = await stores.bulks.resume_bulk(guarded.id)

    assert (paused.status, paused.pause_reason) == ("PAUSED", "Paused by the quality guard: X")
    assert again.pause_reason == "Paused by the quality guard: X"
    assert user_paused.pause_reason is None
    assert {b.id: b.pause_reason for b in listed.items} == {
        guarded.id: "Paused by the quality guard: X",
        by_user.id: None,
    }
    assert (resumed.status, resumed.pause_reason) == ("QUEUED", None)
    assert (await fetch(stores, guarded)).pause_reason is None


async def test_a_scheduled_bulk_pauses_and_resumes_scheduled_not_started_at_its_time(
    stores: Stores,
) -> None:
    acme = await tenant(stores)
    bulk = await create(stores, acme, 2, send_at=T0 + timedelta(minutes=1))

    paused = await stores.bulks.pause_bulk(bulk.id, reason="guard")
    started = await stores.bulks.start_scheduled(T0 + timedelta(hours=1))
    still = await fetch(stores, bulk)
    resumed = await stores.bulks.resume_bulk(bulk.id)
    await stores.bulks.start_scheduled(T0 + timedelta(hours=1))

    assert paused.status == "PAUSED"
    assert started is None  # a paused bulk is not waited for
    assert still.status == "PAUSED"
    assert resumed.status == "SCHEDULED"
    assert (await fetch(stores, bulk)).status == "QUEUED"


async def test_a_bulk_keeps_its_send_window(stores: Stores) -> None:
    acme = await tenant(stores)
    window = SendWindow.parse("22:00", "06:30", fallback_zone="America/Argentina/Buenos_Aires")
    windowed = await stores.bulks.create_bulk(
        new_bulk(acme, total_recipients=1, send_window=window), in_chunks(recipients(1))
    )
    plain = await create(stores, acme, 1)

    assert windowed.send_window == window
    assert (await fetch(stores, windowed)).send_window == window
    assert (await fetch(stores, plain)).send_window is None


async def test_a_bulk_keeps_the_bulk_it_resends_and_others_have_none(stores: Stores) -> None:
    acme = await tenant(stores)
    first = await create(stores, acme, 2)
    new = new_bulk(acme, total_recipients=1, parent_bulk_id=first.id)
    resend = await stores.bulks.create_bulk(new, in_chunks(recipients(1)))
    listed = await stores.bulks.list_bulks(acme.organisation.id, BulkFilter(), offset=0, limit=10)

    assert resend.parent_bulk_id == first.id
    assert (await fetch(stores, resend)).parent_bulk_id == first.id
    assert {b.id: b.parent_bulk_id for b in listed.items} == {resend.id: first.id, first.id: None}


async def test_only_a_paused_bulk_resumes_and_only_a_live_one_pauses(stores: Stores) -> None:
    acme = await tenant(stores)
    bulk = await create(stores, acme, 2)
    with pytest.raises(IllegalTransition):
        await stores.bulks.resume_bulk(bulk.id)
    await stores.bulks.stop_bulk(bulk.id, now=LATER, reason=None, cancelled=True)
    with pytest.raises(IllegalTransition):
        await stores.bulks.pause_bulk(bulk.id)


async def test_a_paused_bulk_can_be_cancelled_or_stopped(stores: Stores) -> None:
    acme = await tenant(stores)
    one = await create(stores, acme, 2)
    two = await create(stores, acme, 2)
    await stores.bulks.pause_bulk(one.id)
    await stores.bulks.pause_bulk(two.id)

    cancelled = await stores.bulks.stop_bulk(one.id, now=LATER, reason=None, cancelled=True)
    stopped = await stores.bulks.stop_bulk(two.id, now=LATER, reason="Paused", cancelled=False)

    assert (cancelled.status, cancelled.counters.cancelled) == ("CANCELLED", 2)
    assert (stopped.status, stopped.counters.cancelled) == ("FAILED", 2)


async def test_a_crash_while_paused_leaves_the_recipients_pending_with_resend(
    stores: Stores,
) -> None:
    acme = await tenant(stores)
    bulk = await create(stores, acme, 2)
    await claim(stores, bulk, limit=1)
    await stores.bulks.pause_bulk(bulk.id)

    assert await stores.bulks.settle_in_flight(policy="resend", now=LATER) == 1

    assert await states(stores, bulk) == ["pending", "pending"]


# --------------------------------------------------------------------------------------------
# Recipient times (the chart)


async def test_recipient_times_are_each_recipients_moments_for_its_organisation_only(
    stores: Stores,
) -> None:
    acme = await tenant(stores)
    other = await tenant(stores, "other", "2")
    bulk = await create(stores, acme, 4)
    first, second, third = await claim(stores, bulk, limit=3)
    await stores.bulks.record_outcomes(
        [
            accept(first, "wamid.T0", at=LATER),
            refuse(second, at=LATER + timedelta(seconds=1)),
            accept(third, "wamid.T2", at=LATER + timedelta(seconds=10)),
        ]
    )

    times = await stores.bulks.recipient_times(acme.organisation.id, bulk.id)

    assert sorted(times.sent) == [LATER, LATER + timedelta(seconds=10)]
    assert times.failed == (LATER + timedelta(seconds=1),)
    assert (times.delivered, times.read) == ((), ())
    assert all(moment.tzinfo is not None for moment in times.sent)
    nothing = await stores.bulks.recipient_times(other.organisation.id, bulk.id)
    assert (nothing.sent, nothing.failed) == ((), ())
