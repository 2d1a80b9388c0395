"""Contacts and the inbound messages that create them; the last applied account events."""

from __future__ import annotations

from collections.abc import Collection, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Protocol

from mindo_core.contacts.imports import ContactEntry, ImportReport
from mindo_core.contacts.model import Contact, ContactList, InboundRecord
from mindo_core.contacts.opt_out import OptChange, OptOutKeywords, OptOutPolicy
from mindo_core.delivery.webhook_payloads import InboundMessage
from mindo_core.domain.accounts import OrganisationId
from mindo_core.ports.bulks import Page


@dataclass(frozen=True, kw_only=True)
class OptEvent:
    """Meta says a user stopped or resumed marketing messages from one of the numbers."""

    phone_number_id: str
    phone: str  # E.164
    at: datetime
    change: OptChange


@dataclass(frozen=True, kw_only=True)
class InboundReport:
    recorded: int  # new messages stored
    duplicates: int  # already stored (Meta posts again) or twice in the batch
    unmanaged: int  # to a number no organisation of this store has


class ContactStore(Protocol):
    async def record_inbound(
        self,
        messages: Sequence[InboundMessage],
        *,
        received_at: datetime,
        opt_changes: Mapping[str, OptChange] | None = None,
    ) -> InboundReport:
        """One transaction for the batch. Each message is stored once (keyed on its wamid) for
        the organisation owning its ``phone_number_id``; its sender becomes a contact of that
        organisation (``organic``) unless they are one. The contact's ``last_inbound_at`` is
        the latest message's time whatever the order of arrival, and its profile name the one
        that message carried (when it carried one). A new message whose wamid is in
        ``opt_changes`` opts its contact out (``opted_out_at`` = its time) or back in, unless
        the contact's last opt change came from a later message."""
        ...

    async def apply_opt_events(self, events: Sequence[OptEvent]) -> int:
        """One transaction: each event opts the contact of the organisation owning its number
        out or in (the contact is created, ``outbound``, if it is none), unless their last opt
        change is later. Events for numbers no organisation has are ignored. Returns how many
        were for a managed number."""
        ...

    async def opted_out_among(
        self, organisation_id: OrganisationId, phones: Sequence[str]
    ) -> frozenset[str]:
        """Those of the E.164 ``phones`` on the organisation's suppression list."""
        ...

    async def suppress(
        self, organisation_id: OrganisationId, phone: str, *, at: datetime
    ) -> Contact:
        """Puts the E.164 ``phone`` on the organisation's suppression list at ``at`` (creating
        the contact, ``outbound``, if it is none), as a stop word would; already on it, it stays
        there since when it was first put. Returns the contact as it now is."""
        ...

    async def unsuppress(
        self, organisation_id: OrganisationId, phone: str, *, at: datetime
    ) -> bool:
        """Takes the phone off the organisation's suppression list, as a start word would;
        False (nothing changed) when it was not on it."""
        ...

    async def suppressed(
        self, organisation_id: OrganisationId, *, offset: int, limit: int
    ) -> Page[Contact]:
        """The organisation's contacts on its suppression list, latest put on first (then by
        phone); ``count`` is all of them."""
        ...

    async def find_contact(self, organisation_id: OrganisationId, phone: str) -> Contact | None:
        """The organisation's contact with this E.164 phone; another organisation's is None."""
        ...

    async def inbound_messages(
        self, organisation_id: OrganisationId, phone: str, *, limit: int = 50
    ) -> Sequence[InboundRecord]:
        """What the contact wrote to the organisation, newest first (by Meta's time)."""
        ...


class ContactDirectory(Protocol):
    """The contacts an organisation imports, and its contact lists."""

    async def import_contacts(
        self,
        organisation_id: OrganisationId,
        entries: Sequence[ContactEntry],
        *,
        list_name: str | None,
        merged: int,
        at: datetime,
    ) -> ImportReport:
        """One transaction. Each entry (one per E.164 phone) becomes a contact (``imported``)
        or sets the fields it has on the existing one (source, dates and suppression stay).
        With ``list_name`` the list is created if the organisation has none of that name and
        every entry's contact is put on it (a contact is on one list at most). ``merged`` is
        reported as given."""
        ...

    async def contact_lists(self, organisation_id: OrganisationId) -> Sequence[ContactList]:
        """The organisation's lists by name, each with how many contacts are on it."""
        ...


class OptOutPolicies(Protocol):
    """Each organisation's opt-out rules; one that set none has ``OptOutPolicy()``."""

    async def opt_out_policy(self, organisation_id: OrganisationId) -> OptOutPolicy: ...

    async def set_opt_out_policy(
        self, organisation_id: OrganisationId, policy: OptOutPolicy | None, *, at: datetime
    ) -> None:
        """``None`` puts the organisation back on the defaults."""
        ...

    async def keywords_by_number(
        self, phone_number_ids: Collection[str]
    ) -> Mapping[str, OptOutKeywords]:
        """The keywords of the organisations owning these numbers (Meta's phone_number_id),
        for those whose organisation set its own; the others are absent (the defaults)."""
        ...


class AccountEventMarks(Protocol):
    """The time of the last account event applied to each object (a template, a number, a
    portfolio), so that an older one arriving late or again changes nothing."""

    async def mark_if_not_older(self, object_key: str, at: datetime) -> bool:
        """Records ``at`` for the object and answers True, unless an event with a later time
        was applied to it (then False, nothing recorded). Atomic."""
        ...
