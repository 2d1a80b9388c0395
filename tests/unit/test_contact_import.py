"""Importing contacts: rows are checked and merged by phone before anything is stored, and a
single bad row refuses the whole import, naming the rows at fault."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from mindo_core.adapters.memory import memory_stores
from mindo_core.contacts.imports import (
    ContactEntry,
    ContactInput,
    EmptyImport,
    InvalidContacts,
    TooManyContacts,
    contact_list_name,
    prepare_import,
)
from mindo_core.domain.accounts import OrganisationId
from mindo_core.domain.clock import FixedClock
from mindo_core.domain.errors import InvalidRequest
from mindo_core.services.contact_import import ContactImport

ANA = "+5492235961983"


def test_phones_are_read_in_every_documented_form() -> None:
    rows = [
        ContactInput(phone="+54 223 15-596-1983"),
        ContactInput(phone="34 612 345 678"),
    ]

    prepared = prepare_import(rows)

    assert [entry.phone for entry in prepared.entries] == [ANA, "+34612345678"]
    assert prepared.merged == 0


def test_names_and_emails_are_trimmed_and_blank_ones_are_absent() -> None:
    rows = [
        ContactInput(phone=ANA, full_name="  Ana Gómez ", email=" "),
        ContactInput(phone="+34612345678", full_name=""),
    ]

    prepared = prepare_import(rows)

    assert prepared.entries == (
        ContactEntry(phone=ANA, full_name="Ana Gómez", email=None),
        ContactEntry(phone="+34612345678"),
    )


def test_rows_of_one_phone_are_one_contact_the_later_fields_winning() -> None:
    rows = [
        ContactInput(phone=ANA, full_name="Ana", email="old@example.com"),
        ContactInput(phone="+34612345678"),
        ContactInput(phone="5492235961983", email="new@example.com"),
    ]

    prepared = prepare_import(rows)

    assert prepared.entries[0] == ContactEntry(phone=ANA, full_name="Ana", email="new@example.com")
    assert (len(prepared.entries), prepared.merged) == (2, 1)


def test_one_bad_row_refuses_the_import_and_names_each_field_at_fault() -> None:
    rows = [
        ContactInput(phone=ANA),
        ContactInput(phone="abc", email="not-an-email"),
        ContactInput(phone="+34612345678", full_name="x" * 257),
    ]

    with pytest.raises(InvalidContacts) as refused:
        prepare_import(rows)

    assert refused.value.code == "invalid_contacts"
    assert set(refused.value.field_errors) == {
        "contacts.1.phone",
        "contacts.1.email",
        "contacts.2.full_name",
    }
    assert refused.value.field_errors["contacts.1.email"] == ["Enter a valid email address."]
    assert refused.value.message.startswith("2 of 3 contacts are invalid; nothing was imported.")


def test_a_file_full_of_bad_rows_names_only_the_first_ones() -> None:
    rows = [ContactInput(phone="nope") for _ in range(5_000)]

    with pytest.raises(InvalidContacts) as refused:
        prepare_import(rows)

    assert len(refused.value.field_errors) == 20
    assert "5,000 of 5,000 contacts are invalid" in refused.value.message


def test_an_empty_or_oversized_import_is_refused() -> None:
    with pytest.raises(EmptyImport):
        prepare_import([])
    with pytest.raises(TooManyContacts) as too_many:
        prepare_import([ContactInput(phone=ANA)] * 3, max_contacts=2)
    assert too_many.value.field_errors == {
        "contacts": [
            "Ensure this field has no more than 2 elements (3 given); import the file in parts."
        ]
    }


def test_a_list_name_is_trimmed_and_blank_means_no_list() -> None:
    assert contact_list_name("  VIP ") == "VIP"
    assert contact_list_name("   ") is None
    assert contact_list_name(None) is None
    with pytest.raises(InvalidRequest) as too_long:
        contact_list_name("x" * 201)
    assert list(too_long.value.field_errors) == ["contact_list_name"]
    with pytest.raises(InvalidRequest):
        contact_list_name("V\nIP")


async def test_a_refused_import_stores_nothing() -> None:
    stores = memory_stores()
    organisation = await stores.organisations.create_organisation("acme")
    imports = ContactImport(
        directory=stores.contact_directory, clock=FixedClock(datetime(2026, 12, 7, tzinfo=UTC))
    )

    with pytest.raises(InvalidContacts):
        await imports.import_contacts(
            organisation.id, [ContactInput(phone=ANA), ContactInput(phone="abc")], list_name="VIP"
        )

    assert await stores.contacts.find_contact(organisation.id, ANA) is None
    assert await imports.lists(OrganisationId(organisation.id)) == []
