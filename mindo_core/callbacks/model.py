"""The callback events, an organisation's webhook endpoints and one delivery of an event.

An event is written to the outbox with the change it reports; each endpoint subscribed to its
type gets its own delivery (attempted, retried and kept apart from the others').
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, Literal, NewType

from mindo_core.domain.accounts import OrganisationId

WebhookEndpointId = NewType("WebhookEndpointId", int)

EventType = Literal[
    "message.sent",
    "message.delivered",
    "message.read",
    "message.failed",
    "bulk.status_changed",
    "message.received",
    "contact.opted_out",
]
EVENT_TYPES: tuple[EventType, ...] = (
    "message.sent",
    "message.delivered",
    "message.read",
    "message.failed",
    "bulk.status_changed",
    "message.received",
    "contact.opted_out",
)
MESSAGE_EVENTS: Mapping[str, EventType] = {
    "sent": "message.sent",
    "delivered": "message.delivered",
    "read": "message.read",
    "failed": "message.failed",
    # Not sent (on the suppression list): a failure to reach them, its status says why.
    "opted_out": "message.failed",
}

DeliveryState = Literal["pending", "delivered", "failed"]


@dataclass(frozen=True, kw_only=True)
class NewEvent:
    """An event as the change it reports writes it: ``data`` in the shape of the REST resource
    it concerns (JSON values only)."""

    organisation_id: OrganisationId
    type: EventType
    occurred_at: datetime
    data: Mapping[str, Any] = field(default_factory=dict)


@dataclass(frozen=True, kw_only=True)
class WebhookEndpoint:
    id: WebhookEndpointId
    organisation_id: OrganisationId
    url: str
    events: frozenset[EventType]
    created_at: datetime
    # Set when it failed for a day without one success: nothing more is sent to it.
    disabled_at: datetime | None = None
    disabled_reason: str | None = None
    # The first failure since its last success.
    failing_since: datetime | None = None
    # After a rotation, the previous secret signs too until then.
    previous_secret_expires_at: datetime | None = None

    def wants(self, event_type: str) -> bool:
        return event_type in self.events


@dataclass(frozen=True, kw_only=True)
class NewEndpoint:
    """An endpoint being registered, its signing secret already encrypted."""

    organisation_id: OrganisationId
    url: str
    events: frozenset[EventType]
    secret_ciphertext: bytes = field(repr=False)
    created_at: datetime


@dataclass(frozen=True, kw_only=True)
class PendingDelivery:
    """One event claimed for one endpoint: what the delivery worker posts and signs."""

    id: int
    endpoint_id: WebhookEndpointId
    url: str
    event_id: str
    body: bytes = field(repr=False)
    attempts: int
    created_at: datetime
    secret_ciphertexts: tuple[bytes, ...] = field(repr=False)


@dataclass(frozen=True, kw_only=True)
class AttemptResult:
    """What one attempt got, and what follows: delivered, another try at ``retry_at``, or
    given up (``retry_at`` None and not delivered)."""

    delivery_id: int
    endpoint_id: WebhookEndpointId
    at: datetime
    status_code: int | None
    error: str | None
    delivered: bool
    retry_at: datetime | None
    duration_ms: int


@dataclass(frozen=True, kw_only=True)
class Attempt:
    """An attempt as listed to the organisation."""

    id: int
    event_id: str
    event_type: str
    at: datetime
    status_code: int | None
    error: str | None
    delivered: bool
    duration_ms: int


def event_body(event_id: str, event: NewEvent) -> bytes:
    """The JSON body posted: ``{"id", "type", "created_at", "data"}``, compact, keys sorted."""
    envelope = {
        "id": event_id,
        "type": event.type,
        "created_at": iso_utc(event.occurred_at),
        "data": dict(event.data),
    }
    return json.dumps(envelope, separators=(",", ":"), sort_keys=True).encode("utf-8")


def iso_utc(value: datetime) -> str:
    return value.astimezone(UTC).isoformat().replace("+00:00", "Z")


def iso_utc_or_none(value: datetime | None) -> str | None:
    return None if value is None else iso_utc(value)
