"""Submitting a bulk send: checked whole before anything is stored, deduplicated, planned
against the rolling 24 h quota, estimated, and handed to the engine."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from mindo_core.bulks.model import BulkId
from mindo_core.bulks.submission import (
    EmptyRecipients,
    InvalidRecipients,
    RecipientInput,
    TooManyRecipients,
)
from mindo_core.domain.clock import FixedClock
from mindo_core.domain.errors import (
    InvalidRequest,
    MindoError,
    PhoneNumberNotFound,
    TemplateNotApproved,
    TemplateNotFound,
)
from mindo_core.domain.messages import NewMessage
from mindo_core.ports.bulks import BulkFilter
from mindo_core.services.submit_bulk import SubmitBulk, SubmitBulkCommand
from mindo_core.throughput.pacing import SendTiming
from tests.bulk_fakes import NUMBER, OTHER_NUMBER, BulkWorld, bulk_world, order, phone, tenant

NOW = datetime(2026, 11, 24, 12, 0, tzinfo=UTC)
TIMING = SendTiming()  # as ``wire`` builds it from the engine's default settings
# A STANDARD number's sends: 80/s, every span stretched by the margin, each send a little late.
AT_80 = (1 + TIMING.margin_seconds) / 80 + TIMING.late_seconds
# A bulk's own cap of 10/s: stretched too, but its gate makes up for late sends.
AT_10 = (1 + TIMING.margin_seconds) / 10


class CountingWaker:
    def __init__(self) -> None:
        self.wakes = 0

    def wake(self) -> None:
        self.wakes += 1

    def drop(self, bulk_id: BulkId) -> None:
        raise AssertionError("a submission cancels nothing")


async def world_at(tier: str = "TIER_1000", throughput: str = "STANDARD") -> BulkWorld:
    return await bulk_world(clock=FixedClock(NOW), tier=tier, throughput=throughput)


def command(recipients: list[RecipientInput], **overrides: object) -> SubmitBulkCommand:
    fields: dict[str, object] = {
        "phone_number_id": NUMBER,
        "template_name": "order_update",
        "recipients": recipients,
    }
    fields.update(overrides)
    return SubmitBulkCommand(**fields)  # type: ignore[arg-type]


async def stored_bulks(world: BulkWorld) -> int:
    page = await world.stores.bulks.list_bulks(
        world.principal.organisation.id, BulkFilter(), offset=0, limit=10
    )
    return page.count


async def test_duplicates_after_normalisation_are_dropped_and_the_first_one_wins() -> None:
    world = await world_at()
    same_as_first = RecipientInput(
        phone="+54 9 11 5000-0000", variables={"order_id": "DUP", "status": "x"}
    )

    submitted = await world.services.submit_bulk(
        world.principal, command([order(0), order(1), same_as_first])
    )

    assert submitted.unique_recipients == 2
    assert submitted.bulk.status == "QUEUED"
    assert submitted.bulk.counters.total == 2
    assert submitted.bulk.template_name == "order_update"
    assert submitted.bulk.created_at == NOW
    assert submitted.bulk.created_by == world.principal.api_key.id
    recipients = await world.recipients(submitted.bulk)
    assert [(r.position, r.e164) for r in recipients] == [(0, phone(0)), (1, phone(1))]
    assert dict(recipients[0].variables_used) == {"order_id": "ORD-0", "status": "listo"}
    assert submitted.phone_number.phone_number_id == NUMBER


async def test_one_invalid_recipient_refuses_the_request_and_nothing_is_stored() -> None:
    world = await world_at()
    bad = [order(0), RecipientInput(phone="12", variables={}), order(2)]

    with pytest.raises(InvalidRecipients) as refused:
        await world.services.submit_bulk(world.principal, command(bad))

    assert [p.index for p in refused.value.problems] == [1]
    assert await stored_bulks(world) == 0


@pytest.mark.parametrize(
    ("overrides", "recipients", "error"),
    [
        ({"phone_number_id": "999"}, [], PhoneNumberNotFound),
        ({"template_name": "nope"}, [], TemplateNotFound),
        ({"language": "en"}, [], TemplateNotFound),
        ({"template_name": "promo"}, [], TemplateNotApproved),
        ({}, [], EmptyRecipients),
        ({"pacing": "fast"}, [order(0)], InvalidRequest),
    ],
)
async def test_each_check_comes_in_its_documented_order_and_stores_nothing(
    overrides: dict[str, object], recipients: list[RecipientInput], error: type[MindoError]
) -> None:
    world = await world_at()

    with pytest.raises(error):
        await world.services.submit_bulk(world.principal, command(recipients, **overrides))

    assert await stored_bulks(world) == 0


async def test_a_number_of_another_organisation_is_not_found() -> None:
    world = await world_at()
    stranger = await tenant(world.services, "Stranger", connect=False)

    with pytest.raises(PhoneNumberNotFound):
        await world.services.submit_bulk(stranger, command([order(0)]))


async def test_more_than_100000_recipients_are_refused() -> None:
    world = await world_at()

    with pytest.raises(TooManyRecipients):
        await world.services.submit_bulk(world.principal, command([order(0)] * 100_001))


async def test_quota_counts_only_recipients_new_to_the_window_and_plans_the_rest() -> None:
    world = await world_at(tier="TIER_50")
    await _messaged(world, [phone(1000 + i) for i in range(47)] + [phone(2)], hours_ago=23)

    submitted = await world.services.submit_bulk(
        world.principal, command([order(i) for i in range(5)])
    )

    quota = submitted.quota
    assert (quota.tier, quota.quota_total, quota.quota_available) == ("TIER_50", 50, 2)
    assert (quota.quota_needed, quota.can_send) == (4, False)
    planned = [r.not_before for r in await world.recipients(submitted.bulk)]
    # phone(2) was messaged already: it costs nothing and goes at once.
    first_refill = NOW - timedelta(hours=23) + timedelta(hours=24)
    assert planned == [None, None, None, first_refill, first_refill + timedelta(microseconds=1)]
    assert submitted.bulk.estimated_time_minutes == pytest.approx(60, abs=0.01)


async def test_an_unlimited_tier_plans_no_wait() -> None:
    world = await world_at(tier="TIER_UNLIMITED")
    await _messaged(world, [phone(1000 + i) for i in range(500)], hours_ago=1)

    submitted = await world.services.submit_bulk(
        world.principal, command([order(i) for i in range(3)])
    )

    assert submitted.quota.can_send
    assert submitted.quota.quota_available is None
    assert [r.not_before for r in await world.recipients(submitted.bulk)] == [None] * 3


async def test_the_estimate_follows_the_numbers_throughput_and_the_pacing() -> None:
    world = await world_at(tier="TIER_100000")

    at_max = await world.services.submit_bulk(
        world.principal, command([order(i) for i in range(801)])
    )
    capped = await world.services.submit_bulk(
        world.principal, command([order(i) for i in range(801)], pacing="10")
    )

    # 800 spacings at the rate the engine's gates achieve, plus starting and finishing.
    assert at_max.bulk.estimated_time_minutes == pytest.approx(minutes(800 * AT_80))
    # Capped below its share of the number, the second bulk is not slowed by the first.
    assert capped.bulk.estimated_time_minutes == pytest.approx(minutes(800 * AT_10))


async def test_a_bulk_on_a_busy_number_shares_it_with_what_the_others_still_send() -> None:
    world = await world_at(tier="TIER_100000")
    await world.services.submit_bulk(world.principal, command([order(i) for i in range(400)]))
    elsewhere = await world.services.submit_bulk(
        world.principal,
        command([order(i) for i in range(400)], phone_number_id=OTHER_NUMBER),
    )

    joining = await world.services.submit_bulk(
        world.principal, command([order(1000 + i) for i in range(801)])
    )

    # Half the number each until the first's 400 are out, then all of it: the 800 spacings
    # take as long as 1,200 alone. The bulk on the other number does not count.
    assert joining.bulk.estimated_time_minutes == pytest.approx(minutes(1200 * AT_80))
    assert elsewhere.bulk.estimated_time_minutes == pytest.approx(minutes(399 * AT_80))


def minutes(spacing_seconds: float) -> float:
    return (spacing_seconds + TIMING.overhead_seconds) / 60


async def test_a_submission_wakes_the_engine_once() -> None:
    world = await world_at()
    waker = CountingWaker()
    submit = SubmitBulk(
        accounts=world.stores.accounts,
        templates=world.stores.templates,
        bulks=world.stores.bulks,
        quota=world.stores.quota_ledger,
        idempotency=world.stores.idempotency,
        clock=world.clock,
        waker=waker,
    )

    await submit(world.principal, command([order(0)]))
    with pytest.raises(EmptyRecipients):
        await submit(world.principal, command([]))

    assert waker.wakes == 1


async def _messaged(world: BulkWorld, phones: list[str], *, hours_ago: float) -> None:
    found = await world.stores.accounts.find_sender(world.principal.organisation.id, NUMBER)
    assert found is not None
    number, account, _ = found
    template = await world.stores.templates.find_template(account.id, "order_update", "es")
    assert template is not None
    for i, e164 in enumerate(phones):
        sent_at = NOW - timedelta(hours=hours_ago) + timedelta(microseconds=i)
        await world.stores.messages.add_message(
            NewMessage(
                organisation_id=world.principal.organisation.id,
                phone_number_row_id=number.id,
                template_id=template.id,
                recipient_phone=e164,
                variables_used={},
                wamid=f"wamid.old{i}",
                status="sent",
                created_at=sent_at,
                sent_at=sent_at,
            )
        )


async def test_a_scheduled_bulk_plans_its_quota_from_send_at() -> None:
    world = await world_at(tier="TIER_50")
    # Sent 23 h ago: the window is full now, and empty again an hour from now.
    await _messaged(world, [phone(1000 + i) for i in range(50)], hours_ago=23)

    now = await world.services.submit_bulk(world.principal, command([order(0), order(1)]))
    later = await world.services.submit_bulk(
        world.principal,
        command([order(2), order(3)], send_at=(NOW + timedelta(hours=2)).isoformat()),
    )

    assert (now.bulk.status, now.quota.can_send, now.quota.quota_available) == ("QUEUED", False, 0)
    assert (later.bulk.status, later.bulk.send_at) == ("SCHEDULED", NOW + timedelta(hours=2))
    # The window is empty by then; the queued bulk's two recipients are owed their slots.
    assert (later.quota.can_send, later.quota.quota_available) == (True, 48)
    assert [r.not_before for r in await world.recipients(later.bulk)] == [None, None]
    # Counted from send_at: the sends alone, no quota wait.
    assert later.bulk.estimated_time_minutes < 1


async def test_a_send_at_in_another_offset_is_the_same_instant() -> None:
    world = await world_at()

    submitted = await world.services.submit_bulk(
        world.principal, command([order(0)], send_at="2026-11-24T10:30:00-03:00")
    )

    assert submitted.bulk.send_at == NOW + timedelta(minutes=90)
