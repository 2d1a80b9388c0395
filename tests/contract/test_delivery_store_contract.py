"""What every delivery store promises (memory, a SQLite file, PostgreSQL): Meta's status
webhooks move messages monotonically and idempotently, bulk counters and final statuses follow,
and a status that beats its message is parked until the message appears."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import replace
from datetime import datetime, timedelta

import pytest

from mindo_core.bulks.model import Bulk, BulkCounters, CrashPolicy
from mindo_core.delivery.status_rules import PARKED_STATUS_TTL
from mindo_core.delivery.webhook_payloads import StatusUpdate
from mindo_core.domain.messages import DeliveryState
from mindo_core.engine.bulk_messages import callback_data
from mindo_core.ports.bulks import ClaimedRecipient
from mindo_core.ports.stores import Stores
from tests.contract.tenants import T0, Tenant, sent_message, tenant
from tests.contract.test_bulk_store_contract import LATER, accept, create, refuse, release

RECEIVED = T0 + timedelta(hours=1)


def status(
    wamid: str,
    state: DeliveryState,
    seconds: int = 0,
    *,
    callback: str | None = None,
    error_code: int | None = None,
) -> StatusUpdate:
    return StatusUpdate(
        wamid=wamid,
        status=state,
        at=LATER + timedelta(seconds=seconds),
        recipient_id="34611222333",
        phone_number_id="101",
        callback_data=callback,
        error_code=error_code,
        error_title="Message undeliverable" if error_code else None,
        error_details="The recipient is not on WhatsApp" if error_code else None,
    )


async def apply(stores: Stores, *updates: StatusUpdate) -> None:
    await stores.delivery.apply_statuses(list(updates), received_at=RECEIVED)


async def sent_bulk(
    stores: Stores, owner: Tenant, people: int
) -> tuple[Bulk, Sequence[ClaimedRecipient]]:
    """A bulk whose recipients Meta all accepted (wamid.R0, wamid.R1, …); not finished."""
    bulk = await create(stores, owner, people)
    claimed = await stores.bulks.claim_recipients(bulk.id, worker="w", limit=people, now=T0)
    await stores.bulks.record_outcomes([accept(c, f"wamid.R{c.position}") for c in claimed])
    return bulk, claimed


async def finished_bulk(stores: Stores, owner: Tenant, people: int) -> Bulk:
    bulk, _ = await sent_bulk(stores, owner, people)
    return await stores.bulks.finish_bulk(bulk.id, LATER)


# -- single messages ---------------------------------------------------------------------------


async def test_a_message_moves_from_sent_to_delivered_to_read_with_meta_times(
    stores: Stores,
) -> None:
    owner = await tenant(stores)
    await stores.messages.add_message(sent_message(owner, "wamid.A"))

    await apply(stores, status("wamid.A", "delivered", 5))
    await apply(stores, status("wamid.A", "read", 60))

    message = await stores.messages.find_message_by_wamid(owner.organisation.id, "wamid.A")
    assert message is not None
    assert message.status == "read"
    assert message.sent_at == T0  # our own send time is kept
    assert message.delivered_at == LATER + timedelta(seconds=5)
    assert message.read_at == LATER + timedelta(seconds=60)


async def test_a_repeated_status_changes_nothing(stores: Stores) -> None:
    owner = await tenant(stores)
    await stores.messages.add_message(sent_message(owner, "wamid.A"))
    await apply(stores, status("wamid.A", "delivered", 5))

    report = await stores.delivery.apply_statuses(
        [status("wamid.A", "delivered", 9)], received_at=RECEIVED
    )

    assert (report.applied, report.unchanged, report.parked) == (0, 1, 0)
    message = await stores.messages.find_message_by_wamid(owner.organisation.id, "wamid.A")
    assert message is not None
    assert message.delivered_at == LATER + timedelta(seconds=5)


async def test_a_late_delivered_never_moves_a_read_message_back(stores: Stores) -> None:
    owner = await tenant(stores)
    await stores.messages.add_message(sent_message(owner, "wamid.A"))

    # read first, with no delivered before it: it implies delivered, at the read's time…
    await apply(stores, status("wamid.A", "read", 60))
    message = await stores.messages.find_message_by_wamid(owner.organisation.id, "wamid.A")
    assert message is not None
    assert message.delivered_at == LATER + timedelta(seconds=60)

    # …and the late delivered only corrects that time
    await apply(stores, status("wamid.A", "delivered", 5))

    message = await stores.messages.find_message_by_wamid(owner.organisation.id, "wamid.A")
    assert message is not None
    assert message.status == "read"
    assert message.delivered_at == LATER + timedelta(seconds=5)
    assert message.read_at == LATER + timedelta(seconds=60)


async def test_a_failure_records_meta_code_and_text_and_is_final(stores: Stores) -> None:
    owner = await tenant(stores)
    await stores.messages.add_message(sent_message(owner, "wamid.A"))

    await apply(stores, status("wamid.A", "failed", 3, error_code=131026))
    await apply(stores, status("wamid.A", "delivered", 4))

    message = await stores.messages.find_message_by_wamid(owner.organisation.id, "wamid.A")
    assert message is not None
    assert message.status == "failed"
    assert message.failed_at == LATER + timedelta(seconds=3)
    assert message.error_code == 131026
    assert message.error_message == "Message undeliverable: The recipient is not on WhatsApp"


# -- parked statuses ---------------------------------------------------------------------------


async def test_a_status_before_its_message_is_parked_then_applied(stores: Stores) -> None:
    owner = await tenant(stores)

    report = await stores.delivery.apply_statuses(
        [status("wamid.EARLY", "delivered", 5)], received_at=RECEIVED
    )
    assert report.parked == 1
    assert await stores.delivery.parked_count() == 1

    await stores.messages.add_message(sent_message(owner, "wamid.EARLY"))
    swept = await stores.delivery.apply_parked(now=RECEIVED)

    assert swept.applied == 1
    assert await stores.delivery.parked_count() == 0
    message = await stores.messages.find_message_by_wamid(owner.organisation.id, "wamid.EARLY")
    assert message is not None
    assert message.status == "delivered"


async def test_a_parked_status_waits_while_its_message_is_unknown(stores: Stores) -> None:
    await tenant(stores)
    await apply(stores, status("wamid.NOBODY", "sent"))

    swept = await stores.delivery.apply_parked(now=RECEIVED + timedelta(minutes=30))

    assert swept.applied == 0
    assert await stores.delivery.parked_count() == 1


async def test_a_status_of_a_number_mindo_does_not_manage_is_not_parked(
    stores: Stores,
) -> None:
    """Meta posts the statuses of every sender on the account (another tool, the Business
    app): they are ignored, not kept."""
    await tenant(stores)
    foreign = replace(status("wamid.OTHER", "delivered"), phone_number_id="999")

    report = await stores.delivery.apply_statuses([foreign], received_at=RECEIVED)

    assert (report.parked, report.unchanged) == (0, 1)
    assert await stores.delivery.parked_count() == 0


async def test_parked_statuses_are_forgotten_after_their_time_to_live(stores: Stores) -> None:
    await tenant(stores)
    await apply(stores, status("wamid.NOBODY", "sent"))

    await stores.delivery.apply_parked(now=RECEIVED + PARKED_STATUS_TTL + timedelta(seconds=1))

    assert await stores.delivery.parked_count() == 0


# -- bulk recipients and counters --------------------------------------------------------------


async def test_bulk_counters_follow_the_statuses(stores: Stores) -> None:
    owner = await tenant(stores)
    bulk, _ = await sent_bulk(stores, owner, 4)

    report = await stores.delivery.apply_statuses(
        [
            status("wamid.R0", "delivered"),
            status("wamid.R1", "read"),
            status("wamid.R2", "failed", error_code=131049),
            status("wamid.R1", "delivered", 3),  # late: read already; its later time is kept out
        ],
        received_at=RECEIVED,
    )

    assert (report.applied, report.unchanged) == (3, 1)
    assert [b.id for b in report.bulks] == [bulk.id]
    current = await stores.bulks.get_bulk(bulk.id)
    assert current is not None
    assert current.counters == BulkCounters(total=4, sent=3, delivered=2, read=1, failed=1)
    assert report.bulks[0].counters == current.counters
    page = await stores.bulks.list_bulk_recipients(
        owner.organisation.id, bulk.id, status="read", offset=0, limit=10
    )
    (read,) = page.items
    assert read.wamid == "wamid.R1"
    assert read.delivered_at == read.read_at == LATER  # both statuses carried that time


@pytest.mark.parametrize(("failures", "final"), [(0, "COMPLETED"), (1, "PARTIAL"), (2, "FAILED")])
async def test_asynchronous_failures_decide_the_final_status(
    stores: Stores, failures: int, final: str
) -> None:
    owner = await tenant(stores)
    bulk = await finished_bulk(stores, owner, 2)
    assert bulk.status == "COMPLETED"

    await apply(
        stores, *[status(f"wamid.R{i}", "failed", error_code=131026) for i in range(failures)]
    )

    current = await stores.bulks.get_bulk(bulk.id)
    assert current is not None
    assert current.status == final


async def test_a_status_for_a_refused_recipient_changes_nothing(stores: Stores) -> None:
    owner = await tenant(stores)
    bulk = await create(stores, owner, 1)
    (claimed,) = await stores.bulks.claim_recipients(bulk.id, worker="w", limit=1, now=T0)
    await stores.bulks.record_outcomes([refuse(claimed)])

    report = await stores.delivery.apply_statuses(
        [status("wamid.X", "delivered", callback=callback_data(bulk.id, claimed.message_id))],
        received_at=RECEIVED,
    )

    assert report.applied == 0
    current = await stores.bulks.get_bulk(bulk.id)
    assert current is not None
    assert current.counters.failed == 1


# -- callback data: the webhook beats our own commit, or a crash lost the answer -------------


@pytest.mark.parametrize("policy", ["in_flight", "mark_unconfirmed"])
async def test_callback_data_settles_a_recipient_with_no_wamid_yet(
    stores: Stores, policy: CrashPolicy | str
) -> None:
    owner = await tenant(stores)
    bulk = await create(stores, owner, 1)
    (claimed,) = await stores.bulks.claim_recipients(bulk.id, worker="w", limit=1, now=T0)
    if policy == "mark_unconfirmed":  # the worker died mid-call
        await stores.bulks.mark_calls_started([claimed.message_id], worker="w", at=T0)
        await stores.bulks.settle_in_flight(policy="mark_unconfirmed", now=LATER)

    named = callback_data(bulk.id, claimed.message_id)
    report = await stores.delivery.apply_statuses(
        [status("wamid.LATE", "delivered", 2, callback=named)], received_at=RECEIVED
    )

    assert report.applied == 1
    assert report.parked == 0
    message = await stores.messages.find_message_by_wamid(owner.organisation.id, "wamid.LATE")
    assert message is not None
    assert message.status == "delivered"
    assert message.error_message is None  # no longer "outcome unknown"
    current = await stores.bulks.get_bulk(bulk.id)
    assert current is not None
    assert current.counters == BulkCounters(total=1, sent=1, delivered=1)
    # The engine's own answer, arriving after the webhook, changes nothing.
    await stores.bulks.record_outcomes([accept(claimed, "wamid.LATE")])
    again = await stores.bulks.get_bulk(bulk.id)
    assert again is not None
    assert again.counters == current.counters


async def test_callback_data_of_another_bulk_is_not_trusted(stores: Stores) -> None:
    owner = await tenant(stores)
    bulk = await create(stores, owner, 1)
    other = await create(stores, owner, 1)
    (claimed,) = await stores.bulks.claim_recipients(bulk.id, worker="w", limit=1, now=T0)

    report = await stores.delivery.apply_statuses(
        [status("wamid.Z", "sent", callback=callback_data(other.id, claimed.message_id))],
        received_at=RECEIVED,
    )

    assert report.parked == 1
    current = await stores.bulks.get_bulk(bulk.id)
    assert current is not None
    assert current.counters.pending == 1


async def test_many_statuses_in_one_batch(stores: Stores) -> None:
    owner = await tenant(stores)
    bulk, _ = await sent_bulk(stores, owner, 600)  # more than one chunk of lookups
    updates = [status(f"wamid.R{i}", "delivered") for i in range(600)]
    updates += [status(f"wamid.R{i}", "read", 9) for i in range(0, 600, 2)]

    report = await stores.delivery.apply_statuses(updates, received_at=RECEIVED)

    assert report.applied == 900
    current = await stores.bulks.get_bulk(bulk.id)
    assert current is not None
    assert current.counters == BulkCounters(total=600, sent=600, delivered=600, read=300)
    read_page = await stores.bulks.list_bulk_recipients(
        owner.organisation.id, bulk.id, status="read", offset=0, limit=1
    )
    assert read_page.count == 300


async def test_times_come_back_aware_in_utc(stores: Stores) -> None:
    owner = await tenant(stores)
    await stores.messages.add_message(sent_message(owner, "wamid.A"))
    await apply(stores, status("wamid.A", "read", 1))

    message = await stores.messages.find_message_by_wamid(owner.organisation.id, "wamid.A")
    assert message is not None
    assert message.read_at is not None
    assert message.read_at.utcoffset() == timedelta(0)
    assert isinstance(message.read_at, datetime)


async def test_a_recipient_released_after_a_timeout_that_meta_had_is_not_sent_again(
    stores: Stores,
) -> None:
    """The call timed out, so the engine released the recipient for a retry; the webhook
    proves Meta had it. It is settled as sent, and no claim returns it again."""
    owner = await tenant(stores)
    bulk = await create(stores, owner, 1)
    (claimed,) = await stores.bulks.claim_recipients(bulk.id, worker="w", limit=1, now=T0)
    await stores.bulks.record_outcomes([release(claimed, retry_at=LATER)])

    named = callback_data(bulk.id, claimed.message_id)
    report = await stores.delivery.apply_statuses(
        [status("wamid.T", "sent", callback=named)], received_at=RECEIVED
    )

    assert report.applied == 1
    again = await stores.bulks.claim_recipients(
        bulk.id, worker="w", limit=1, now=LATER + timedelta(minutes=1)
    )
    assert again == []
    current = await stores.bulks.get_bulk(bulk.id)
    assert current is not None
    assert current.counters == BulkCounters(total=1, sent=1)


async def test_a_pending_recipient_never_attempted_is_not_settled_by_callback(
    stores: Stores,
) -> None:
    owner = await tenant(stores)
    bulk = await create(stores, owner, 2)
    (claimed,) = await stores.bulks.claim_recipients(bulk.id, worker="w", limit=1, now=T0)
    untouched = claimed.message_id + 1  # the second recipient: pending, never claimed

    report = await stores.delivery.apply_statuses(
        [status("wamid.U", "sent", callback=callback_data(bulk.id, untouched))],
        received_at=RECEIVED,
    )

    assert report.parked == 1
