"""``InMemoryContacts`` and ``InMemoryEventMarks``: the contact ports over the shared ``Tables``,
with ``SqlContacts``' semantics (the contract tests hold both to them)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import replace
from datetime import datetime

from mindo_core.adapters.memory.tables import Tables, aware
from mindo_core.contacts.model import Contact, ContactId, ContactSource, InboundRecord
from mindo_core.contacts.opt_out import OptChange
from mindo_core.delivery.webhook_payloads import InboundMessage
from mindo_core.domain.accounts import OrganisationId, PhoneNumber
from mindo_core.ports.bulks import Page
from mindo_core.ports.contacts import InboundReport, OptEvent

__all__ = ["InMemoryContacts", "InMemoryEventMarks"]


class InMemoryContacts:
    def __init__(self, tables: Tables) -> None:
        self._tables = tables

    async def record_inbound(
        self,
        messages: Sequence[InboundMessage],
        *,
        received_at: datetime,
        opt_changes: Mapping[str, OptChange] | None = None,
    ) -> InboundReport:
        received_at = aware(received_at)
        changes = opt_changes or {}
        recorded = duplicates = unmanaged = 0
        for message in messages:
            owner = self._owner(message.phone_number_id)
            if owner is None:
                unmanaged += 1
            elif message.wamid in self._tables.inbound:
                duplicates += 1
            else:
                self._record(message, *owner, received_at=received_at)
                self._opt(owner[0], message.sender_phone, message.at, changes.get(message.wamid))
                recorded += 1
        return InboundReport(recorded=recorded, duplicates=duplicates, unmanaged=unmanaged)

    def _owner(self, phone_number_id: str) -> tuple[OrganisationId, PhoneNumber] | None:
        for number in self._tables.numbers.values():
            if number.phone_number_id == phone_number_id:
                account = self._tables.accounts[number.business_account_id]
                return account.organisation_id, number
        return None

    def _record(
        self,
        message: InboundMessage,
        organisation_id: OrganisationId,
        number: PhoneNumber,
        *,
        received_at: datetime,
    ) -> None:
        contact = self._contact(organisation_id, message.sender_phone, "organic", message.at)
        at = aware(message.at)
        if contact.last_inbound_at is None or contact.last_inbound_at < at:
            contact = replace(
                contact,
                last_inbound_at=at,
                profile_name=message.profile_name or contact.profile_name,
            )
            self._tables.contacts[contact.id] = contact
        self._tables.inbound[message.wamid] = InboundRecord(
            wamid=message.wamid,
            organisation_id=organisation_id,
            phone_number_row_id=number.id,
            contact_id=contact.id,
            type=message.type,
            text=message.text,
            payload=message.payload,
            context_wamid=message.context_wamid,
            sent_at=at,
            received_at=received_at,
        )

    async def apply_opt_events(self, events: Sequence[OptEvent]) -> int:
        managed = 0
        for event in events:
            owner = self._owner(event.phone_number_id)
            if owner is None:
                continue
            self._contact(owner[0], event.phone, "outbound", event.at)
            self._opt(owner[0], event.phone, event.at, event.change)
            managed += 1
        return managed

    def _opt(
        self,
        organisation_id: OrganisationId,
        phone: str,
        at: datetime,
        change: OptChange | None,
    ) -> None:
        contact = self._tables.contacts[self._tables.contact_by_phone[(organisation_id, phone)]]
        at = aware(at)
        if change is None or (contact.opt_changed_at is not None and contact.opt_changed_at > at):
            return
        opted_out_at = at if change == "opt_out" else None
        if change == "opt_out" and contact.opted_out_at is not None:
            opted_out_at = contact.opted_out_at  # on the list already: since the first stop
        self._tables.contacts[contact.id] = replace(
            contact, opted_out_at=opted_out_at, opt_changed_at=at
        )

    def _contact(
        self, organisation_id: OrganisationId, phone: str, source: ContactSource, at: datetime
    ) -> Contact:
        return ensure_contact(self._tables, organisation_id, phone, source, at)

    async def opted_out_among(
        self, organisation_id: OrganisationId, phones: Sequence[str]
    ) -> frozenset[str]:
        found = (self._tables.contact_by_phone.get((organisation_id, p)) for p in phones)
        contacts = (self._tables.contacts[c] for c in found if c is not None)
        return frozenset(c.phone for c in contacts if c.opted_out)

    async def suppress(
        self, organisation_id: OrganisationId, phone: str, *, at: datetime
    ) -> Contact:
        at = aware(at)
        contact = self._contact(organisation_id, phone, "outbound", at)
        contact = replace(contact, opted_out_at=contact.opted_out_at or at, opt_changed_at=at)
        self._tables.contacts[contact.id] = contact
        return contact

    async def unsuppress(
        self, organisation_id: OrganisationId, phone: str, *, at: datetime
    ) -> bool:
        contact = await self.find_contact(organisation_id, phone)
        if contact is None or not contact.opted_out:
            return False
        self._tables.contacts[contact.id] = replace(
            contact, opted_out_at=None, opt_changed_at=aware(at)
        )
        return True

    async def suppressed(
        self, organisation_id: OrganisationId, *, offset: int, limit: int
    ) -> Page[Contact]:
        on_list = [
            c
            for c in self._tables.contacts.values()
            if c.organisation_id == organisation_id and c.opted_out_at is not None
        ]
        on_list.sort(key=lambda c: c.phone)
        on_list.sort(key=lambda c: c.opted_out_at or c.created_at, reverse=True)
        return Page(count=len(on_list), items=on_list[offset : offset + limit])

    async def find_contact(self, organisation_id: OrganisationId, phone: str) -> Contact | None:
        contact_id = self._tables.contact_by_phone.get((organisation_id, phone))
        return None if contact_id is None else self._tables.contacts[contact_id]

    async def inbound_messages(
        self, organisation_id: OrganisationId, phone: str, *, limit: int = 50
    ) -> Sequence[InboundRecord]:
        contact_id = self._tables.contact_by_phone.get((organisation_id, phone))
        theirs = [m for m in self._tables.inbound.values() if m.contact_id == contact_id]
        theirs.sort(key=lambda m: (m.sent_at, m.wamid), reverse=True)
        return theirs[:limit] if contact_id is not None else []


class InMemoryEventMarks:
    def __init__(self, tables: Tables) -> None:
        self._tables = tables

    async def mark_if_not_older(self, object_key: str, at: datetime) -> bool:
        at = aware(at)
        last = self._tables.event_marks.get(object_key)
        if last is not None and at < last:
            return False
        self._tables.event_marks[object_key] = at
        return True


def ensure_contact(
    tables: Tables,
    organisation_id: OrganisationId,
    phone: str,
    source: ContactSource,
    at: datetime,
) -> Contact:
    """The contact, created with ``source`` unless it exists (whose source never changes)."""
    existing = tables.contact_by_phone.get((organisation_id, phone))
    if existing is not None:
        return tables.contacts[existing]
    contact = Contact(
        id=ContactId(tables.next_id()),
        organisation_id=organisation_id,
        phone=phone,
        source=source,
        created_at=aware(at),
    )
    tables.contacts[contact.id] = contact
    tables.contact_by_phone[(organisation_id, phone)] = contact.id
    return contact
