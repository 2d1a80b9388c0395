"""Idempotent single sends: the same key and request answer what the first did, and Meta is
called at most once; another request with the key is refused; a send Meta never answered says
so truthfully; refusals before Meta leave the key unused."""

from __future__ import annotations

import asyncio
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from mindo_core.adapters.memory import memory_stores
from mindo_core.adapters.memory.tables import Tables
from mindo_core.bootstrap import Services, wire
from mindo_core.domain.clock import FixedClock
from mindo_core.domain.errors import (
    IdempotencyKeyInFlight,
    IdempotencyKeyReused,
    InvalidRequest,
    MetaError,
    MetaErrorDetail,
    MetaUnavailable,
    OutcomeUnknown,
    TemplateNotFound,
)
from mindo_core.ports.idempotency import NewIdempotencyKey
from mindo_core.ports.meta import MetaSendResult, PhoneNumberInfo
from mindo_core.ports.stores import Stores
from mindo_core.services.authenticate import Principal
from mindo_core.services.idempotent_sends import KeyedRequest
from mindo_core.services.send_message import SendMessageCommand, fingerprinted_fields
from tests.fakes import WELCOME, FakeMeta, ReversingCipher

NOW = datetime(2026, 11, 24, 12, 0, tzinfo=UTC)
WABA = "waba-1"
NUMBER = "813497231850626"
KEY = "order-1234-confirmation"


@dataclass
class CountingMeta(FakeMeta):
    """Counts every call (refused ones too) and can hold sends until ``gate`` opens."""

    calls: int = 0
    gate: asyncio.Event = field(default_factory=asyncio.Event)

    async def send_template(
        self,
        *,
        phone_number_id: str,
        access_token: str,
        payload: Mapping[str, Any],
        max_seconds: float | None = None,
    ) -> MetaSendResult:
        self.calls += 1
        await self.gate.wait()
        return await super().send_template(
            phone_number_id=phone_number_id, access_token=access_token, payload=payload
        )


@pytest.fixture
def clock() -> FixedClock:
    return FixedClock(NOW)


@pytest.fixture
def tables() -> Tables:
    return Tables()


@pytest.fixture
def stores(tables: Tables) -> Stores:
    return memory_stores(tables)


@pytest.fixture
def meta() -> CountingMeta:
    number = PhoneNumberInfo(
        phone_number_id=NUMBER, display_phone_number="+54 9 223 675-0780", verified_name="Demo"
    )
    counting = CountingMeta(
        phone_numbers={WABA: [number]}, templates={WABA: [WELCOME]}, tokens={WABA: "token"}
    )
    counting.gate.set()
    return counting


@pytest.fixture
async def services(stores: Stores, meta: CountingMeta, clock: FixedClock) -> Services:
    return wire(stores, meta, ReversingCipher(), clock)


@pytest.fixture
async def principal(services: Services, stores: Stores) -> Principal:
    await stores.organisations.create_organisation("Acme")
    issued = await services.api_keys.issue("Acme")
    await services.accounts.connect("Acme", waba_id=WABA, access_token="token")
    return await services.authenticator.authenticate(issued.plaintext, "send")


def send(name: str = "Ana", recipient: str = "+5491112345678") -> SendMessageCommand:
    return SendMessageCommand(
        phone_number_id=NUMBER,
        template_name="welcome_message",
        recipient_phone=recipient,
        variables={"name": name, "code": "A1"},
        button_variables={"button_0": "X"},
    )


async def test_the_same_key_and_request_answer_the_first_answer_and_meta_is_called_once(
    services: Services, principal: Principal, meta: CountingMeta, clock: FixedClock
) -> None:
    first = await services.send_message(principal, send(), idempotency_key=KEY)
    clock.advance(3600)

    again = await services.send_message(principal, send(), idempotency_key=KEY)

    assert meta.calls == 1
    assert (again.wamid, again.sent_at, again.record.id) == (first.wamid, NOW, first.record.id)
    assert (again.template_name, again.recipient_phone) == (first.template_name, "+5491112345678")


async def test_the_same_key_with_another_request_is_refused(
    services: Services, principal: Principal, meta: CountingMeta
) -> None:
    await services.send_message(principal, send(), idempotency_key=KEY)

    with pytest.raises(IdempotencyKeyReused):
        await services.send_message(principal, send(name="Bea"), idempotency_key=KEY)
    assert meta.calls == 1


async def test_identical_requests_racing_make_one_call_and_share_its_answer(
    services: Services, principal: Principal, meta: CountingMeta
) -> None:
    meta.gate.clear()
    racing = [
        asyncio.create_task(services.send_message(principal, send(), idempotency_key=KEY))
        for _ in range(5)
    ]
    different = asyncio.create_task(
        services.send_message(principal, send(name="Bea"), idempotency_key=KEY)
    )
    await asyncio.sleep(0.01)
    meta.gate.set()
    answers = await asyncio.gather(*racing)

    assert meta.calls == 1
    assert {a.wamid for a in answers} == {"wamid.fake1"}
    with pytest.raises(IdempotencyKeyReused):
        await different


async def test_a_send_meta_never_answered_is_an_unknown_outcome_for_the_key_from_then_on(
    services: Services, principal: Principal, meta: CountingMeta, stores: Stores
) -> None:
    meta.next_errors.append(MetaUnavailable("no answer before the timeout", maybe_sent=True))

    with pytest.raises(OutcomeUnknown) as first:
        await services.send_message(principal, send(), idempotency_key=KEY)
    with pytest.raises(OutcomeUnknown) as again:
        await services.send_message(principal, send(), idempotency_key=KEY)

    assert first.value.first_attempt_at == again.value.first_attempt_at == NOW
    assert meta.calls == 1
    assert "may or may not have been sent" in again.value.message


async def test_metas_refusal_is_answered_again_without_calling_meta(
    services: Services, principal: Principal, meta: CountingMeta
) -> None:
    refusal = MetaErrorDetail(meta_code=131026, title="Message undeliverable")
    meta.next_errors.append(MetaError(refusal, retryable=False))

    with pytest.raises(MetaError) as first:
        await services.send_message(principal, send(), idempotency_key=KEY)
    with pytest.raises(MetaError) as again:
        await services.send_message(principal, send(), idempotency_key=KEY)

    assert meta.calls == 1
    assert (again.value.meta_code, again.value.message) == (131026, first.value.message)


@pytest.mark.parametrize(
    "nothing_sent",
    [
        MetaError(MetaErrorDetail(meta_code=130429, title="Rate limit hit"), retryable=True),
        MetaUnavailable("ClientConnectorError: connection refused", maybe_sent=False),
    ],
)
async def test_a_refusal_that_sent_nothing_leaves_the_key_free_to_retry(
    services: Services,
    principal: Principal,
    meta: CountingMeta,
    nothing_sent: MetaError | MetaUnavailable,
) -> None:
    meta.next_errors.append(nothing_sent)
    with pytest.raises(type(nothing_sent)):
        await services.send_message(principal, send(), idempotency_key=KEY)

    retried = await services.send_message(principal, send(), idempotency_key=KEY)

    assert meta.calls == 2
    assert retried.wamid == "wamid.fake1"


async def test_a_request_refused_before_meta_does_not_use_the_key_up(
    services: Services, principal: Principal, meta: CountingMeta
) -> None:
    wrong_template = SendMessageCommand(
        phone_number_id=NUMBER, template_name="nope", recipient_phone="+5491112345678"
    )
    with pytest.raises(TemplateNotFound):
        await services.send_message(principal, wrong_template, idempotency_key=KEY)

    fixed = await services.send_message(principal, send(), idempotency_key=KEY)

    assert fixed.wamid == "wamid.fake1"
    assert meta.calls == 1


async def test_a_key_is_forgotten_after_24_hours(
    services: Services, principal: Principal, meta: CountingMeta, clock: FixedClock
) -> None:
    await services.send_message(principal, send(), idempotency_key=KEY)
    clock.advance(timedelta(hours=24).total_seconds())

    later = await services.send_message(principal, send(name="Bea"), idempotency_key=KEY)

    assert later.wamid == "wamid.fake2"
    assert meta.calls == 2


async def test_keys_belong_to_the_organisation(
    services: Services, principal: Principal, meta: CountingMeta, stores: Stores
) -> None:
    theirs_number = PhoneNumberInfo(
        phone_number_id="900", display_phone_number="+54 9 11 0000-0000", verified_name="Other"
    )
    meta.phone_numbers["waba-2"] = [theirs_number]
    meta.templates["waba-2"] = [WELCOME]
    meta.tokens["waba-2"] = "token-2"
    await stores.organisations.create_organisation("Other")
    issued = await services.api_keys.issue("Other")
    await services.accounts.connect("Other", waba_id="waba-2", access_token="token-2")
    other = await services.authenticator.authenticate(issued.plaintext, "send")
    await services.send_message(principal, send(), idempotency_key=KEY)

    theirs = await services.send_message(
        other, replace(send(name="Bea"), phone_number_id="900"), idempotency_key=KEY
    )

    assert theirs.wamid == "wamid.fake2"
    assert meta.calls == 2


@pytest.mark.parametrize("bad", ["", "x" * 256, "clave-ñ", "tab\there"])
async def test_a_malformed_key_is_refused_on_its_field(
    services: Services, principal: Principal, meta: CountingMeta, bad: str
) -> None:
    with pytest.raises(InvalidRequest) as refused:
        await services.send_message(principal, send(), idempotency_key=bad)

    assert list(refused.value.field_errors) == ["idempotency_key"]
    assert meta.calls == 0


async def test_another_processs_first_request_is_in_flight_then_its_outcome_unknown(
    services: Services, principal: Principal, meta: CountingMeta, stores: Stores, clock: FixedClock
) -> None:
    keyed = KeyedRequest.of(principal.organisation.id, KEY, fingerprinted_fields(send()))
    claimed = NewIdempotencyKey(
        organisation_id=keyed.organisation_id,
        key_hash=keyed.key_hash,
        fingerprint=keyed.fingerprint,
        created_at=NOW,
    )
    assert await stores.idempotency.claim_key(claimed, expired_at_or_before=NOW) is None

    with pytest.raises(IdempotencyKeyInFlight) as in_flight:
        await services.send_message(principal, send(), idempotency_key=KEY)
    clock.advance(timedelta(minutes=5).total_seconds())
    with pytest.raises(OutcomeUnknown):
        await services.send_message(principal, send(), idempotency_key=KEY)

    assert in_flight.value.retry_after_seconds == 1.0
    assert meta.calls == 0


async def test_the_store_keeps_no_key_or_personal_data_in_the_clear(
    services: Services, principal: Principal, tables: Tables
) -> None:
    await services.send_message(principal, send(), idempotency_key=KEY)

    (record,) = tables.idempotency_keys.values()

    kept = repr(record)
    assert KEY not in kept
    assert "5491112345678" not in kept
    assert "Ana" not in kept
