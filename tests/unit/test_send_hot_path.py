"""The single send's hot path: the sender and its compiled template are read at most once a
second, and a change to them (a template paused) is honoured within that second."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime

import pytest

from mindo_core.adapters.memory import memory_stores
from mindo_core.bootstrap import Services, wire
from mindo_core.domain.clock import FixedClock
from mindo_core.domain.errors import TemplateNotApproved
from mindo_core.ports.meta import PhoneNumberInfo
from mindo_core.ports.stores import Stores
from mindo_core.ports.templates import TemplateStore
from mindo_core.services.authenticate import Principal
from mindo_core.services.send_message import SendMessageCommand
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


class CountingTemplates:
    """The template store, counting template lookups."""

    def __init__(self, templates: TemplateStore) -> None:
        self._templates = templates
        self.lookups = 0

    def __getattr__(self, name: str) -> object:
        return getattr(self._templates, name)

    async def find_template(self, *args: object, **kwargs: object) -> object:
        self.lookups += 1
        return await self._templates.find_template(*args, **kwargs)  # type: ignore[arg-type]


@pytest.fixture
def clock() -> FixedClock:
    return FixedClock(NOW)


@pytest.fixture
def meta() -> FakeMeta:
    number = PhoneNumberInfo(
        phone_number_id=NUMBER,
        display_phone_number="+54 9 223 675-0780",
        verified_name="Demo",
        messaging_limit_tier="TIER_UNLIMITED",
    )
    return FakeMeta(
        phone_numbers={WABA: [number]}, templates={WABA: [WELCOME]}, tokens={WABA: "token"}
    )


@pytest.fixture
def stores() -> Stores:
    return memory_stores()


@pytest.fixture
def templates(stores: Stores) -> CountingTemplates:
    return CountingTemplates(stores.templates)


@pytest.fixture
async def services(
    stores: Stores, templates: CountingTemplates, meta: FakeMeta, clock: FixedClock
) -> Services:
    counted = replace(stores, templates=templates)  # type: ignore[arg-type]
    return wire(counted, meta, ReversingCipher(), clock)


@pytest.fixture
async def principal(services: Services, stores: Stores) -> Principal:
    await stores.organisations.create_organisation("Acme")
    issued = await services.api_keys.issue("Acme")
    await services.accounts.connect("Acme", waba_id=WABA, access_token="token")
    return await services.authenticator.authenticate(issued.plaintext, "send")


async def test_the_template_is_read_once_a_second_however_many_sends(
    services: Services, principal: Principal, templates: CountingTemplates, clock: FixedClock
) -> None:
    for _ in range(20):
        await services.send_message(principal, SEND)
    clock.advance(1.0)
    await services.send_message(principal, SEND)

    assert templates.lookups == 2


async def test_a_paused_template_is_refused_within_a_second(
    services: Services, principal: Principal, meta: FakeMeta, clock: FixedClock
) -> None:
    await services.send_message(principal, SEND)
    meta.templates[WABA] = [replace(WELCOME, status="PAUSED")]
    await services.accounts.connect("Acme", waba_id=WABA, access_token="token")

    clock.advance(1.0)

    with pytest.raises(TemplateNotApproved):
        await services.send_message(principal, SEND)
