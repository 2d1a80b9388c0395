"""The store's side of unknown outcomes: unconfirmed recipients with the webhooks of their
number's later calls, failed or resent (at most once), on memory, SQLite and PostgreSQL."""

from __future__ import annotations

from datetime import timedelta

from mindo_core.bulks.model import Bulk, BulkCounters
from mindo_core.bulks.unknown_outcomes import NOT_AT_META_REASON
from mindo_core.domain.messages import MessageId
from mindo_core.ports.bulks import ClaimedRecipient
from mindo_core.ports.stores import Stores
from tests.contract.tenants import T0, tenant
from tests.contract.test_bulk_store_contract import LATER, accept, create
from tests.contract.test_delivery_store_contract import apply, status


async def _one_unknown(stores: Stores, people: int = 4) -> tuple[Bulk, list[ClaimedRecipient]]:
    """A finished bulk whose first recipient's call started and was cut by a crash; Meta
    accepted the others (wamid.R1, …), whose calls started one second apart after it."""
    owner = await tenant(stores)
    bulk = await create(stores, owner, people)
    claimed = list(await stores.bulks.claim_recipients(bulk.id, worker="w", limit=people, now=T0))
    for c in claimed:
        at = T0 + timedelta(seconds=c.position)
        await stores.bulks.mark_calls_started([c.message_id], worker="w", now=at)
    await stores.bulks.record_outcomes([accept(c, f"wamid.R{c.position}") for c in claimed[1:]])
    assert await stores.bulks.settle_in_flight(policy="mark_unconfirmed", now=T0) == 1
    await stores.bulks.finish_bulk(bulk.id, T0)
    return bulk, claimed


async def _state(stores: Stores, bulk: Bulk, position: int) -> tuple[str, str | None, bool]:
    page = await stores.bulks.list_bulk_recipients(
        bulk.organisation_id, bulk.id, status=None, offset=0, limit=100
    )
    recipient = page.items[position]
    return recipient.state, recipient.error_message, recipient.resent


async def test_an_unknown_recipient_comes_with_the_webhooks_of_later_calls(
    stores: Stores,
) -> None:
    bulk, claimed = await _one_unknown(stores)

    (before,) = await stores.bulks.unknown_recipients(started_before=LATER, limit=10)
    await apply(stores, status("wamid.R3", "delivered", 9), status("wamid.R2", "read", 4))
    (after,) = await stores.bulks.unknown_recipients(started_before=LATER, limit=10)

    assert before.message_id == claimed[0].message_id
    assert (before.bulk_id, before.organisation_id) == (bulk.id, bulk.organisation_id)
    assert before.call_started_at == T0
    assert before.later_webhook_at is None  # Meta accepted them; no webhook yet
    assert (before.resent, before.may_resend) == (False, True)
    assert after.later_webhook_at == LATER + timedelta(seconds=4)  # the earliest
    # Only calls started before the time asked.
    assert await stores.bulks.unknown_recipients(started_before=T0 - timedelta(1), limit=10) == []


async def test_failing_an_unknown_recipient_says_why(stores: Stores) -> None:
    bulk, claimed = await _one_unknown(stores)

    changed = await stores.bulks.settle_unknown(
        failed=[claimed[0].message_id], resent=[], now=LATER
    )

    assert [b.id for b in changed] == [bulk.id]
    assert await _state(stores, bulk, 0) == ("failed", NOT_AT_META_REASON, False)
    now = await stores.bulks.get_bulk(bulk.id)
    assert now is not None
    assert (now.status, now.counters) == ("PARTIAL", BulkCounters(total=4, sent=3, failed=1))
    assert await stores.bulks.unknown_recipients(started_before=LATER, limit=10) == []


async def test_resending_an_unknown_recipient_runs_its_bulk_again_once(stores: Stores) -> None:
    bulk, claimed = await _one_unknown(stores)
    unknown = claimed[0].message_id

    await stores.bulks.settle_unknown(failed=[], resent=[unknown], now=LATER)

    assert await _state(stores, bulk, 0) == ("pending", None, True)
    running = await stores.bulks.get_bulk(bulk.id)
    assert running is not None
    assert (running.status, running.completed_at, running.resent_count) == (
        "PROCESSING",
        None,
        1,
    )
    assert running.counters == BulkCounters(total=4, sent=3, pending=1)
    (again,) = await stores.bulks.claim_recipients(bulk.id, worker="w", limit=5, now=LATER)
    assert (again.message_id, again.attempts) == (unknown, 2)

    # Its resend's call is cut by a crash too: unknown again, it is never resent twice.
    await stores.bulks.mark_calls_started([unknown], worker="w", now=LATER)
    await stores.bulks.settle_in_flight(policy="mark_unconfirmed", now=LATER)
    (twice,) = await stores.bulks.unknown_recipients(started_before=LATER, limit=10)
    assert twice.resent
    assert list(await stores.bulks.settle_unknown(failed=[], resent=[unknown], now=LATER)) == []
    assert (await _state(stores, bulk, 0))[0] == "unconfirmed"


async def test_a_recipient_confirmed_meanwhile_is_left_alone(stores: Stores) -> None:
    bulk, claimed = await _one_unknown(stores)
    ids = [c.message_id for c in claimed]

    changed = await stores.bulks.settle_unknown(failed=ids[:1], resent=ids[1:], now=LATER)
    assert len(changed) == 1  # only the unknown one moved (failed)
    assert [await _state(stores, bulk, p) for p in (1, 2, 3)] == [("sent", None, False)] * 3
    assert list(await stores.bulks.settle_unknown(failed=[], resent=[], now=LATER)) == []
    missing = MessageId(999_999)
    assert list(await stores.bulks.settle_unknown(failed=[missing], resent=[], now=LATER)) == []


async def test_a_stopped_bulk_may_not_resend(stores: Stores) -> None:
    owner = await tenant(stores)
    bulk = await create(stores, owner, 3)
    (first,) = await stores.bulks.claim_recipients(bulk.id, worker="w", limit=1, now=T0)
    await stores.bulks.mark_calls_started([first.message_id], worker="w", now=T0)
    await stores.bulks.stop_bulk(bulk.id, now=T0, reason="Template paused", cancelled=False)
    await stores.bulks.settle_in_flight(policy="mark_unconfirmed", now=T0)

    (unknown,) = await stores.bulks.unknown_recipients(started_before=LATER, limit=10)

    assert unknown.may_resend is False
