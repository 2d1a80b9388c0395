"""The organisation's suppression list as it manages it: read it, add a phone, remove one.

A phone the organisation adds is suppressed exactly as if its owner had written STOP (marketing
templates are refused to them, a bulk skips them) until it is removed or they write START. The
phone is read in every documented form (``phones.e164``); one that cannot be a number is
refused with ``InvalidPhoneNumber`` on the ``phone`` field. Adding creates the contact
(``outbound``) when there is none, and adding one already on the list keeps its first date.
Removing a phone that is not on the list is ``NotSuppressed`` (a 404): a typo in the number
must not look like success. The change is the organisation's latest word: a stop word written
before a removal and delivered after it changes nothing.
"""

from __future__ import annotations

from mindo_core.contacts.model import Contact
from mindo_core.domain.accounts import OrganisationId
from mindo_core.domain.clock import Clock
from mindo_core.domain.errors import NotSuppressed
from mindo_core.phones.e164 import to_e164
from mindo_core.ports.bulks import Page
from mindo_core.ports.contacts import ContactStore

__all__ = ["SuppressionList"]

PHONE_FIELD = "phone"


class SuppressionList:
    def __init__(self, *, contacts: ContactStore, clock: Clock) -> None:
        self._contacts = contacts
        self._clock = clock

    async def list(
        self, organisation_id: OrganisationId, *, page: int = 1, page_size: int = 20
    ) -> Page[Contact]:
        """Latest added first."""
        offset = (max(page, 1) - 1) * page_size
        return await self._contacts.suppressed(organisation_id, offset=offset, limit=page_size)

    async def add(self, organisation_id: OrganisationId, phone: str) -> Contact:
        e164 = to_e164(phone, field=PHONE_FIELD)
        return await self._contacts.suppress(organisation_id, e164, at=self._clock.now())

    async def remove(self, organisation_id: OrganisationId, phone: str) -> str:
        """The E.164 phone taken off the list."""
        e164 = to_e164(phone, field=PHONE_FIELD)
        if not await self._contacts.unsuppress(organisation_id, e164, at=self._clock.now()):
            raise NotSuppressed()
        return e164
