"""Meta's webhooks through the ingest use case, over the in-memory store and the real engine:
signatures, statuses into messages and bulk counters, WatchBulk updates, and account events
(a template paused mid-bulk, a number upgraded, the portfolio's tier raised)."""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from dataclasses import replace
from datetime import UTC, datetime, timedelta

import pytest

from mindo_core.adapters.memory import Tables, memory_stores
from mindo_core.adapters.memory.accounts import InMemoryAccounts
from mindo_core.bulks.model import Bulk, BulkCounters
from mindo_core.bulks.submission import RecipientInput
from mindo_core.delivery.webhook_payloads import WebhookSignatureInvalid
from mindo_core.domain.accounts import PhoneNumber
from mindo_core.domain.errors import (
    InvalidRequest,
    RecipientOptedOut,
    TemplateNotApproved,
    Unavailable,
)
from mindo_core.engine.bulk_messages import callback_data
from mindo_core.engine.claiming import OPTED_OUT
from mindo_core.ports.bulks import BulkFilter
from mindo_core.services.ingest_webhook import IngestReport, WebhookPost
from mindo_core.services.send_message import SendMessageCommand
from mindo_core.services.submit_bulk import SubmitBulkCommand
from mindo_core.throughput.pacing import throughput_for
from tests.bulk_fakes import NUMBER, WABA, BulkWorld, bulk_world, eventually, order, phone
from tests.webhook_bodies import (
    APP_SECRET,
    capability_body,
    inbound_body,
    inbound_item,
    preferences_body,
    quality_body,
    signed,
    status_item,
    statuses_body,
    template_status_body,
    text_item,
)

AT = datetime(2026, 11, 24, 10, 0, tzinfo=UTC)
# The wamid ScriptedMeta gives the first send to phone(1).
EARLY_WAMID = "wamid.5491150000001.1"


@pytest.fixture
async def world() -> BulkWorld:
    return await bulk_world(meta_app_secret=APP_SECRET, tier="TIER_1000", throughput="STANDARD")


async def post(world: BulkWorld, body: bytes, signature: str | None = None) -> None:
    await world.services.ingest_webhook(body, signature if signature is not None else signed(body))


async def a_sent_bulk(world: BulkWorld, count: int) -> list[str]:
    """Submits and runs a bulk to the end; returns its recipients' wamids in position order."""
    await world.engine.start()
    bulk = await world.submit(count)
    await world.finished(bulk)
    await world.engine.stop()
    return [r.wamid or "" for r in await world.recipients(bulk)]


async def a_bulk_held_at_meta(world: BulkWorld, count: int) -> tuple[asyncio.Event, Bulk]:
    """A running bulk whose first sends are in flight at Meta until the event is set."""
    hold = asyncio.Event()
    world.meta.hold = hold
    await world.engine.start()
    bulk = await world.submit(count)
    await eventually(lambda: _held(world))
    return hold, bulk


# -- signatures --------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "signature",
    [
        "",  # missing
        "sha256=" + "0" * 64,  # forged
        signed(b"another body"),  # signs something else
        signed(b"x", secret="not-the-app-secret"),
    ],
)
async def test_a_post_not_signed_by_meta_is_refused_and_records_nothing(
    world: BulkWorld, signature: str
) -> None:
    (wamid,) = await a_sent_bulk(world, 1)
    body = statuses_body(WABA, NUMBER, [status_item(wamid, "read", AT)])

    with pytest.raises(WebhookSignatureInvalid):
        await world.services.ingest_webhook(body, signature or None)

    message = await world.stores.messages.find_message_by_wamid(
        world.principal.organisation.id, wamid
    )
    assert message is not None
    assert message.status == "sent"


async def test_a_body_altered_after_signing_is_refused(world: BulkWorld) -> None:
    (wamid,) = await a_sent_bulk(world, 1)
    body = statuses_body(WABA, NUMBER, [status_item(wamid, "delivered", AT)])
    signature = signed(body)
    altered = body.replace(b'"delivered"', b'"read"')

    with pytest.raises(WebhookSignatureInvalid):
        await world.services.ingest_webhook(altered, signature)
    assert await world.stores.delivery.parked_count() == 0


async def test_without_an_app_secret_every_post_is_refused() -> None:
    world = await bulk_world(meta_app_secret="")
    body = statuses_body(WABA, NUMBER, [])
    with pytest.raises(WebhookSignatureInvalid, match="MINDO_META_APP_SECRET"):
        await world.services.ingest_webhook(body, signed(body, secret=""))


async def test_a_signed_body_that_is_not_a_webhook_is_invalid(world: BulkWorld) -> None:
    with pytest.raises(InvalidRequest):
        await post(world, b"not json")


# -- statuses ----------------------------------------------------------------------------------


async def test_statuses_reach_the_messages_the_counters_and_the_final_status(
    world: BulkWorld,
) -> None:
    wamids = await a_sent_bulk(world, 3)
    items = [
        status_item(wamids[0], "read", AT + timedelta(seconds=9)),
        status_item(wamids[0], "delivered", AT + timedelta(seconds=2)),  # late, stale
        status_item(wamids[1], "delivered", AT),
        status_item(wamids[1], "delivered", AT),  # Meta's duplicate
        status_item(wamids[2], "failed", AT, error_code=131026),
    ]
    await post(world, statuses_body(WABA, NUMBER, items))

    (bulk,) = (
        await world.stores.bulks.list_bulks(
            world.principal.organisation.id, _all(), offset=0, limit=1
        )
    ).items
    assert bulk.counters == BulkCounters(total=3, sent=2, delivered=2, read=1, failed=1)
    assert bulk.status == "PARTIAL"
    view = await world.services.message_status(world.principal, wamids[2])
    assert view.message.status == "failed"
    assert view.message.error_code == 131026
    assert view.was_successful  # Meta accepted it; it failed later
    assert view.send_error is None


async def test_each_change_reaches_watch_bulk_subscribers(world: BulkWorld) -> None:
    wamids = await a_sent_bulk(world, 2)
    (bulk,) = (
        await world.stores.bulks.list_bulks(
            world.principal.organisation.id, _all(), offset=0, limit=1
        )
    ).items
    subscription = world.progress.subscribe(bulk.id)

    await post(world, statuses_body(WABA, NUMBER, [status_item(wamids[0], "delivered", AT)]))

    snapshot = await asyncio.wait_for(subscription.next(), timeout=5)
    assert snapshot.counters.delivered == 1
    subscription.close()


async def test_a_status_that_beats_its_message_is_applied_when_the_message_appears(
    world: BulkWorld,
) -> None:
    body = statuses_body(WABA, NUMBER, [status_item(EARLY_WAMID, "delivered", AT)])
    await post(world, body)
    assert await world.stores.delivery.parked_count() == 1

    sent = await world.services.send_message(
        world.principal,
        SendMessageCommand(
            phone_number_id=NUMBER,
            template_name="order_update",
            recipient_phone=phone(1),
            variables={"order_id": "ORD-1", "status": "listo"},
        ),
    )
    await world.services.status_writer.sweep_parked()

    view = await world.services.message_status(world.principal, sent.wamid)
    assert view.message.wamid == EARLY_WAMID
    assert view.message.status == "delivered"
    assert await world.stores.delivery.parked_count() == 0


async def test_callback_data_settles_a_recipient_whose_answer_never_came(
    world: BulkWorld,
) -> None:
    hold, bulk = await a_bulk_held_at_meta(world, 1)
    (recipient,) = await world.recipients(bulk)
    assert recipient.state == "in_flight"
    assert recipient.message_id is not None

    named = callback_data(bulk.id, recipient.message_id)
    item = status_item("wamid.from-webhook", "delivered", AT, callback=named)
    await post(world, statuses_body(WABA, NUMBER, [item]))

    (settled,) = await world.recipients(bulk)
    assert settled.state == "delivered"
    assert settled.wamid == "wamid.from-webhook"
    hold.set()
    final = await world.finished(bulk)
    assert final.counters == BulkCounters(total=1, sent=1, delivered=1)
    await world.engine.stop()


async def test_a_failure_that_beats_the_engine_still_shows_meta_accepted_the_send(
    world: BulkWorld,
) -> None:
    hold, bulk = await a_bulk_held_at_meta(world, 1)
    (recipient,) = await world.recipients(bulk)
    assert recipient.message_id is not None

    named = callback_data(bulk.id, recipient.message_id)
    item = status_item("wamid.failed-fast", "failed", AT, callback=named, error_code=131026)
    await post(world, statuses_body(WABA, NUMBER, [item]))

    view = await world.services.message_status(world.principal, "wamid.failed-fast")
    assert view.was_successful  # Meta had it: the failure is the delivery's, not the send's
    assert view.send_error is None
    assert view.message.error_code == 131026
    hold.set()
    await world.finished(bulk)
    await world.engine.stop()


# -- account events ----------------------------------------------------------------------------


async def test_a_template_paused_mid_bulk_stops_the_bulk_with_a_reason(
    world: BulkWorld,
) -> None:
    hold, bulk = await a_bulk_held_at_meta(world, 50)

    await post(world, template_status_body(WABA, "11", "order_update", "es", "PAUSED", "SCAM"))
    hold.set()
    final = await world.finished(bulk)
    await world.engine.stop()

    assert final.stop_reason is not None
    assert "order_update" in final.stop_reason
    assert "PAUSED" in final.stop_reason
    assert final.counters.pending == 0
    assert final.counters.sent < 50  # the rest were skipped, never sent
    assert len(world.meta.calls) == final.counters.sent
    with pytest.raises(TemplateNotApproved):
        await world.submit(1)


async def test_a_reinstated_template_can_be_sent_again(world: BulkWorld) -> None:
    await post(world, template_status_body(WABA, "11", "order_update", "es", "PAUSED"))
    await post(world, template_status_body(WABA, "11", "order_update", "es", "REINSTATED"))

    bulk = await world.submit(1)
    assert bulk.status == "QUEUED"


async def test_a_flagged_template_is_still_sendable(world: BulkWorld) -> None:
    await post(world, template_status_body(WABA, "11", "order_update", "es", "FLAGGED"))
    assert (await world.submit(1)).status == "QUEUED"


async def test_a_tier_change_takes_effect_in_the_quota_at_once(world: BulkWorld) -> None:
    before = await world.services.submit_bulk(world.principal, _one_order())
    assert before.quota.tier == "TIER_1000"

    await post(world, capability_body(WABA, 10_000))

    after = await world.services.submit_bulk(world.principal, _one_order())
    assert after.quota.tier == "TIER_10000"
    assert after.quota.quota_total == 10_000


async def test_a_throughput_upgrade_raises_the_number_to_high(world: BulkWorld) -> None:
    body = quality_body(WABA, "+54 9 223 675-0780", "THROUGHPUT_UPGRADE", "TIER_UNLIMITED")
    await post(world, body)

    numbers = await _numbers(world)
    assert {n.throughput_level for n in numbers if n.phone_number_id == NUMBER} == {"HIGH"}
    assert throughput_for("HIGH") == 1000
    assert {n.messaging_limit_tier for n in numbers if n.phone_number_id == NUMBER} == {
        "TIER_UNLIMITED"
    }


class NumbersLockedAccounts(InMemoryAccounts):
    """Accounts whose numbers cannot be written now (SQLite busy, say)."""

    async def update_phone_number_limits(self, *args: object, **kwargs: object) -> PhoneNumber:
        raise RuntimeError("database is locked")


async def test_an_account_event_that_fails_fails_only_its_own_post() -> None:
    tables = Tables()
    stores = replace(memory_stores(tables), accounts=NumbersLockedAccounts(tables))
    world = await bulk_world(meta_app_secret=APP_SECRET, stores=stores)
    (wamid,) = await a_sent_bulk(world, 1)
    tier = capability_body(WABA, 10_000)
    delivered = statuses_body(WABA, NUMBER, [status_item(wamid, "delivered", AT)])
    posts = [WebhookPost(body=b, signature=signed(b)) for b in (tier, delivered)]

    failed, fine = await world.services.ingest_webhook.many(posts)

    assert isinstance(failed, Unavailable)  # Meta will post it again
    assert isinstance(fine, IngestReport)
    assert fine.statuses == 1
    view = await world.services.message_status(world.principal, wamid)
    assert view.message.status == "delivered"


async def test_events_about_unknown_accounts_are_ignored(world: BulkWorld) -> None:
    await post(world, template_status_body("another-waba", "11", "order_update", "es", "PAUSED"))
    await post(world, capability_body("another-waba", 100_000))
    assert (await world.submit(1)).status == "QUEUED"


async def test_a_pause_posted_again_after_the_reinstatement_does_not_pause_again(
    world: BulkWorld,
) -> None:
    paused = template_status_body(WABA, "11", "order_update", "es", "PAUSED", at=AT)
    later = AT + timedelta(minutes=5)
    await post(world, paused)
    await post(
        world, template_status_body(WABA, "11", "order_update", "es", "REINSTATED", at=later)
    )

    await post(world, paused)  # Meta's retry, or a late duplicate

    assert (await world.submit(1)).status == "QUEUED"


async def test_an_older_tier_arriving_late_does_not_lower_a_newer_one(world: BulkWorld) -> None:
    await post(world, capability_body(WABA, 10_000, at=AT + timedelta(hours=1)))
    await post(world, capability_body(WABA, 2_000, at=AT))

    after = await world.services.submit_bulk(world.principal, _one_order())
    assert after.quota.tier == "TIER_10000"


async def test_a_newer_pause_after_a_reinstatement_pauses_again(world: BulkWorld) -> None:
    for minutes, event in ((0, "PAUSED"), (5, "REINSTATED"), (9, "PAUSED")):
        at = AT + timedelta(minutes=minutes)
        await post(world, template_status_body(WABA, "11", "order_update", "es", event, at=at))

    with pytest.raises(TemplateNotApproved):
        await world.submit(1)


# -- inbound messages --------------------------------------------------------------------------


async def test_a_user_writing_in_becomes_a_contact_with_the_window_open(
    world: BulkWorld,
) -> None:
    now = datetime.now(UTC).replace(microsecond=0)
    body = inbound_body(WABA, NUMBER, [text_item("wamid.IN1", now - timedelta(minutes=5))])

    report = await world.services.ingest_webhook(body, signed(body))

    assert report.inbound_messages == 1
    found = await world.services.contact_lookup(world.principal, "+54 223 15-596-1983")
    assert found.contact is not None
    assert found.contact.phone == "+5492235961983"
    assert found.contact.display_name == "Juan Perez"
    assert found.contact.source == "organic"
    assert found.window.active
    assert found.window.expires_at == now - timedelta(minutes=5) + timedelta(hours=24)


async def test_an_inbound_message_to_a_number_mindo_does_not_manage_is_ignored(
    world: BulkWorld,
) -> None:
    body = inbound_body(WABA, "999000999", [text_item("wamid.ELSEWHERE", AT)])

    await post(world, body)

    found = await world.services.contact_lookup(world.principal, "+5492235961983")
    assert not found.found


async def test_a_forged_inbound_message_records_nothing(world: BulkWorld) -> None:
    body = inbound_body(WABA, NUMBER, [text_item("wamid.FORGED", AT)])

    with pytest.raises(WebhookSignatureInvalid):
        await world.services.ingest_webhook(body, signed(body, "not-the-app-secret"))

    assert not (await world.services.contact_lookup(world.principal, "5492235961983")).found


# -- opt-outs ----------------------------------------------------------------------------------

JUAN = "5492235961983"


def welcome_to_juan() -> SendMessageCommand:
    """A marketing template."""
    return SendMessageCommand(
        phone_number_id=NUMBER,
        template_name="welcome_message",
        recipient_phone="+54 223 15-596-1983",
        variables={"name": "Juan", "code": "A1"},
        button_variables={"button_0": "A1"},
    )


def order_update_to_juan() -> SendMessageCommand:
    """A utility template."""
    return SendMessageCommand(
        phone_number_id=NUMBER,
        template_name="order_update",
        recipient_phone=JUAN,
        variables={"order_id": "ORD-1", "status": "listo"},
    )


async def juan_writes(world: BulkWorld, wamid: str, text: str, minutes: int) -> None:
    await post(
        world, inbound_body(WABA, NUMBER, [text_item(wamid, AT + timedelta(minutes=minutes), text)])
    )


async def test_a_user_who_writes_stop_gets_no_marketing_template_until_they_write_start(
    world: BulkWorld,
) -> None:
    await juan_writes(world, "wamid.STOP", " Baja. ", 0)

    lookup = await world.services.contact_lookup(world.principal, JUAN)
    assert lookup.contact is not None
    assert lookup.contact.opted_out_at == AT
    with pytest.raises(RecipientOptedOut):
        await world.services.send_message(world.principal, welcome_to_juan())
    assert world.meta.calls == []  # refused before Meta
    await world.services.send_message(world.principal, order_update_to_juan())  # utility

    await juan_writes(world, "wamid.START", "ALTA", 5)

    await world.services.send_message(world.principal, welcome_to_juan())
    assert len(world.meta.calls) == 2


async def test_the_marketing_opt_out_button_opts_out(world: BulkWorld) -> None:
    button = inbound_item("wamid.BTN", AT, "button", {"payload": "STOP", "text": "No más promos"})

    await post(world, inbound_body(WABA, NUMBER, [button]))

    lookup = await world.services.contact_lookup(world.principal, JUAN)
    assert lookup.contact is not None
    assert lookup.contact.opted_out


async def test_a_sentence_with_a_stop_word_in_it_does_not_opt_out(world: BulkWorld) -> None:
    await juan_writes(world, "wamid.SENTENCE", "no quiero parar de recibir ofertas", 0)

    await world.services.send_message(world.principal, welcome_to_juan())


# -- helpers -----------------------------------------------------------------------------------


def _all() -> BulkFilter:
    return BulkFilter()


async def _held(world: BulkWorld) -> bool:
    return world.meta.held > 0


def _one_order() -> SubmitBulkCommand:
    return SubmitBulkCommand(
        phone_number_id=NUMBER, template_name="order_update", recipients=[order(1)]
    )


async def _numbers(world: BulkWorld) -> Sequence[PhoneNumber]:
    stores = world.stores
    (account,) = await stores.accounts.list_business_accounts(world.principal.organisation.id)
    return await stores.accounts.list_phone_numbers(account.id)


async def test_a_marketing_bulk_skips_who_opted_out_and_meta_never_sees_them(
    world: BulkWorld,
) -> None:
    await juan_writes(world, "wamid.STOP", "STOP", 0)
    await world.engine.start()
    promo = SubmitBulkCommand(
        phone_number_id=NUMBER,
        template_name="welcome_message",
        recipients=[
            RecipientInput(
                phone=to,
                variables={"name": "Ana", "code": "A1"},
                button_variables={"button_0": "A"},
            )
            for to in (phone(1), "+54 223 15-596-1983", phone(2))
        ],
    )
    bulk = (await world.services.submit_bulk(world.principal, promo)).bulk
    final = await world.finished(bulk)
    await world.engine.stop()

    assert sorted(world.meta.calls) == sorted(p.removeprefix("+") for p in (phone(1), phone(2)))
    assert (final.counters.sent, final.counters.failed) == (2, 1)
    skipped = [r for r in await world.recipients(bulk) if r.e164 == "+5492235961983"]
    assert [r.error_message for r in skipped] == [OPTED_OUT]


async def test_a_utility_bulk_still_reaches_who_opted_out(world: BulkWorld) -> None:
    await juan_writes(world, "wamid.STOP", "STOP", 0)
    await world.engine.start()
    command = SubmitBulkCommand(
        phone_number_id=NUMBER,
        template_name="order_update",
        recipients=[RecipientInput(phone=JUAN, variables={"order_id": "1", "status": "ok"})],
    )
    bulk = (await world.services.submit_bulk(world.principal, command)).bulk
    final = await world.finished(bulk)
    await world.engine.stop()

    assert world.meta.calls == [JUAN]
    assert final.counters.sent == 1


async def test_a_user_who_stops_marketing_in_whatsapp_is_opted_out_until_they_resume(
    world: BulkWorld,
) -> None:
    await post(world, preferences_body(WABA, NUMBER, JUAN, "stop", AT))
    with pytest.raises(RecipientOptedOut):
        await world.services.send_message(world.principal, welcome_to_juan())

    await post(world, preferences_body(WABA, NUMBER, JUAN, "resume", AT + timedelta(hours=1)))

    await world.services.send_message(world.principal, welcome_to_juan())


async def test_meta_failing_a_send_with_131050_opts_the_recipient_out(world: BulkWorld) -> None:
    failed = status_item("wamid.PROMO", "failed", AT, to=JUAN, error_code=131050)

    await post(world, statuses_body(WABA, NUMBER, [failed]))

    lookup = await world.services.contact_lookup(world.principal, JUAN)
    assert lookup.contact is not None
    assert lookup.contact.opted_out
    assert lookup.contact.source == "outbound"


async def test_a_late_131050_does_not_undo_a_later_start(world: BulkWorld) -> None:
    await juan_writes(world, "wamid.START", "START", 10)
    failed = status_item("wamid.OLD", "failed", AT, to=JUAN, error_code=131050)

    await post(world, statuses_body(WABA, NUMBER, [failed]))

    await world.services.send_message(world.principal, welcome_to_juan())
