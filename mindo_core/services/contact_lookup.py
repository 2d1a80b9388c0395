"""Who a phone number is to the calling organisation (the documented Look up contact page).

The phone is read in every documented form (E.164 with or without ``+``, Argentina's ``15``
form, spaces and dashes: ``phones.e164``); one that cannot be a number is refused with
``InvalidPhoneNumber`` on the ``phone`` field. An unknown number, and another organisation's
contact, are ``found: false``, never an error. The window is computed at the time of the call.
"""

from __future__ import annotations

from dataclasses import dataclass

from mindo_core.contacts.model import Contact, SessionWindow, session_window
from mindo_core.domain.clock import Clock
from mindo_core.phones.e164 import to_e164
from mindo_core.ports.contacts import ContactStore
from mindo_core.services.authenticate import Principal

__all__ = ["ContactLookup", "ContactLookupResult"]

PHONE_FIELD = "phone"


@dataclass(frozen=True, kw_only=True)
class ContactLookupResult:
    contact: Contact | None
    window: SessionWindow

    @property
    def found(self) -> bool:
        return self.contact is not None


class ContactLookup:
    def __init__(self, *, contacts: ContactStore, clock: Clock) -> None:
        self._contacts = contacts
        self._clock = clock

    async def __call__(self, principal: Principal, phone: str) -> ContactLookupResult:
        e164 = to_e164(phone, field=PHONE_FIELD)
        contact = await self._contacts.find_contact(principal.organisation.id, e164)
        last = None if contact is None else contact.last_inbound_at
        return ContactLookupResult(contact=contact, window=session_window(last, self._clock.now()))
