"""Deadlines: a send never calls Meta once the caller's deadline has passed, and the call it
makes is bounded by the time the caller has left; Meta's timeouts are set per call kind."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime
from typing import Any

import pytest

from mindo_core.adapters.memory import memory_stores
from mindo_core.adapters.memory.tables import Tables
from mindo_core.bootstrap import Services, wire
from mindo_core.domain.clock import FixedClock
from mindo_core.domain.errors import DeadlineExceeded, InvalidRequest
from mindo_core.ports.meta import MetaSendResult, PhoneNumberInfo
from mindo_core.services.authenticate import Principal
from mindo_core.services.send_message import SendMessageCommand
from mindo_core.settings import Settings
from tests.fakes import WELCOME, FakeMeta, ReversingCipher

NOW = datetime(2026, 11, 24, 12, 0, tzinfo=UTC)
WABA = "waba-1"
NUMBER = "813497231850626"
SEND = SendMessageCommand(
    phone_number_id=NUMBER,
    template_name="welcome_message",
    recipient_phone="+5491112345678",
    variables={"name": "Ana", "code": "A1"},
    button_variables={"button_0": "X"},
)


@pytest.fixture
def meta() -> FakeMeta:
    number = PhoneNumberInfo(
        phone_number_id=NUMBER, display_phone_number="+54 9 223 675-0780", verified_name="Demo"
    )
    return FakeMeta(
        phone_numbers={WABA: [number]}, templates={WABA: [WELCOME]}, tokens={WABA: "token"}
    )


@pytest.fixture
async def services(meta: FakeMeta) -> Services:
    return wire(memory_stores(), meta, ReversingCipher(), FixedClock(NOW))


@pytest.fixture
async def principal(services: Services) -> Principal:
    await services.organisations.create("Acme")
    issued = await services.api_keys.issue("Acme")
    await services.accounts.connect("Acme", waba_id=WABA, access_token="token")
    return await services.authenticator.authenticate(issued.plaintext, "send")


@pytest.mark.parametrize("time_remaining", [0.0, -1.0])
async def test_no_call_to_meta_starts_once_the_deadline_has_passed(
    services: Services, principal: Principal, meta: FakeMeta, time_remaining: float
) -> None:
    with pytest.raises(DeadlineExceeded):
        await services.send_message(principal, SEND, time_remaining=time_remaining)

    assert meta.timeouts == []


async def test_a_deadline_that_passed_leaves_the_idempotency_key_unused(
    services: Services, principal: Principal, meta: FakeMeta
) -> None:
    with pytest.raises(DeadlineExceeded):
        await services.send_message(principal, SEND, idempotency_key="k", time_remaining=0.0)

    sent = await services.send_message(principal, SEND, idempotency_key="k")

    assert sent.wamid == "wamid.fake1"


async def test_the_call_to_meta_is_bounded_by_the_time_the_caller_has_left(
    services: Services, principal: Principal, meta: FakeMeta
) -> None:
    await services.send_message(principal, SEND, time_remaining=2.5)
    await services.send_message(principal, SEND)

    bounded, unbounded = meta.timeouts
    assert bounded is not None
    assert 2.0 < bounded <= 2.5
    assert unbounded is None  # the gateway's own send timeout applies


def test_metas_timeouts_are_set_per_call_kind() -> None:
    settings = Settings.from_env({"MINDO_META_TIMEOUT_S": "20", "MINDO_META_SEND_TIMEOUT_S": "8"})

    assert settings.meta_timeout_seconds == 20
    assert settings.meta_send_timeout_seconds == 8
    assert settings.meta_list_timeout_seconds is None  # MINDO_META_TIMEOUT_S applies
    with pytest.raises(InvalidRequest, match="MINDO_META_LIST_TIMEOUT_S"):
        Settings.from_env({"MINDO_META_LIST_TIMEOUT_S": "0"})


class HangingMeta(FakeMeta):
    """Never answers a send: its caller gives up first."""

    async def send_template(self, **kwargs: Any) -> MetaSendResult:
        await asyncio.Event().wait()
        raise AssertionError("never answered")


async def test_a_send_whose_caller_stops_waiting_mid_call_is_recorded_as_unknown() -> None:
    number = PhoneNumberInfo(
        phone_number_id=NUMBER, display_phone_number="+54 9 223 675-0780", verified_name="Demo"
    )
    meta = HangingMeta(
        phone_numbers={WABA: [number]}, templates={WABA: [WELCOME]}, tokens={WABA: "token"}
    )
    tables = Tables()
    stores = memory_stores(tables)
    services = wire(stores, meta, ReversingCipher(), FixedClock(NOW))
    await stores.organisations.create_organisation("Acme")
    issued = await services.api_keys.issue("Acme")
    await services.accounts.connect("Acme", waba_id=WABA, access_token="token")
    caller = await services.authenticator.authenticate(issued.plaintext, "send")

    sending = asyncio.create_task(services.send_message(caller, SEND))
    await asyncio.sleep(0.01)
    sending.cancel()
    with pytest.raises(asyncio.CancelledError):
        await sending
    await asyncio.sleep(0.01)

    (record,) = tables.messages.values()
    assert (record.status, record.wamid) == ("failed", None)
    assert record.error_message is not None
    assert record.error_message.startswith("Outcome unknown")
