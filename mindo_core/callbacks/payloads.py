"""The events' ``data``, in the shape of the REST resources they concern: a message as the bulk
messages listing and Get message show it, a bulk as Get bulk does (its counters and times), an
inbound message as the contact's messages are stored, an opt-out as the suppression list
shows it."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from mindo_core.bulks.model import Bulk
from mindo_core.callbacks.model import MESSAGE_EVENTS, NewEvent, iso_utc, iso_utc_or_none
from mindo_core.domain.accounts import OrganisationId


@dataclass(frozen=True, kw_only=True)
class MessageFacts:
    """A message as stored, with its client-visible status (sent, delivered, read, failed)."""

    organisation_id: OrganisationId
    status: str
    phone: str
    wamid: str | None
    bulk_id: str | None
    position: int | None
    sent_at: datetime | None
    delivered_at: datetime | None
    read_at: datetime | None
    failed_at: datetime | None
    error_code: int | None
    error_message: str | None


def message_event(message: MessageFacts, *, fallback_at: datetime) -> NewEvent | None:
    """None for a status that is no event (pending, sending, cancelled); an opted-out
    recipient is ``message.failed`` with its status ``opted_out``."""
    event_type = MESSAGE_EVENTS.get(message.status)
    if event_type is None:
        return None
    times = {
        "sent": message.sent_at,
        "delivered": message.delivered_at,
        "read": message.read_at,
        "failed": message.failed_at,
        "opted_out": message.failed_at,
    }
    return NewEvent(
        organisation_id=message.organisation_id,
        type=event_type,
        occurred_at=times[message.status] or fallback_at,
        data={
            "wamid": message.wamid,
            "status": message.status,
            "phone": message.phone,
            "bulk_send_id": message.bulk_id,
            "position": message.position,
            "error_code": message.error_code,
            "error_message": message.error_message,
            "sent_at": iso_utc_or_none(message.sent_at),
            "delivered_at": iso_utc_or_none(message.delivered_at),
            "read_at": iso_utc_or_none(message.read_at),
            "failed_at": iso_utc_or_none(message.failed_at),
        },
    )


def bulk_event(bulk: Bulk, *, at: datetime) -> NewEvent:
    counters = bulk.counters
    return NewEvent(
        organisation_id=bulk.organisation_id,
        type="bulk.status_changed",
        occurred_at=at,
        data={
            "id": bulk.id,
            "status": bulk.status,
            "template_name": bulk.template_name,
            "language": bulk.language,
            "total_recipients": bulk.total_recipients,
            "sent_count": counters.sent,
            "delivered_count": counters.delivered,
            "read_count": counters.read,
            "failed_count": counters.failed,
            "pending_count": counters.pending,
            "cancelled_count": counters.cancelled,
            "opted_out_count": counters.opted_out,
            "stop_reason": bulk.stop_reason,
            "created_at": iso_utc(bulk.created_at),
            "started_at": iso_utc_or_none(bulk.started_at),
            "completed_at": iso_utc_or_none(bulk.completed_at),
        },
    )


def inbound_event(
    organisation_id: OrganisationId,
    *,
    wamid: str,
    phone: str,
    kind: str,
    text: str | None,
    payload: str | None,
    context_wamid: str | None,
    profile_name: str | None,
    at: datetime,
) -> NewEvent:
    """A message a contact wrote to one of the organisation's numbers."""
    return NewEvent(
        organisation_id=organisation_id,
        type="message.received",
        occurred_at=at,
        data={
            "wamid": wamid,
            "phone": phone,
            "type": kind,
            "text": text,
            "payload": payload,
            "context_wamid": context_wamid,
            "profile_name": profile_name,
            "sent_at": iso_utc(at),
        },
    )


def opt_out_event(organisation_id: OrganisationId, phone: str, at: datetime) -> NewEvent:
    """A contact put on the suppression list by their own word (a stop word, Meta's opt-out)."""
    return NewEvent(
        organisation_id=organisation_id,
        type="contact.opted_out",
        occurred_at=at,
        data={"phone": phone, "opted_out_at": iso_utc(at)},
    )
