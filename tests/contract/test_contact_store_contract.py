"""What every contact store promises (memory, a SQLite file, PostgreSQL): inbound messages are
stored once per wamid for the organisation owning the number, their sender becomes its contact,
the last message's time wins whatever the order of arrival; and account-event marks only move
forward."""

from __future__ import annotations

from dataclasses import replace
from datetime import timedelta

from mindo_core.contacts.opt_out import OptChange
from mindo_core.delivery.webhook_payloads import InboundMessage
from mindo_core.ports.contacts import OptEvent
from mindo_core.ports.stores import Stores
from tests.contract.tenants import MADRID_SUMMER, T0, sent_message, tenant

ANA = "+5492235961983"
RECEIVED = T0 + timedelta(hours=2)


def inbound(
    wamid: str, seconds: int = 0, *, number: str = "101", sender: str = ANA, **changes: object
) -> InboundMessage:
    message = InboundMessage(
        wamid=wamid,
        phone_number_id=number,
        sender_phone=sender,
        at=T0 + timedelta(seconds=seconds),
        type="text",
        profile_name="Ana",
        text="Hola",
    )
    return replace(message, **changes)  # type: ignore[arg-type]


async def test_a_first_message_makes_the_sender_an_organic_contact(stores: Stores) -> None:
    owner = await tenant(stores)

    report = await stores.contacts.record_inbound([inbound("wamid.I1")], received_at=RECEIVED)

    assert (report.recorded, report.duplicates, report.unmanaged) == (1, 0, 0)
    contact = await stores.contacts.find_contact(owner.organisation.id, ANA)
    assert contact is not None
    assert contact.phone == ANA
    assert contact.source == "organic"
    assert contact.display_name == "Ana"
    assert contact.created_at == T0
    assert contact.last_inbound_at == T0
    assert (contact.email, contact.contact_list_id, contact.contact_list_name) == (None, None, None)


async def test_the_message_is_stored_with_what_it_held(stores: Stores) -> None:
    owner = await tenant(stores)
    button = inbound(
        "wamid.B", type="button", text="No me interesa", payload="STOP_PROMOS", context_wamid="w.1"
    )

    await stores.contacts.record_inbound([button], received_at=RECEIVED)

    (stored,) = await stores.contacts.inbound_messages(owner.organisation.id, ANA)
    assert stored.wamid == "wamid.B"
    assert stored.organisation_id == owner.organisation.id
    assert stored.phone_number_row_id == owner.number.id
    assert (stored.type, stored.text, stored.payload) == ("button", "No me interesa", "STOP_PROMOS")
    assert stored.context_wamid == "w.1"
    assert (stored.sent_at, stored.received_at) == (T0, RECEIVED)


async def test_a_message_posted_again_is_stored_once(stores: Stores) -> None:
    owner = await tenant(stores)
    await stores.contacts.record_inbound([inbound("wamid.I1")], received_at=RECEIVED)

    report = await stores.contacts.record_inbound(
        [inbound("wamid.I1"), inbound("wamid.I2", 5), inbound("wamid.I2", 5)],
        received_at=RECEIVED,
    )

    assert (report.recorded, report.duplicates) == (1, 2)
    stored = await stores.contacts.inbound_messages(owner.organisation.id, ANA)
    assert [m.wamid for m in stored] == ["wamid.I2", "wamid.I1"]


async def test_the_latest_message_sets_the_last_reply_and_name_whatever_the_order(
    stores: Stores,
) -> None:
    owner = await tenant(stores)
    newer = inbound("wamid.NEW", 60, profile_name="Ana María")
    older = inbound("wamid.OLD", 0, profile_name="Ana")

    await stores.contacts.record_inbound([newer], received_at=RECEIVED)
    await stores.contacts.record_inbound([older], received_at=RECEIVED)

    contact = await stores.contacts.find_contact(owner.organisation.id, ANA)
    assert contact is not None
    assert contact.last_inbound_at == T0 + timedelta(seconds=60)
    assert contact.profile_name == "Ana María"


async def test_a_message_to_a_number_no_organisation_has_is_ignored(stores: Stores) -> None:
    owner = await tenant(stores)

    report = await stores.contacts.record_inbound(
        [inbound("wamid.X", number="999")], received_at=RECEIVED
    )

    assert (report.recorded, report.unmanaged) == (0, 1)
    assert await stores.contacts.find_contact(owner.organisation.id, ANA) is None


async def test_each_organisation_has_its_own_contact_for_one_phone(stores: Stores) -> None:
    acme = await tenant(stores)
    globex = await tenant(stores, "globex", "2")

    await stores.contacts.record_inbound([inbound("wamid.A", number="101")], received_at=RECEIVED)

    assert await stores.contacts.find_contact(acme.organisation.id, ANA) is not None
    assert await stores.contacts.find_contact(globex.organisation.id, ANA) is None
    assert await stores.contacts.inbound_messages(globex.organisation.id, ANA) == []
    await stores.contacts.record_inbound([inbound("wamid.G", number="102")], received_at=RECEIVED)
    mine = await stores.contacts.find_contact(acme.organisation.id, ANA)
    theirs = await stores.contacts.find_contact(globex.organisation.id, ANA)
    assert mine is not None
    assert theirs is not None
    assert mine.id != theirs.id


async def test_a_message_meta_accepted_makes_its_recipient_an_outbound_contact_once(
    stores: Stores,
) -> None:
    owner = await tenant(stores)
    org = owner.organisation.id

    await stores.messages.add_message(sent_message(owner, "wamid.S1", recipient_phone=ANA))
    first = await stores.contacts.find_contact(org, ANA)
    later = T0 + timedelta(days=1)
    await stores.messages.add_messages(
        [sent_message(owner, "wamid.S2", recipient_phone=ANA, created_at=later, sent_at=later)]
    )
    again = await stores.contacts.find_contact(org, ANA)
    await stores.contacts.record_inbound([inbound("wamid.R", 90)], received_at=RECEIVED)

    assert first is not None
    assert first == again
    assert first.source == "outbound"
    assert first.created_at == T0
    assert first.last_inbound_at is None
    replied = await stores.contacts.find_contact(org, ANA)
    assert replied is not None
    assert replied.source == "outbound"

    assert replied.id == first.id
    assert replied.last_inbound_at == T0 + timedelta(seconds=90)


async def test_a_message_meta_refused_makes_no_contact(stores: Stores) -> None:
    owner = await tenant(stores)

    await stores.messages.add_message(
        sent_message(owner, None, recipient_phone=ANA, status="failed", error_code=131026)
    )

    assert await stores.contacts.find_contact(owner.organisation.id, ANA) is None


async def test_times_come_back_in_utc(stores: Stores) -> None:
    owner = await tenant(stores)
    at = (T0 + timedelta(seconds=30)).astimezone(MADRID_SUMMER)

    await stores.contacts.record_inbound([inbound("wamid.T", at=at)], received_at=RECEIVED)

    contact = await stores.contacts.find_contact(owner.organisation.id, ANA)
    assert contact is not None
    assert contact.last_inbound_at is not None
    assert contact.last_inbound_at == at
    assert contact.last_inbound_at.utcoffset() == timedelta(0)


async def test_an_event_mark_moves_forward_only(stores: Stores) -> None:
    marks = stores.event_marks
    key = "template:waba-1:tmpl-1"

    assert await marks.mark_if_not_older(key, T0 + timedelta(seconds=10))
    assert not await marks.mark_if_not_older(key, T0)  # late or replayed
    assert await marks.mark_if_not_older(key, T0 + timedelta(seconds=10))  # the same time again
    assert await marks.mark_if_not_older(key, T0 + timedelta(seconds=20))
    assert not await marks.mark_if_not_older(key, T0 + timedelta(seconds=10))
    assert await marks.mark_if_not_older("number:waba-1:34600000000", T0)  # another object


async def opt(stores: Stores, wamid: str, seconds: int, change: OptChange) -> None:
    await stores.contacts.record_inbound(
        [inbound(wamid, seconds)], received_at=RECEIVED, opt_changes={wamid: change}
    )


async def test_a_stop_word_puts_the_contact_on_the_suppression_list_and_start_takes_it_off(
    stores: Stores,
) -> None:
    owner = await tenant(stores)
    org = owner.organisation.id

    await opt(stores, "wamid.STOP", 10, "opt_out")
    stopped = await stores.contacts.find_contact(org, ANA)
    await opt(stores, "wamid.STOP2", 20, "opt_out")
    still = await stores.contacts.find_contact(org, ANA)
    await opt(stores, "wamid.START", 30, "opt_in")
    resumed = await stores.contacts.find_contact(org, ANA)

    assert stopped is not None
    assert stopped.opted_out_at == T0 + timedelta(seconds=10)
    assert still is not None
    assert still.opted_out_at == T0 + timedelta(seconds=10)  # on the list since the first stop
    assert resumed is not None
    assert not resumed.opted_out


async def test_a_late_stop_does_not_undo_a_later_start(stores: Stores) -> None:
    owner = await tenant(stores)

    await opt(stores, "wamid.START", 30, "opt_in")
    await opt(stores, "wamid.STOP", 10, "opt_out")  # written before, arrived after

    contact = await stores.contacts.find_contact(owner.organisation.id, ANA)
    assert contact is not None
    assert not contact.opted_out


async def test_a_stop_posted_again_after_a_start_changes_nothing(stores: Stores) -> None:
    owner = await tenant(stores)
    await opt(stores, "wamid.STOP", 10, "opt_out")
    await opt(stores, "wamid.START", 30, "opt_in")

    await opt(stores, "wamid.STOP", 10, "opt_out")  # Meta's duplicate

    contact = await stores.contacts.find_contact(owner.organisation.id, ANA)
    assert contact is not None
    assert not contact.opted_out


async def test_the_suppression_list_is_read_for_many_phones_at_once(stores: Stores) -> None:
    acme = await tenant(stores)
    globex = await tenant(stores, "globex", "2")
    await opt(stores, "wamid.STOP", 10, "opt_out")
    other = "+34611222333"
    await stores.contacts.record_inbound([inbound("wamid.O", sender=other)], received_at=RECEIVED)

    among = await stores.contacts.opted_out_among(acme.organisation.id, [ANA, other, "+1555"])

    assert among == frozenset({ANA})
    assert await stores.contacts.opted_out_among(globex.organisation.id, [ANA]) == frozenset()
    assert await stores.contacts.opted_out_among(acme.organisation.id, []) == frozenset()


def meta_says(change: OptChange, seconds: int, number: str = "101") -> OptEvent:
    return OptEvent(
        phone_number_id=number, phone=ANA, at=T0 + timedelta(seconds=seconds), change=change
    )


async def test_meta_opt_events_create_the_contact_and_follow_the_latest(stores: Stores) -> None:
    owner = await tenant(stores)
    org = owner.organisation.id

    managed = await stores.contacts.apply_opt_events(
        [meta_says("opt_out", 10), meta_says("opt_out", 5, number="999")]
    )
    stopped = await stores.contacts.find_contact(org, ANA)
    await stores.contacts.apply_opt_events([meta_says("opt_in", 30), meta_says("opt_out", 20)])
    resumed = await stores.contacts.find_contact(org, ANA)

    assert managed == 1
    assert stopped is not None
    assert stopped.source == "outbound"
    assert stopped.opted_out_at == T0 + timedelta(seconds=10)
    assert resumed is not None
    assert not resumed.opted_out


# The suppression list as the organisation manages it.

BEA = "+34611222333"
CARLOS = "+5491155550000"


async def test_suppressing_a_stranger_makes_them_an_outbound_contact_on_the_list(
    stores: Stores,
) -> None:
    owner = await tenant(stores)
    org = owner.organisation.id

    contact = await stores.contacts.suppress(org, BEA, at=T0)

    assert (contact.phone, contact.source, contact.opted_out_at) == (BEA, "outbound", T0)
    assert await stores.contacts.opted_out_among(org, [BEA]) == frozenset({BEA})


async def test_suppressing_again_keeps_the_first_time(stores: Stores) -> None:
    owner = await tenant(stores)
    org = owner.organisation.id
    await opt(stores, "wamid.STOP", 10, "opt_out")

    contact = await stores.contacts.suppress(org, ANA, at=T0 + timedelta(minutes=5))

    assert contact.source == "organic"
    assert contact.opted_out_at == T0 + timedelta(seconds=10)


async def test_unsuppressing_takes_them_off_and_answers_whether_they_were_on(
    stores: Stores,
) -> None:
    owner = await tenant(stores)
    org = owner.organisation.id
    await stores.contacts.suppress(org, BEA, at=T0)

    removed = await stores.contacts.unsuppress(org, BEA, at=T0 + timedelta(minutes=1))
    again = await stores.contacts.unsuppress(org, BEA, at=T0 + timedelta(minutes=2))
    stranger = await stores.contacts.unsuppress(org, CARLOS, at=T0 + timedelta(minutes=2))

    assert (removed, again, stranger) == (True, False, False)
    assert await stores.contacts.opted_out_among(org, [BEA]) == frozenset()
    assert await stores.contacts.find_contact(org, CARLOS) is None


async def test_a_late_stop_does_not_undo_a_manual_removal(stores: Stores) -> None:
    owner = await tenant(stores)
    org = owner.organisation.id
    await stores.contacts.suppress(org, ANA, at=T0)
    await stores.contacts.unsuppress(org, ANA, at=T0 + timedelta(minutes=1))

    await opt(stores, "wamid.STOP", 10, "opt_out")  # written before the removal

    assert await stores.contacts.opted_out_among(org, [ANA]) == frozenset()


async def test_the_list_is_the_organisations_latest_first_and_paginated(stores: Stores) -> None:
    acme = await tenant(stores)
    globex = await tenant(stores, "globex", "2")
    org = acme.organisation.id
    await stores.contacts.suppress(org, ANA, at=T0)
    await stores.contacts.suppress(org, BEA, at=T0 + timedelta(minutes=2))
    await stores.contacts.suppress(org, CARLOS, at=T0 + timedelta(minutes=1))
    await stores.messages.add_message(sent_message(acme, recipient_phone="+34699000000"))
    await stores.contacts.suppress(globex.organisation.id, "+34688000000", at=T0)

    first = await stores.contacts.suppressed(org, offset=0, limit=2)
    second = await stores.contacts.suppressed(org, offset=2, limit=2)

    assert (first.count, second.count) == (3, 3)
    assert [c.phone for c in first.items] == [BEA, CARLOS]
    assert [c.phone for c in second.items] == [ANA]
