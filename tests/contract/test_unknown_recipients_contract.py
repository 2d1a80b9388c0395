"""What every store promises about unknown outcomes (memory, a SQLite file, PostgreSQL): a bulk
recipient whose outcome is unknown is settled by its organisation's policy once a message sent
after it on the same number had its first status webhook heard a window ago, not before;
``fail`` fails it with a reason (a late webhook still corrects it), ``resend`` makes it pending
again once (a finished bulk sends again), and two sweeps at once settle it once.

The scene: recipient 0's call starts at T0 and gets no answer; recipients 1 and 2 are called a
second later and accepted; the first webhook of recipient 1 is heard at HEARD."""

from __future__ import annotations

import asyncio
from datetime import datetime, timedelta

from mindo_core.bulks.model import NO_ANSWER_REASON, Bulk, BulkCounters, BulkRecipient
from mindo_core.bulks.unknown_outcomes import (
    RESEND_WITHIN,
    UnknownOutcomePolicy,
    settled_unknown_reason,
)
from mindo_core.engine.bulk_messages import callback_data
from mindo_core.ports.bulks import ClaimedRecipient, RecipientOutcome, UnknownSettled
from mindo_core.ports.stores import Stores
from tests.contract.tenants import T0, Tenant, sent_message, tenant
from tests.contract.test_bulk_store_contract import accept, call, create
from tests.contract.test_delivery_store_contract import status

HEARD = T0 + timedelta(minutes=1)
WINDOW = timedelta(minutes=10)
FAIL = UnknownOutcomePolicy(action="fail", window=WINDOW)
RESEND = UnknownOutcomePolicy(action="resend", window=WINDOW)
SETTLED = HEARD + WINDOW  # the first moment the unknown is settled


def no_answer(claimed: ClaimedRecipient, at: datetime = T0) -> RecipientOutcome:
    return RecipientOutcome(
        message_id=claimed.message_id,
        bulk_id=claimed.bulk_id,
        kind="unconfirm",
        at=at,
        error_message=NO_ANSWER_REASON,
    )


async def scene(stores: Stores, owner: Tenant) -> tuple[Bulk, ClaimedRecipient]:
    """Recipient 0 unknown since T0; 1 and 2 called after it and accepted; 1 heard at HEARD."""
    bulk = await create(stores, owner, 3)
    [unknown] = await call(stores, bulk, limit=1, now=T0)
    later = await call(stores, bulk, limit=2, now=T0 + timedelta(seconds=1))
    accepted = [accept(c, f"wamid.R{c.position}", at=T0 + timedelta(seconds=1)) for c in later]
    await stores.bulks.record_outcomes([no_answer(unknown), *accepted])
    await stores.delivery.apply_statuses([status("wamid.R1", "delivered")], received_at=HEARD)
    return bulk, unknown


async def recipient(stores: Stores, bulk: Bulk, position: int) -> BulkRecipient:
    page = await stores.bulks.list_bulk_recipients(
        bulk.organisation_id, bulk.id, status=None, offset=0, limit=10
    )
    return page.items[position]


async def sweep(
    stores: Stores, owner: Tenant, policy: UnknownOutcomePolicy, now: datetime
) -> UnknownSettled:
    return await stores.unknown_recipients.settle_unknown(owner.organisation.id, policy, now=now)


async def fetch(stores: Stores, bulk: Bulk) -> Bulk:
    found = await stores.bulks.get_bulk(bulk.id)
    assert found is not None
    return found


async def test_with_nothing_unknown_there_is_nothing_to_sweep(stores: Stores) -> None:
    owner = await tenant(stores)
    bulk = await create(stores, owner, 1)
    await call(stores, bulk, now=T0)

    assert await stores.unknown_recipients.organisations_with_unknown() == frozenset()
    assert await sweep(stores, owner, FAIL, SETTLED) == UnknownSettled()


async def test_an_unknown_is_left_alone_until_a_later_webhook_is_a_window_old(
    stores: Stores,
) -> None:
    owner = await tenant(stores)
    bulk, _ = await scene(stores, owner)

    early = await sweep(stores, owner, FAIL, SETTLED - timedelta(seconds=1))

    assert early == UnknownSettled()
    assert await stores.unknown_recipients.organisations_with_unknown() == {owner.organisation.id}
    still = await recipient(stores, bulk, 0)
    assert (still.state, still.failed_at, still.error_message) == (
        "unconfirmed",
        None,
        NO_ANSWER_REASON,
    )


async def test_fail_fails_it_with_a_reason_once(stores: Stores) -> None:
    owner = await tenant(stores)
    bulk, _ = await scene(stores, owner)
    before = await fetch(stores, bulk)

    settled = await sweep(stores, owner, FAIL, SETTLED)
    again = await sweep(stores, owner, FAIL, SETTLED + timedelta(hours=1))

    assert (settled.failed, settled.resent, again) == (1, 0, UnknownSettled())
    failed = await recipient(stores, bulk, 0)
    assert (failed.failed_at, failed.error_message) == (SETTLED, settled_unknown_reason(WINDOW))
    assert (await fetch(stores, bulk)).counters == before.counters
    assert await stores.unknown_recipients.organisations_with_unknown() == frozenset()


async def test_a_webhook_later_than_the_window_still_corrects_a_failed_unknown(
    stores: Stores,
) -> None:
    owner = await tenant(stores)
    bulk, unknown = await scene(stores, owner)
    await sweep(stores, owner, FAIL, SETTLED)

    late = status("wamid.R0", "sent", callback=callback_data(bulk.id, unknown.message_id))
    await stores.delivery.apply_statuses([late], received_at=SETTLED + timedelta(minutes=5))

    corrected = await recipient(stores, bulk, 0)
    assert (corrected.state, corrected.wamid) == ("sent", "wamid.R0")
    assert (corrected.failed_at, corrected.error_message) == (None, None)
    assert (await fetch(stores, bulk)).counters == BulkCounters(total=3, sent=3, delivered=1)


async def test_a_message_sent_before_the_unknown_or_heard_too_recently_settles_nothing(
    stores: Stores,
) -> None:
    owner = await tenant(stores)
    bulk = await create(stores, owner, 2)
    [earlier] = await call(stores, bulk, limit=1, now=T0 - timedelta(seconds=1))
    [unknown] = await call(stores, bulk, limit=1, now=T0)
    await stores.bulks.record_outcomes([accept(earlier, "wamid.R0", at=T0), no_answer(unknown)])
    await stores.delivery.apply_statuses([status("wamid.R0", "delivered")], received_at=HEARD)

    assert await sweep(stores, owner, FAIL, SETTLED + timedelta(hours=1)) == UnknownSettled()


async def test_a_single_send_after_the_unknown_counts_as_a_later_message(stores: Stores) -> None:
    owner = await tenant(stores)
    bulk = await create(stores, owner, 1)
    [unknown] = await call(stores, bulk, now=T0)
    await stores.bulks.record_outcomes([no_answer(unknown)])
    single = sent_message(owner, "wamid.S", sent_at=T0 + timedelta(seconds=5))
    await stores.messages.add_message(single)
    await stores.delivery.apply_statuses([status("wamid.S", "sent")], received_at=HEARD)

    assert (await sweep(stores, owner, FAIL, SETTLED)).failed == 1


async def test_resend_makes_it_pending_again_and_a_finished_bulk_sends_again(
    stores: Stores,
) -> None:
    owner = await tenant(stores)
    bulk, unknown = await scene(stores, owner)
    finished = await stores.bulks.finish_bulk(bulk.id, T0 + timedelta(seconds=2))

    settled = await sweep(stores, owner, RESEND, SETTLED)

    reopened = await fetch(stores, bulk)
    assert (finished.status, settled.failed, settled.resent) == ("PARTIAL", 0, 1)
    assert [b.id for b in settled.bulks] == [bulk.id]
    assert (reopened.status, reopened.completed_at, reopened.resent_count) == (
        "PROCESSING",
        None,
        1,
    )
    assert reopened.counters == BulkCounters(total=3, sent=2, delivered=1, pending=1)
    resent = await recipient(stores, bulk, 0)
    assert (resent.state, resent.resent_at, resent.error_message) == ("pending", SETTLED, None)
    [again] = await call(stores, bulk, now=SETTLED)
    assert (again.message_id, again.attempts) == (unknown.message_id, 2)


async def test_a_recipient_is_resent_once_and_failed_the_second_time(stores: Stores) -> None:
    owner = await tenant(stores)
    bulk, _ = await scene(stores, owner)
    await sweep(stores, owner, RESEND, SETTLED)
    [again] = await call(stores, bulk, now=SETTLED)
    [later] = await call(stores, await create(stores, owner, 1), now=SETTLED + timedelta(seconds=1))
    await stores.bulks.record_outcomes(
        [no_answer(again, SETTLED), accept(later, "wamid.L", at=SETTLED)]
    )
    heard_later = SETTLED + timedelta(minutes=1)
    await stores.delivery.apply_statuses([status("wamid.L", "sent")], received_at=heard_later)

    settled = await sweep(stores, owner, RESEND, heard_later + WINDOW)

    assert (settled.failed, settled.resent) == (1, 0)
    failed = await recipient(stores, bulk, 0)
    assert failed.error_message == settled_unknown_reason(
        WINDOW, not_resent_because="a second time: it was resent once already"
    )
    assert (await fetch(stores, bulk)).resent_count == 1


async def test_resend_fails_instead_an_unknown_first_sent_more_than_a_day_ago(
    stores: Stores,
) -> None:
    owner = await tenant(stores)
    bulk, _ = await scene(stores, owner)

    settled = await sweep(stores, owner, RESEND, T0 + RESEND_WITHIN + timedelta(seconds=1))

    assert (settled.failed, settled.resent) == (1, 0)
    failed = await recipient(stores, bulk, 0)
    assert (failed.state, failed.resent_at) == ("unconfirmed", None)
    assert failed.error_message == settled_unknown_reason(
        WINDOW, not_resent_because="because it was first sent more than 24 h ago"
    )


async def test_resend_in_a_stopped_bulk_fails_it_instead(stores: Stores) -> None:
    owner = await tenant(stores)
    bulk, _ = await scene(stores, owner)
    await stores.bulks.stop_bulk(
        bulk.id, now=T0, reason="Stopped: template paused", cancelled=False
    )

    settled = await sweep(stores, owner, RESEND, SETTLED)

    assert (settled.failed, settled.resent) == (1, 0)
    failed = await recipient(stores, bulk, 0)
    assert failed.error_message is not None
    assert failed.error_message.endswith("not resent because the bulk was stopped")
    assert (await fetch(stores, bulk)).status == "PARTIAL"


async def test_two_sweeps_at_once_resend_it_once(stores: Stores, elsewhere: Stores) -> None:
    owner = await tenant(stores)
    bulk, _ = await scene(stores, owner)

    both = await asyncio.gather(
        sweep(stores, owner, RESEND, SETTLED), sweep(elsewhere, owner, RESEND, SETTLED)
    )

    assert sum(settled.resent for settled in both) == 1
    assert sum(settled.failed for settled in both) == 0
    reopened = await fetch(stores, bulk)
    assert (reopened.resent_count, reopened.counters.pending) == (1, 1)
