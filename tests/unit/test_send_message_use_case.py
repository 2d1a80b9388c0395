"""Sending one message: everything is checked before Meta is called, and every outcome is kept."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from mindo_core.adapters.memory import memory_stores
from mindo_core.bootstrap import Services, wire
from mindo_core.domain.clock import FixedClock
from mindo_core.domain.errors import (
    InvalidPhoneNumber,
    MetaError,
    MetaErrorDetail,
    PhoneNumberNotFound,
    TemplateNotApproved,
    TemplateNotFound,
    TemplateParameterError,
)
from mindo_core.ports.meta import PhoneNumberInfo
from mindo_core.ports.stores import Stores
from mindo_core.services.authenticate import Principal
from mindo_core.services.send_message import SendMessageCommand
from tests.fakes import PAUSED, WELCOME, FakeMeta, ReversingCipher

NOW = datetime(2026, 11, 24, 12, 0, tzinfo=UTC)
WABA = "waba-1"
NUMBER = "813497231850626"


@pytest.fixture
def meta() -> FakeMeta:
    return FakeMeta(
        phone_numbers={
            WABA: [
                PhoneNumberInfo(
                    phone_number_id=NUMBER,
                    display_phone_number="+54 9 223 675-0780",
                    verified_name="Demo",
                )
            ]
        },
        templates={WABA: [WELCOME, PAUSED]},
        tokens={WABA: "secret-token"},
    )


@pytest.fixture
def stores() -> Stores:
    return memory_stores()


@pytest.fixture
async def services(meta: FakeMeta, stores: Stores) -> Services:
    return wire(stores, meta, ReversingCipher(), FixedClock(NOW))


async def _tenant(services: Services, name: str) -> Principal:
    await services.organisations.create(name)
    issued = await services.api_keys.issue(name)
    return await services.authenticator.authenticate(issued.plaintext, "send")


@pytest.fixture
async def principal(services: Services) -> Principal:
    principal = await _tenant(services, "Acme")
    await services.accounts.connect("Acme", waba_id=WABA, access_token="secret-token")
    return principal


def command(**overrides: object) -> SendMessageCommand:
    fields: dict[str, object] = {
        "phone_number_id": NUMBER,
        "template_name": "welcome_message",
        "recipient_phone": "+5491112345678",
        "variables": {"name": "Juan Perez", "code": "ABC123"},
        "button_variables": {"button_0": "ABC-123"},
    }
    fields.update(overrides)
    return SendMessageCommand(**fields)  # type: ignore[arg-type]


async def test_a_valid_message_reaches_meta_once_and_is_recorded_as_sent(
    services: Services, principal: Principal, meta: FakeMeta, stores: Stores
) -> None:
    sent = await services.send_message(principal, command())

    assert len(meta.sent) == 1
    assert meta.sent[0].access_token == "secret-token"
    assert meta.sent[0].payload["to"] == "5491112345678"
    assert sent.wamid == "wamid.fake1"
    assert sent.recipient_phone == "+5491112345678"
    stored = await stores.messages.find_message_by_wamid(principal.organisation.id, sent.wamid)
    assert stored is not None
    assert stored.status == "sent"
    assert stored.sent_at == NOW
    assert dict(stored.variables_used) == {
        "name": "Juan Perez",
        "code": "ABC123",
        "button_0": "ABC-123",
    }


@pytest.mark.parametrize(
    ("overrides", "error"),
    [
        ({"recipient_phone": "12"}, InvalidPhoneNumber),
        ({"phone_number_id": "999"}, PhoneNumberNotFound),
        ({"template_name": "nope"}, TemplateNotFound),
        ({"language": "en"}, TemplateNotFound),
        ({"template_name": "promo", "variables": {}, "button_variables": {}}, TemplateNotApproved),
        ({"variables": {"name": "Juan"}}, TemplateParameterError),
        ({"variables": {"name": "Juan\nPerez", "code": "A"}}, TemplateParameterError),
    ],
)
async def test_bad_input_is_refused_before_meta_is_called(
    services: Services,
    principal: Principal,
    meta: FakeMeta,
    overrides: dict[str, object],
    error: type[Exception],
) -> None:
    with pytest.raises(error):
        await services.send_message(principal, command(**overrides))
    assert meta.sent == []


async def test_an_invalid_recipient_is_reported_on_the_recipient_phone_field(
    services: Services, principal: Principal
) -> None:
    with pytest.raises(InvalidPhoneNumber) as refused:
        await services.send_message(principal, command(recipient_phone="hello"))
    assert list(refused.value.field_errors) == ["recipient_phone"]


async def test_another_organisations_number_answers_as_if_it_did_not_exist(
    services: Services, principal: Principal, meta: FakeMeta
) -> None:
    intruder = await _tenant(services, "Intruder")
    with pytest.raises(PhoneNumberNotFound):
        await services.send_message(intruder, command())
    assert meta.sent == []


async def test_a_refusal_by_meta_reaches_the_caller_with_metas_code(
    services: Services, principal: Principal, meta: FakeMeta
) -> None:
    refusal = MetaError(MetaErrorDetail(meta_code=131026, title="Undeliverable"), retryable=False)
    meta.next_errors.append(refusal)

    with pytest.raises(MetaError) as raised:
        await services.send_message(principal, command())

    assert raised.value.meta_code == 131026
    assert meta.sent == []


async def test_a_recipient_meta_accepted_becomes_an_outbound_contact(
    services: Services, principal: Principal
) -> None:
    await services.send_message(principal, command(recipient_phone="+54 9 11 1234-5678"))

    found = await services.contact_lookup(principal, "5491112345678")
    assert found.contact is not None
    assert found.contact.source == "outbound"
    assert found.contact.created_at == NOW
    assert not found.window.has_replied
    assert not found.window.active
