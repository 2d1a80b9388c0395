"""What every contact directory promises (memory, a SQLite file, PostgreSQL): an import creates
the contacts it does not know (``imported``) and sets only the given fields of those it does;
a named list is created once per organisation and holds the contacts last imported into it."""

from __future__ import annotations

import asyncio
from datetime import timedelta

from mindo_core.contacts.imports import ContactEntry
from mindo_core.delivery.webhook_payloads import InboundMessage
from mindo_core.ports.stores import Stores
from tests.contract.tenants import T0, tenant

ANA = "+5492235961983"
BEA = "+34612345678"
CARLOS = "+5491122334455"


async def test_an_import_creates_imported_contacts_with_their_fields(stores: Stores) -> None:
    org = (await tenant(stores)).organisation.id
    entries = [
        ContactEntry(phone=ANA, full_name="Ana Gómez", email="ana@example.com"),
        ContactEntry(phone=BEA),
    ]

    report = await stores.contact_directory.import_contacts(
        org, entries, list_name=None, merged=1, at=T0
    )

    assert (report.created, report.updated, report.merged) == (2, 0, 1)
    assert report.contact_list is None
    ana = await stores.contacts.find_contact(org, ANA)
    assert ana is not None
    assert (ana.source, ana.full_name, ana.email, ana.created_at) == (
        "imported",
        "Ana Gómez",
        "ana@example.com",
        T0,
    )
    bea = await stores.contacts.find_contact(org, BEA)
    assert bea is not None
    assert (bea.full_name, bea.email, bea.contact_list_id) == (None, None, None)


async def test_importing_a_known_contact_sets_only_the_fields_given(stores: Stores) -> None:
    owner = await tenant(stores)
    org = owner.organisation.id
    written = InboundMessage(
        wamid="wamid.I1", phone_number_id="101", sender_phone=ANA, at=T0, type="text", text="Hola"
    )
    await stores.contacts.record_inbound([written], received_at=T0)
    directory = stores.contact_directory
    await directory.import_contacts(
        org, [ContactEntry(phone=ANA, full_name="Ana")], list_name=None, merged=0, at=T0
    )

    later = T0 + timedelta(days=1)
    report = await directory.import_contacts(
        org, [ContactEntry(phone=ANA, email="ana@example.com")], list_name=None, merged=0, at=later
    )

    assert (report.created, report.updated) == (0, 1)
    ana = await stores.contacts.find_contact(org, ANA)
    assert ana is not None
    # The name stays, the source and the creation are the first ones, the reply is kept.
    assert (ana.full_name, ana.email) == ("Ana", "ana@example.com")
    assert (ana.source, ana.created_at, ana.last_inbound_at) == ("organic", T0, T0)


async def test_a_named_list_is_created_once_and_holds_what_was_imported_into_it(
    stores: Stores,
) -> None:
    org = (await tenant(stores)).organisation.id
    directory = stores.contact_directory
    first = await directory.import_contacts(
        org, [ContactEntry(phone=ANA), ContactEntry(phone=BEA)], list_name="VIP", merged=0, at=T0
    )

    again = await directory.import_contacts(
        org, [ContactEntry(phone=CARLOS)], list_name="VIP", merged=0, at=T0 + timedelta(hours=1)
    )

    assert first.contact_list is not None
    assert again.contact_list is not None
    assert again.contact_list.id == first.contact_list.id
    assert (again.contact_list.name, again.contact_list.size) == ("VIP", 3)
    assert again.contact_list.created_at == T0
    carlos = await stores.contacts.find_contact(org, CARLOS)
    assert carlos is not None
    assert (carlos.contact_list_id, carlos.contact_list_name) == (first.contact_list.id, "VIP")


async def test_a_contact_imported_into_another_list_moves_to_it(stores: Stores) -> None:
    org = (await tenant(stores)).organisation.id
    directory = stores.contact_directory
    await directory.import_contacts(
        org, [ContactEntry(phone=ANA), ContactEntry(phone=BEA)], list_name="VIP", merged=0, at=T0
    )
    await directory.import_contacts(
        org, [ContactEntry(phone=ANA)], list_name="Newsletter", merged=0, at=T0
    )
    # An import naming no list leaves each contact where it is.
    await directory.import_contacts(org, [ContactEntry(phone=BEA)], list_name=None, merged=0, at=T0)

    lists = await directory.contact_lists(org)

    assert [(listed.name, listed.size) for listed in lists] == [("Newsletter", 1), ("VIP", 1)]
    ana = await stores.contacts.find_contact(org, ANA)
    assert ana is not None
    assert ana.contact_list_name == "Newsletter"


async def test_lists_are_the_organisations_own(stores: Stores) -> None:
    acme = (await tenant(stores)).organisation.id
    globex = (await tenant(stores, name="Globex", suffix="2")).organisation.id
    directory = stores.contact_directory
    await directory.import_contacts(
        acme, [ContactEntry(phone=ANA)], list_name="VIP", merged=0, at=T0
    )

    theirs = await directory.import_contacts(
        globex, [ContactEntry(phone=ANA)], list_name="VIP", merged=0, at=T0
    )

    assert theirs.created == 1
    assert theirs.contact_list is not None
    assert theirs.contact_list.size == 1
    assert [listed.size for listed in await directory.contact_lists(acme)] == [1]
    assert await directory.contact_lists(globex) == [theirs.contact_list]


async def test_two_imports_racing_on_one_list_and_phone_both_land(stores: Stores) -> None:
    org = (await tenant(stores)).organisation.id
    directory = stores.contact_directory

    reports = await asyncio.gather(
        directory.import_contacts(
            org, [ContactEntry(phone=ANA, full_name="Ana")], list_name="VIP", merged=0, at=T0
        ),
        directory.import_contacts(
            org, [ContactEntry(phone=ANA, email="a@x.io")], list_name="VIP", merged=0, at=T0
        ),
    )

    lists = [report.contact_list for report in reports]
    assert lists[0] is not None
    assert lists[1] is not None
    assert lists[0].id == lists[1].id
    ana = await stores.contacts.find_contact(org, ANA)
    assert ana is not None
    assert (ana.full_name, ana.email, ana.contact_list_name) == ("Ana", "a@x.io", "VIP")


async def test_an_import_of_thousands_lands_whole(stores: Stores) -> None:
    org = (await tenant(stores)).organisation.id
    entries = [ContactEntry(phone=f"+3461{n:07d}") for n in range(2_345)]

    report = await stores.contact_directory.import_contacts(
        org, entries, list_name="All", merged=0, at=T0
    )

    assert (report.created, report.updated) == (2_345, 0)
    assert report.contact_list is not None
    assert report.contact_list.size == 2_345
