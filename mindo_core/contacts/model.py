"""A contact, what it has written, and the customer-service window its last message opens.

A contact is one phone number (E.164) of one organisation. Its ``source`` says how Mindo first
learnt of it:

* ``organic``: the person wrote to one of the organisation's numbers before Mindo had them;
* ``outbound``: the organisation sent them a message (one at a time: Send message) first;
* ``imported``: the organisation imported them (Import contacts, ``mindo contacts import``).

A contact who writes a stop word, or whom the organisation adds (``services.suppression_list``),
is on the organisation's suppression list (``opted_out_at``) until they write a start word
(``opt_out``) or are removed: marketing templates are not sent to them.

Its name (``display_name``) is the one set for it, else the WhatsApp profile name of its latest
message. The window: WhatsApp lets a business answer freely for 24 hours after the user's last
message to it (meta-cloud-api.md §6.6).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Final, Literal, NewType

from mindo_core.domain.accounts import OrganisationId, PhoneNumberRowId

ContactId = NewType("ContactId", int)
ContactListId = NewType("ContactListId", int)
ContactSource = Literal["organic", "outbound", "imported"]
CONTACT_SOURCES: Final[tuple[ContactSource, ...]] = ("organic", "outbound", "imported")

SESSION_WINDOW: Final = timedelta(hours=24)


@dataclass(frozen=True, kw_only=True)
class Contact:
    id: ContactId
    organisation_id: OrganisationId
    phone: str  # E.164
    source: ContactSource
    created_at: datetime
    full_name: str | None = None  # set for the contact; wins over the profile name
    profile_name: str | None = None  # WhatsApp's, from the latest inbound message
    email: str | None = None
    contact_list_id: int | None = None
    contact_list_name: str | None = None
    last_inbound_at: datetime | None = None  # when they last wrote (Meta's time)
    # On the organisation's suppression list since (None: not on it): a stop word, or added.
    opted_out_at: datetime | None = None
    # Meta's time of the message that last opted them out or in: an older one changes nothing.
    opt_changed_at: datetime | None = None

    @property
    def opted_out(self) -> bool:
        return self.opted_out_at is not None

    @property
    def display_name(self) -> str | None:
        return self.full_name or self.profile_name


@dataclass(frozen=True, kw_only=True)
class ContactList:
    """A named list of an organisation's contacts; a contact is on one list at most."""

    id: ContactListId
    organisation_id: OrganisationId
    name: str
    created_at: datetime
    size: int  # contacts on it now


@dataclass(frozen=True, kw_only=True)
class InboundRecord:
    """An inbound message as stored: whose, to which number, and what it held."""

    wamid: str
    organisation_id: OrganisationId
    phone_number_row_id: PhoneNumberRowId
    contact_id: ContactId
    type: str
    text: str | None
    payload: str | None
    context_wamid: str | None
    sent_at: datetime  # Meta's timestamp: when the user sent it
    received_at: datetime


@dataclass(frozen=True, kw_only=True)
class SessionWindow:
    has_replied: bool
    last_reply_at: datetime | None
    active: bool
    expires_at: datetime | None


def session_window(last_inbound_at: datetime | None, now: datetime) -> SessionWindow:
    """The window the last inbound message opened, as it stands at ``now``. ``expires_at`` is
    shown even once past (when it closed); the window is active strictly before it."""
    if last_inbound_at is None:
        return SessionWindow(has_replied=False, last_reply_at=None, active=False, expires_at=None)
    expires_at = last_inbound_at + SESSION_WINDOW
    return SessionWindow(
        has_replied=True,
        last_reply_at=last_inbound_at,
        active=now < expires_at,
        expires_at=expires_at,
    )
