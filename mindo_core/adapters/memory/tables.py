"""``Tables``: the dicts the in-memory repositories share, as SQL's share one database.

The same semantics as the SQL repositories (the shared contract tests hold both to them): names
and keys are unique (``Conflict``), reads that a client can reach are scoped by organisation,
template refreshes keep the defaults, timestamps must be aware and come back in UTC. Ids come
from one counter for every kind (bulk recipients included), so an id of one kind passed where
another is expected finds nothing. Values are frozen, so the dicts hold the very values
returned; JSON-like fields are copied on the way in, so a caller's later change to its own dict
does not reach the store.
"""

from __future__ import annotations

import heapq
from dataclasses import dataclass, field
from datetime import UTC, datetime
from itertools import count

from mindo_core.access.api_keys import ApiKey, ApiKeyId
from mindo_core.bulks.model import Bulk, BulkId, BulkRecipient
from mindo_core.bulks.unknown_outcomes import UnknownOutcomePolicy
from mindo_core.callbacks.model import Attempt, WebhookEndpoint
from mindo_core.contacts.model import (
    Contact,
    ContactId,
    ContactList,
    ContactListId,
    InboundRecord,
)
from mindo_core.contacts.opt_out import OptOutPolicy
from mindo_core.delivery.webhook_payloads import StatusUpdate
from mindo_core.domain.accounts import (
    BusinessAccount,
    BusinessAccountId,
    Organisation,
    OrganisationId,
    PhoneNumber,
    PhoneNumberRowId,
)
from mindo_core.domain.messages import MessageId, MessageRecord
from mindo_core.domain.templates import StoredTemplate, TemplateId
from mindo_core.ports.idempotency import IdempotencyRecord


@dataclass(kw_only=True)
class RecipientRow:
    message_id: MessageId
    recipient: BulkRecipient
    retry_at: datetime | None = None
    claimed_at: datetime | None = None
    worker: str | None = None
    # Its call to Meta started under the present claim (``BulkStore.mark_calls_started``).
    call_started: bool = False
    call_started_at: datetime | None = None

    @property
    def due_at(self) -> datetime | None:
        times = [t for t in (self.recipient.not_before, self.retry_at) if t is not None]
        return max(times) if times else None


@dataclass(kw_only=True)
class BulkEntry:
    bulk: Bulk
    rows: list[RecipientRow]  # by position
    due_now: list[int] = field(default_factory=list)  # heap of positions
    waiting: list[tuple[datetime, int]] = field(default_factory=list)  # heap of (due, position)

    def queue(self, row: RecipientRow) -> None:
        due = row.due_at
        position = row.recipient.position
        if due is None:
            heapq.heappush(self.due_now, position)
        else:
            heapq.heappush(self.waiting, (due, position))

    def promote(self, now: datetime) -> None:
        while self.waiting and self.waiting[0][0] <= now:
            due, position = heapq.heappop(self.waiting)
            row = self.rows[position]
            if row.recipient.state == "pending" and row.due_at == due:
                heapq.heappush(self.due_now, position)

    def pop_due(self, now: datetime) -> RecipientRow | None:
        while self.due_now:
            row = self.rows[heapq.heappop(self.due_now)]
            due = row.due_at
            # A row re-planned to wait later is in the waiting heap too: it comes back from there.
            if row.recipient.state == "pending" and (due is None or due <= now):
                return row
        return None


@dataclass(kw_only=True)
class EndpointEntry:
    endpoint: WebhookEndpoint
    secret: bytes
    previous_secret: bytes | None = None


@dataclass(kw_only=True)
class DeliveryEntry:
    id: int
    endpoint_id: int
    organisation_id: int
    event_id: str
    event_type: str
    occurred_at: datetime
    body: bytes
    state: str
    attempts: int
    next_attempt_at: datetime
    created_at: datetime
    leased_until: datetime | None = None


@dataclass(kw_only=True)
class Tables:
    organisations: dict[OrganisationId, Organisation] = field(default_factory=dict)
    api_keys: dict[ApiKeyId, ApiKey] = field(default_factory=dict)
    accounts: dict[BusinessAccountId, BusinessAccount] = field(default_factory=dict)
    tokens: dict[BusinessAccountId, bytes] = field(default_factory=dict)
    numbers: dict[PhoneNumberRowId, PhoneNumber] = field(default_factory=dict)
    templates: dict[TemplateId, StoredTemplate] = field(default_factory=dict)
    messages: dict[MessageId, MessageRecord] = field(default_factory=dict)
    # Messages are the table that grows (bulk sends): their lookup is indexed.
    message_by_wamid: dict[str, MessageId] = field(default_factory=dict)
    bulks: dict[BulkId, BulkEntry] = field(default_factory=dict)
    # message id -> (bulk, position)
    recipients: dict[MessageId, tuple[BulkId, int]] = field(default_factory=dict)
    # Recipients Meta accepted, found by their wamid as single messages are.
    bulk_by_wamid: dict[str, MessageId] = field(default_factory=dict)
    # Idempotency keys by (organisation, key hash).
    idempotency_keys: dict[tuple[OrganisationId, str], IdempotencyRecord] = field(
        default_factory=dict
    )
    # When the first status webhook naming each message was heard (single sends and bulk
    # recipients alike): what the sweep of unknown outcomes reads.
    first_webhook_at: dict[MessageId, datetime] = field(default_factory=dict)
    # Statuses that found no message yet, with the time they were received.
    parked: list[tuple[StatusUpdate, datetime]] = field(default_factory=list)
    contacts: dict[ContactId, Contact] = field(default_factory=dict)
    contact_by_phone: dict[tuple[OrganisationId, str], ContactId] = field(default_factory=dict)
    inbound: dict[str, InboundRecord] = field(default_factory=dict)  # by wamid
    # Contact lists as created (their ``size`` is counted when read).
    contact_lists: dict[ContactListId, ContactList] = field(default_factory=dict)
    opt_out_policies: dict[OrganisationId, OptOutPolicy] = field(default_factory=dict)
    unknown_outcome_policies: dict[OrganisationId, UnknownOutcomePolicy] = field(
        default_factory=dict
    )
    # The time of the last account event applied, by object (``AccountEventMarks``).
    event_marks: dict[str, datetime] = field(default_factory=dict)
    # Status callbacks (``InMemoryWebhookEndpoints``, ``InMemoryCallbackOutbox``).
    webhook_endpoints: dict[int, EndpointEntry] = field(default_factory=dict)
    callback_deliveries: dict[int, DeliveryEntry] = field(default_factory=dict)
    callback_attempts: list[tuple[int, Attempt]] = field(default_factory=list)  # endpoint, attempt
    _ids: count[int] = field(default_factory=lambda: count(1), init=False, repr=False)

    def next_id(self) -> int:
        return next(self._ids)


def aware(value: datetime) -> datetime:
    if value.tzinfo is None or value.utcoffset() is None:
        raise ValueError(f"naive datetime {value.isoformat()}: timestamps must be timezone-aware")
    return value.astimezone(UTC)


def aware_or_none(value: datetime | None) -> datetime | None:
    return None if value is None else aware(value)
