"""What every store promises, whatever it keeps its data in: the in-memory store, a SQLite
file and PostgreSQL (when MINDO_TEST_POSTGRES_URL is set) run the same tests."""

from __future__ import annotations

import asyncio
from dataclasses import replace
from datetime import UTC, datetime, timedelta

import pytest

from mindo_core.access.api_keys import ApiKey
from mindo_core.domain.accounts import (
    BusinessAccountId,
    Organisation,
    OrganisationId,
)
from mindo_core.domain.errors import Conflict, OrganisationNotFound, TemplateNotFound
from mindo_core.domain.templates import TemplateId
from mindo_core.ports.stores import Stores
from tests.contract.tenants import (
    GREETING_COMPONENTS,
    MADRID_SUMMER,
    T0,
    TOKEN,
    number_info,
    sent_message,
    template_info,
    tenant,
)


async def add_key(stores: Stores, organisation: Organisation, key_hash: str, name: str) -> ApiKey:
    return await stores.api_keys.add_api_key(
        organisation_id=organisation.id,
        name=name,
        display_prefix="mindo_AbCdEf",
        key_hash=key_hash,
        scopes=frozenset({"send", "read"}),
        created_at=T0,
        expires_at=T0 + timedelta(days=30),
    )


# --------------------------------------------------------------------------------------------
# Organisations


async def test_an_organisation_is_found_by_name_and_by_id(stores: Stores) -> None:
    created = await stores.organisations.create_organisation("acme")

    assert created.name == "acme"
    assert await stores.organisations.find_organisation_by_name("acme") == created
    assert await stores.organisations.get_organisation(created.id) == created


async def test_unknown_organisations_are_none(stores: Stores) -> None:
    created = await stores.organisations.create_organisation("acme")

    assert await stores.organisations.find_organisation_by_name("ACME") is None
    assert await stores.organisations.get_organisation(OrganisationId(created.id + 1000)) is None


async def test_organisations_are_listed_in_creation_order(stores: Stores) -> None:
    assert await stores.organisations.list_organisations() == []
    globex = await stores.organisations.create_organisation("globex")
    acme = await stores.organisations.create_organisation("acme")

    assert await stores.organisations.list_organisations() == [globex, acme]


async def test_an_organisation_pauses_on_low_quality_until_told_to_continue(
    stores: Stores,
) -> None:
    acme = await stores.organisations.create_organisation("acme")
    globex = await stores.organisations.create_organisation("globex")

    carrying_on = await stores.organisations.set_quality_policy(acme.id, "continue")

    assert acme.quality_policy == "pause"
    assert carrying_on.quality_policy == "continue"
    assert await stores.organisations.get_organisation(acme.id) == carrying_on
    assert (await stores.organisations.find_organisation_by_name("globex")) == globex
    back = await stores.organisations.set_quality_policy(acme.id, "pause")
    assert back.quality_policy == "pause"
    with pytest.raises(OrganisationNotFound):
        await stores.organisations.set_quality_policy(OrganisationId(acme.id + 1000), "pause")


async def test_an_organisation_name_is_taken_once(stores: Stores) -> None:
    await stores.organisations.create_organisation("acme")

    with pytest.raises(Conflict):
        await stores.organisations.create_organisation("acme")
    assert await stores.organisations.find_organisation_by_name("acme") is not None


# --------------------------------------------------------------------------------------------
# API keys


async def test_an_api_key_is_found_by_its_hash_as_it_was_stored(stores: Stores) -> None:
    acme = await stores.organisations.create_organisation("acme")
    added = await add_key(stores, acme, "a" * 64, "ci")

    found = await stores.api_keys.find_api_key_by_hash("a" * 64)

    assert found == added
    assert found is not None
    assert found.scopes == frozenset({"send", "read"})
    assert found.expires_at == T0 + timedelta(days=30)
    assert found.revoked_at is None


async def test_an_unknown_hash_finds_no_key(stores: Stores) -> None:
    acme = await stores.organisations.create_organisation("acme")
    await add_key(stores, acme, "a" * 64, "ci")

    assert await stores.api_keys.find_api_key_by_hash("b" * 64) is None


async def test_a_key_hash_is_stored_once(stores: Stores) -> None:
    acme = await stores.organisations.create_organisation("acme")
    await add_key(stores, acme, "a" * 64, "ci")

    with pytest.raises(Conflict):
        await add_key(stores, acme, "a" * 64, "again")


async def test_keys_are_listed_per_organisation_in_creation_order(stores: Stores) -> None:
    acme = await stores.organisations.create_organisation("acme")
    other = await stores.organisations.create_organisation("other")
    first = await add_key(stores, acme, "a" * 64, "first")
    await add_key(stores, other, "b" * 64, "not acme's")
    second = await add_key(stores, acme, "c" * 64, "second")

    assert list(await stores.api_keys.list_api_keys(acme.id)) == [first, second]


async def test_a_revoked_key_keeps_the_time_it_was_first_revoked(stores: Stores) -> None:
    acme = await stores.organisations.create_organisation("acme")
    key = await add_key(stores, acme, "a" * 64, "ci")
    untouched = await add_key(stores, acme, "b" * 64, "other")

    await stores.api_keys.revoke_api_key(key.id, T0 + timedelta(hours=1))
    await stores.api_keys.revoke_api_key(key.id, T0 + timedelta(hours=2))

    revoked = await stores.api_keys.find_api_key_by_hash("a" * 64)
    assert revoked == replace(key, revoked_at=T0 + timedelta(hours=1))
    assert await stores.api_keys.find_api_key_by_hash("b" * 64) == untouched


# --------------------------------------------------------------------------------------------
# Business accounts


async def test_an_account_upsert_refreshes_name_and_token_in_place(stores: Stores) -> None:
    acme = await stores.organisations.create_organisation("acme")
    first = await stores.accounts.upsert_business_account(
        organisation_id=acme.id, waba_id="waba-1", name="Old", encrypted_access_token=b"old"
    )

    again = await stores.accounts.upsert_business_account(
        organisation_id=acme.id, waba_id="waba-1", name="New", encrypted_access_token=TOKEN
    )

    assert again == replace(first, name="New")
    assert await stores.accounts.encrypted_token(first.id) == TOKEN
    assert list(await stores.accounts.list_business_accounts(acme.id)) == [again]


async def test_an_account_of_another_organisation_is_not_taken_over(stores: Stores) -> None:
    acme = await tenant(stores, "acme")
    intruder = await stores.organisations.create_organisation("intruder")

    with pytest.raises(Conflict):
        await stores.accounts.upsert_business_account(
            organisation_id=intruder.id,
            waba_id=acme.account.waba_id,
            name="Mine now",
            encrypted_access_token=b"stolen",
        )
    assert await stores.accounts.encrypted_token(acme.account.id) == TOKEN + b"1"
    assert list(await stores.accounts.list_business_accounts(acme.organisation.id)) == [
        acme.account
    ]


async def test_accounts_are_listed_per_organisation_or_all_together(stores: Stores) -> None:
    acme = await tenant(stores, "acme", "1")
    other = await tenant(stores, "other", "2")

    assert list(await stores.accounts.list_business_accounts(acme.organisation.id)) == [
        acme.account
    ]
    assert list(await stores.accounts.list_business_accounts()) == [acme.account, other.account]


async def test_an_unknown_account_has_no_token(stores: Stores) -> None:
    acme = await tenant(stores)

    assert await stores.accounts.encrypted_token(BusinessAccountId(acme.account.id + 1000)) is None


# --------------------------------------------------------------------------------------------
# Phone numbers


async def test_the_first_number_of_an_account_is_its_primary_one(stores: Stores) -> None:
    acme = await tenant(stores)

    second = await stores.accounts.upsert_phone_number(acme.account.id, number_info("2000"))

    assert acme.number.is_primary
    assert not second.is_primary
    assert list(await stores.accounts.list_phone_numbers(acme.account.id)) == [acme.number, second]


async def test_a_number_upsert_refreshes_metas_fields_in_place(stores: Stores) -> None:
    acme = await tenant(stores)
    info = number_info(
        acme.number.phone_number_id,
        verified_name="Acme Renamed",
        quality_rating="YELLOW",
        messaging_limit_tier="TIER_10000",
        throughput_level="HIGH",
    )

    refreshed = await stores.accounts.upsert_phone_number(acme.account.id, info)

    assert refreshed == replace(
        acme.number,
        verified_name="Acme Renamed",
        quality_rating="YELLOW",
        messaging_limit_tier="TIER_10000",
        throughput_level="HIGH",
    )
    assert list(await stores.accounts.list_phone_numbers(acme.account.id)) == [refreshed]


async def test_a_number_of_another_account_is_not_moved(stores: Stores) -> None:
    acme = await tenant(stores, "acme", "1")
    other = await tenant(stores, "other", "2")

    with pytest.raises(Conflict):
        await stores.accounts.upsert_phone_number(
            other.account.id, number_info(acme.number.phone_number_id)
        )
    assert list(await stores.accounts.list_phone_numbers(acme.account.id)) == [acme.number]


async def test_a_sender_is_the_number_its_account_and_the_encrypted_token(stores: Stores) -> None:
    acme = await tenant(stores)

    found = await stores.accounts.find_sender(acme.organisation.id, acme.number.phone_number_id)

    assert found == (acme.number, acme.account, TOKEN + b"1")


async def test_another_organisations_number_is_no_sender(stores: Stores) -> None:
    acme = await tenant(stores, "acme", "1")
    other = await tenant(stores, "other", "2")

    assert (
        await stores.accounts.find_sender(other.organisation.id, acme.number.phone_number_id)
        is None
    )
    assert await stores.accounts.find_sender(acme.organisation.id, "no-such-number") is None


# --------------------------------------------------------------------------------------------
# Templates


async def test_a_new_template_has_metas_definition_and_no_defaults(stores: Stores) -> None:
    acme = await tenant(stores)

    assert acme.template.variable_defaults == {}
    assert list(acme.template.components) == GREETING_COMPONENTS
    assert acme.template.is_approved
    found = await stores.templates.find_template(acme.account.id, "greeting", "es")
    assert found == acme.template


async def test_a_template_refresh_updates_meta_fields_and_keeps_defaults(stores: Stores) -> None:
    acme = await tenant(stores)
    with_defaults = await stores.templates.set_variable_defaults(
        acme.template, {"nombre": "cliente"}
    )

    refreshed = await stores.templates.upsert_template(
        acme.account.id, template_info(status="PAUSED", meta_template_id="tmpl-2")
    )

    assert with_defaults.variable_defaults == {"nombre": "cliente"}
    assert refreshed == replace(
        acme.template,
        status="PAUSED",
        meta_template_id="tmpl-2",
        variable_defaults={"nombre": "cliente"},
    )
    assert await stores.templates.find_template(acme.account.id, "greeting", "es") == refreshed


async def test_templates_are_told_apart_by_account_name_and_language(stores: Stores) -> None:
    acme = await tenant(stores, "acme", "1")
    other = await tenant(stores, "other", "2")
    english = await stores.templates.upsert_template(
        acme.account.id, template_info(language="en_US")
    )

    assert await stores.templates.find_template(acme.account.id, "greeting", "en_US") == english
    assert await stores.templates.find_template(acme.account.id, "greeting", "pt_BR") is None
    assert (
        await stores.templates.find_template(other.account.id, "greeting", "es") == other.template
    )
    assert other.template.id != acme.template.id


async def test_templates_are_listed_by_name_then_language(stores: Stores) -> None:
    acme = await tenant(stores)
    english = await stores.templates.upsert_template(acme.account.id, template_info(language="en"))
    alert = await stores.templates.upsert_template(acme.account.id, template_info(name="alert"))

    listed = await stores.templates.list_templates(acme.account.id)

    assert list(listed) == [alert, english, acme.template]


async def test_defaults_for_a_template_that_is_gone_are_refused(stores: Stores) -> None:
    acme = await tenant(stores)
    ghost = replace(acme.template, id=TemplateId(acme.template.id + 1000))

    with pytest.raises(TemplateNotFound):
        await stores.templates.set_variable_defaults(ghost, {"nombre": "cliente"})


# --------------------------------------------------------------------------------------------
# Messages


async def test_a_message_is_found_by_wamid_as_it_was_stored(stores: Stores) -> None:
    acme = await tenant(stores)
    new = sent_message(acme)

    added = await stores.messages.add_message(new)

    assert added.wamid == "wamid.A"
    assert (added.status, added.sent_at) == ("sent", T0)
    assert (added.delivered_at, added.read_at, added.failed_at) == (None, None, None)
    assert added.variables_used == {"nombre": "Ana"}
    assert await stores.messages.find_message_by_wamid(acme.organisation.id, "wamid.A") == added


async def test_another_organisations_message_is_not_found(stores: Stores) -> None:
    acme = await tenant(stores, "acme", "1")
    other = await tenant(stores, "other", "2")
    await stores.messages.add_message(sent_message(acme))

    assert await stores.messages.find_message_by_wamid(other.organisation.id, "wamid.A") is None
    assert await stores.messages.find_message_by_wamid(acme.organisation.id, "wamid.B") is None


async def test_a_wamid_is_stored_once(stores: Stores) -> None:
    acme = await tenant(stores)
    await stores.messages.add_message(sent_message(acme))

    with pytest.raises(Conflict):
        await stores.messages.add_message(sent_message(acme, recipient_phone="+34699999999"))


async def test_messages_are_added_together_in_order(stores: Stores) -> None:
    acme = await tenant(stores)
    batch = [
        sent_message(acme, "wamid.G1"),
        sent_message(acme, None, status="failed", sent_at=None, failed_at=T0, error_code=131026),
        sent_message(acme, "wamid.G2", recipient_phone="+34699999999"),
    ]

    added = await stores.messages.add_messages(batch)

    assert [m.wamid for m in added] == ["wamid.G1", None, "wamid.G2"]
    assert len({m.id for m in added}) == 3
    # Each record carries its own row's id (SQLite's ids come back in no promised order).
    for record in (added[0], added[2]):
        assert record.wamid is not None
        found = await stores.messages.find_message_by_wamid(acme.organisation.id, record.wamid)
        assert found == record


async def test_recipients_meta_accepted_become_outbound_contacts_with_their_records(
    stores: Stores,
) -> None:
    acme = await tenant(stores)
    await stores.contacts.suppress(acme.organisation.id, "+34600000003", at=T0)
    later = T0 + timedelta(hours=1)
    await stores.messages.add_messages(
        [
            sent_message(acme, "wamid.C1", recipient_phone="+34600000001", created_at=later),
            sent_message(
                acme,
                None,
                recipient_phone="+34600000002",
                status="failed",
                sent_at=None,
                failed_at=later,
            ),
            sent_message(acme, "wamid.C3", recipient_phone="+34600000003", created_at=later),
            sent_message(acme, "wamid.C5", recipient_phone="+34600000001", created_at=later),
        ]
    )
    await stores.messages.add_message(
        sent_message(acme, "wamid.C4", recipient_phone="+34600000004", created_at=later)
    )

    org = acme.organisation.id
    new = await stores.contacts.find_contact(org, "+34600000001")
    assert new is not None
    assert (new.source, new.created_at) == ("outbound", later)
    assert await stores.contacts.find_contact(org, "+34600000002") is None
    known = await stores.contacts.find_contact(org, "+34600000003")
    assert known is not None
    assert (known.created_at, known.opted_out) == (T0, True)
    assert await stores.contacts.find_contact(org, "+34600000004") is not None


async def test_a_batch_with_a_known_wamid_stores_nothing(stores: Stores) -> None:
    acme = await tenant(stores)
    await stores.messages.add_message(sent_message(acme, "wamid.G1"))

    with pytest.raises(Conflict):
        await stores.messages.add_messages(
            [sent_message(acme, "wamid.G2"), sent_message(acme, "wamid.G1")]
        )

    assert await stores.messages.find_message_by_wamid(acme.organisation.id, "wamid.G2") is None


async def test_refused_messages_have_no_wamid_and_may_be_many(stores: Stores) -> None:
    acme = await tenant(stores)
    refused = sent_message(
        acme,
        wamid=None,
        status="failed",
        sent_at=None,
        failed_at=T0,
        error_code=131026,
        error_message="Message undeliverable",
    )

    first = await stores.messages.add_message(refused)
    second = await stores.messages.add_message(refused)

    assert first.id != second.id
    assert (second.status, second.wamid, second.failed_at) == ("failed", None, T0)
    assert (second.error_code, second.error_message) == (131026, "Message undeliverable")


async def test_messages_added_at_the_same_time_are_all_recorded(stores: Stores) -> None:
    acme = await tenant(stores)
    wamids = [f"wamid.{i}" for i in range(20)]

    added = await asyncio.gather(
        *(stores.messages.add_message(sent_message(acme, w)) for w in wamids)
    )

    assert len({message.id for message in added}) == len(wamids)
    for wamid in wamids:
        assert await stores.messages.find_message_by_wamid(acme.organisation.id, wamid) is not None


# --------------------------------------------------------------------------------------------
# Time


async def test_timestamps_come_back_as_the_same_instant_in_utc(stores: Stores) -> None:
    acme = await tenant(stores)
    local = datetime(2025, 7, 1, 14, 30, 15, 123456, tzinfo=MADRID_SUMMER)
    key = await stores.api_keys.add_api_key(
        organisation_id=acme.organisation.id,
        name="ci",
        display_prefix="mindo_AbCdEf",
        key_hash="a" * 64,
        scopes=frozenset({"read"}),
        created_at=local,
        expires_at=None,
    )
    await stores.messages.add_message(sent_message(acme, created_at=local, sent_at=local))

    stored_key = await stores.api_keys.find_api_key_by_hash("a" * 64)
    message = await stores.messages.find_message_by_wamid(acme.organisation.id, "wamid.A")

    expected = datetime(2025, 7, 1, 12, 30, 15, 123456, tzinfo=UTC)
    assert stored_key is not None
    assert message is not None
    for value in (key.created_at, stored_key.created_at, message.created_at, message.sent_at):
        assert value == expected
        assert value is not None
        assert value.utcoffset() == timedelta(0)


async def test_naive_timestamps_are_refused(stores: Stores) -> None:
    acme = await tenant(stores)

    with pytest.raises(ValueError, match="timezone-aware"):
        await stores.messages.add_message(sent_message(acme, created_at=datetime(2025, 1, 1, 12)))
    assert await stores.messages.find_message_by_wamid(acme.organisation.id, "wamid.A") is None
