"""Single sends and the organisation's 24 h quota: a new recipient beyond the limit is refused
before Meta, with when room frees; recipients already in the window still go; the room
running bulks were promised is theirs; and what business-accounts shows is what a send gets."""

from __future__ import annotations

import asyncio
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from typing import Any

import pytest

from mindo_core.adapters.memory import memory_stores
from mindo_core.adapters.memory.quota_ledger import ProcessQuotaLedger
from mindo_core.bootstrap import Services, wire
from mindo_core.bulks.submission import RecipientInput
from mindo_core.domain.accounts import OrganisationId
from mindo_core.domain.clock import FixedClock
from mindo_core.domain.errors import MetaError, MetaErrorDetail, QuotaExceeded
from mindo_core.domain.tiers import QUOTA_WINDOW
from mindo_core.ports.meta import MetaSendResult, PhoneNumberInfo
from mindo_core.services.authenticate import Principal
from mindo_core.services.send_message import SendMessageCommand
from mindo_core.services.submit_bulk import SubmitBulkCommand
from tests.fakes import WELCOME, FakeMeta, ReversingCipher

START = datetime(2026, 11, 24, 12, 0, tzinfo=UTC)
WABA = "waba-1"
NUMBER = "813497231850626"
LIMIT = 50  # TIER_50
VARIABLES = {"name": "Ana", "code": "A1"}


@dataclass
class GatedMeta(FakeMeta):
    """Holds every send until ``gate`` opens, so that sends can be in flight together."""

    gate: asyncio.Event = field(default_factory=asyncio.Event)

    async def send_template(
        self,
        *,
        phone_number_id: str,
        access_token: str,
        payload: Mapping[str, Any],
        max_seconds: float | None = None,
    ) -> MetaSendResult:
        await self.gate.wait()
        return await super().send_template(
            phone_number_id=phone_number_id, access_token=access_token, payload=payload
        )


@pytest.fixture
def clock() -> FixedClock:
    return FixedClock(START)


@pytest.fixture
def meta() -> GatedMeta:
    number = PhoneNumberInfo(
        phone_number_id=NUMBER,
        display_phone_number="+54 9 223 675-0780",
        verified_name="Demo",
        messaging_limit_tier="TIER_50",
    )
    gated = GatedMeta(
        phone_numbers={WABA: [number]}, templates={WABA: [WELCOME]}, tokens={WABA: "token"}
    )
    gated.gate.set()
    return gated


class StandingVersions:
    """Book versions that never move: only the refresh interval and holds refresh a reading."""

    async def version(self, organisation_id: OrganisationId) -> int:
        return 1


@pytest.fixture(params=["reads every time", "reuses its reading"])
async def services(meta: GatedMeta, clock: FixedClock, request: pytest.FixtureRequest) -> Services:
    """Every test twice: the ledger reading the whole book for each decision, and reusing a
    reading for 10 s (what SQLite and PostgreSQL do), which must answer the same."""
    stores = memory_stores()
    if request.param == "reuses its reading":
        ledger = ProcessQuotaLedger(stores.bulks, versions=StandingVersions())
        stores = replace(stores, quota_ledger=ledger)
    return wire(stores, meta, ReversingCipher(), clock)


@pytest.fixture
async def principal(services: Services) -> Principal:
    await services.organisations.create("Acme")
    issued = await services.api_keys.issue("Acme")
    await services.accounts.connect("Acme", waba_id=WABA, access_token="token")
    return await services.authenticator.authenticate(issued.plaintext, "send")


def phone(i: int) -> str:
    return f"+54911{i:08d}"


def to(recipient: str) -> SendMessageCommand:
    return SendMessageCommand(
        phone_number_id=NUMBER,
        template_name="welcome_message",
        recipient_phone=recipient,
        variables=VARIABLES,
        button_variables={"button_0": "X"},
    )


def bulk_of(recipients: list[str]) -> SubmitBulkCommand:
    return SubmitBulkCommand(
        phone_number_id=NUMBER,
        template_name="welcome_message",
        recipients=[
            RecipientInput(phone=p, variables=VARIABLES, button_variables={"button_0": "X"})
            for p in recipients
        ],
    )


async def fill_window(
    services: Services, principal: Principal, clock: FixedClock, count: int
) -> None:
    """``count`` recipients messaged one minute apart, the first at START."""
    for i in range(count):
        await services.send_message(principal, to(phone(i)))
        clock.advance(60)


async def room(services: Services, principal: Principal) -> int | None:
    """The room for a recipient new to the window, as business-accounts' ``canSend`` reads it."""
    overview = await services.business_overview(principal)
    return overview.accounts[0].phone_numbers[0].quota.room


async def test_a_new_recipient_beyond_the_limit_is_refused_before_meta_with_when_room_frees(
    services: Services, principal: Principal, clock: FixedClock, meta: GatedMeta
) -> None:
    await fill_window(services, principal, clock, LIMIT)
    assert await room(services, principal) == 0

    with pytest.raises(QuotaExceeded) as refused:
        await services.send_message(principal, to(phone(999)))

    # The first recipient's slot (messaged at START) frees 24 hours later.
    assert refused.value.frees_at == START + QUOTA_WINDOW
    assert refused.value.retry_after_seconds == (START + QUOTA_WINDOW - clock.now()).total_seconds()
    assert phone(999) not in refused.value.message  # no personal data in the error
    assert len(meta.sent) == LIMIT
    overview = await services.business_overview(principal)
    assert overview.accounts[0].phone_numbers[0].quota.unique_sent_24h == LIMIT


async def test_a_recipient_already_messaged_in_the_window_still_goes(
    services: Services, principal: Principal, clock: FixedClock, meta: GatedMeta
) -> None:
    await fill_window(services, principal, clock, LIMIT)

    sent = await services.send_message(principal, to(phone(7)))

    assert sent.wamid == f"wamid.fake{LIMIT + 1}"
    assert await room(services, principal) == 0


async def test_room_comes_back_when_the_oldest_entry_leaves_the_window(
    services: Services, principal: Principal, clock: FixedClock
) -> None:
    await fill_window(services, principal, clock, LIMIT)
    clock.advance((START + QUOTA_WINDOW - clock.now()).total_seconds())

    assert await room(services, principal) == 1
    await services.send_message(principal, to(phone(999)))
    assert await room(services, principal) == 0


async def test_room_promised_to_a_queued_bulk_is_not_taken_by_single_sends(
    services: Services, principal: Principal, clock: FixedClock
) -> None:
    await fill_window(services, principal, clock, LIMIT - 3)
    bulk = await services.submit_bulk(principal, bulk_of([phone(500 + i) for i in range(2)]))
    assert bulk.quota.can_send
    # 47 in the window, 2 promised to the bulk: one slot left.
    assert await room(services, principal) == 1

    await services.send_message(principal, to(phone(900)))
    with pytest.raises(QuotaExceeded):
        await services.send_message(principal, to(phone(901)))
    # A recipient the bulk will message costs nothing more.
    await services.send_message(principal, to(phone(500)))

    await services.bulk_queries.cancel(principal, bulk.bulk.id)
    # Cancelled, the bulk holds nothing: phone(500) is in the window now, phone(501) freed.
    assert await room(services, principal) == 1


async def test_two_concurrent_sends_never_both_take_the_last_slot(
    services: Services, principal: Principal, clock: FixedClock, meta: GatedMeta
) -> None:
    await fill_window(services, principal, clock, LIMIT - 1)
    meta.gate.clear()

    sends = [
        asyncio.create_task(services.send_message(principal, to(phone(900 + i)))) for i in range(2)
    ]
    await asyncio.sleep(0.01)
    # One is in flight at Meta, holding the last slot; business-accounts already shows it taken.
    assert await room(services, principal) == 0
    meta.gate.set()
    outcomes = await asyncio.gather(*sends, return_exceptions=True)

    assert sorted(type(o).__name__ for o in outcomes) == ["QuotaExceeded", "SentMessage"]
    assert len(meta.sent) == LIMIT


async def test_a_send_meta_refuses_gives_its_slot_back(
    services: Services, principal: Principal, clock: FixedClock, meta: GatedMeta
) -> None:
    await fill_window(services, principal, clock, LIMIT - 1)
    meta.next_errors.append(
        MetaError(MetaErrorDetail(meta_code=131026, title="No"), retryable=False)
    )

    with pytest.raises(MetaError):
        await services.send_message(principal, to(phone(900)))

    assert await room(services, principal) == 1
    await services.send_message(principal, to(phone(901)))


async def test_many_concurrent_new_recipients_get_exactly_the_room_left(
    services: Services, principal: Principal, clock: FixedClock, meta: GatedMeta
) -> None:
    await fill_window(services, principal, clock, LIMIT - 3)
    meta.gate.clear()

    sends = [
        asyncio.create_task(services.send_message(principal, to(phone(900 + i)))) for i in range(10)
    ]
    await asyncio.sleep(0.01)
    meta.gate.set()
    outcomes = await asyncio.gather(*sends, return_exceptions=True)

    assert sum(isinstance(o, QuotaExceeded) for o in outcomes) == 7
    assert len(meta.sent) == LIMIT


async def test_a_send_cancelled_while_its_room_is_decided_holds_none(
    services: Services, principal: Principal, clock: FixedClock, meta: GatedMeta
) -> None:
    await fill_window(services, principal, clock, LIMIT - 1)
    meta.gate.clear()

    cancelled = asyncio.create_task(services.send_message(principal, to(phone(900))))
    for _ in range(2):  # far enough to be waiting for its decision, not to reach Meta
        await asyncio.sleep(0)
    cancelled.cancel()
    with pytest.raises(asyncio.CancelledError):
        await cancelled
    await asyncio.sleep(0.01)
    meta.gate.set()

    assert await room(services, principal) == 1


async def test_a_bulk_accepted_while_a_send_is_in_flight_leaves_it_its_slot(
    services: Services, principal: Principal, clock: FixedClock, meta: GatedMeta
) -> None:
    await fill_window(services, principal, clock, LIMIT - 3)
    meta.gate.clear()
    in_flight = asyncio.create_task(services.send_message(principal, to(phone(900))))
    await asyncio.sleep(0.01)

    bulk = await services.submit_bulk(principal, bulk_of([phone(500 + i) for i in range(3)]))

    # 47 in the window and one slot held by the send at Meta: two of the three fit now.
    assert (bulk.quota.quota_available, bulk.quota.can_send) == (2, False)
    meta.gate.set()
    await in_flight
    assert await room(services, principal) == 0


async def test_a_bulk_accepted_while_another_is_queued_does_not_take_its_promise(
    services: Services, principal: Principal, clock: FixedClock
) -> None:
    await fill_window(services, principal, clock, LIMIT - 10)
    first = await services.submit_bulk(principal, bulk_of([phone(500 + i) for i in range(6)]))

    second = await services.submit_bulk(
        principal, bulk_of([phone(500), *(phone(600 + i) for i in range(6))])
    )

    assert (first.quota.quota_needed, first.quota.can_send) == (6, True)
    # phone(500) is the first bulk's already: it costs nothing. Of the other six, four fit.
    assert (second.quota.quota_needed, second.quota.quota_available) == (6, 4)
    assert not second.quota.can_send
    assert await room(services, principal) == 0
