"""``InMemoryContactDirectory``: imported contacts and contact lists over the shared ``Tables``,
with ``SqlContactDirectory``'s semantics (the contract tests hold both to them)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import replace
from datetime import datetime

from mindo_core.adapters.memory.tables import Tables, aware
from mindo_core.contacts.imports import ContactEntry, ImportReport
from mindo_core.contacts.model import Contact, ContactId, ContactList, ContactListId
from mindo_core.domain.accounts import OrganisationId

__all__ = ["InMemoryContactDirectory"]


class InMemoryContactDirectory:
    def __init__(self, tables: Tables) -> None:
        self._tables = tables

    async def import_contacts(
        self,
        organisation_id: OrganisationId,
        entries: Sequence[ContactEntry],
        *,
        list_name: str | None,
        merged: int,
        at: datetime,
    ) -> ImportReport:
        at = aware(at)
        listed = None if list_name is None else self._ensure_list(organisation_id, list_name, at)
        created = 0
        for entry in entries:
            key = (organisation_id, entry.phone)
            existing = self._tables.contact_by_phone.get(key)
            if existing is None:
                created += 1
                contact = Contact(
                    id=ContactId(self._tables.next_id()),
                    organisation_id=organisation_id,
                    phone=entry.phone,
                    source="imported",
                    created_at=at,
                )
                self._tables.contact_by_phone[key] = contact.id
            else:
                contact = self._tables.contacts[existing]
            self._tables.contacts[contact.id] = _imported(contact, entry, listed)
        return ImportReport(
            created=created,
            updated=len(entries) - created,
            merged=merged,
            contact_list=None if listed is None else self._sized(listed),
        )

    def _ensure_list(self, organisation_id: OrganisationId, name: str, at: datetime) -> ContactList:
        for listed in self._tables.contact_lists.values():
            if listed.organisation_id == organisation_id and listed.name == name:
                return listed
        listed = ContactList(
            id=ContactListId(self._tables.next_id()),
            organisation_id=organisation_id,
            name=name,
            created_at=at,
            size=0,
        )
        self._tables.contact_lists[listed.id] = listed
        return listed

    def _sized(self, listed: ContactList) -> ContactList:
        members = self._tables.contacts.values()
        return replace(listed, size=sum(1 for c in members if c.contact_list_id == listed.id))

    async def contact_lists(self, organisation_id: OrganisationId) -> Sequence[ContactList]:
        theirs = [
            self._sized(listed)
            for listed in self._tables.contact_lists.values()
            if listed.organisation_id == organisation_id
        ]
        return sorted(theirs, key=lambda listed: listed.name)


def _imported(contact: Contact, entry: ContactEntry, listed: ContactList | None) -> Contact:
    return replace(
        contact,
        full_name=entry.full_name or contact.full_name,
        email=entry.email or contact.email,
        contact_list_id=contact.contact_list_id if listed is None else listed.id,
        contact_list_name=contact.contact_list_name if listed is None else listed.name,
    )
