"""The stores of one database, one port per aggregate, as an adapter opens them together.

The composition root hands each use case only the ports it reads and writes; ``close`` lets go
of what the database holds (connections), once, at shutdown."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass

from mindo_core.ports.accounts import AccountStore
from mindo_core.ports.api_keys import ApiKeyStore
from mindo_core.ports.bulks import BulkStore, UnknownOutcomePolicies, UnknownRecipients
from mindo_core.ports.callbacks import CallbackOutbox, WebhookEndpointStore
from mindo_core.ports.contacts import (
    AccountEventMarks,
    ContactDirectory,
    ContactStore,
    OptOutPolicies,
)
from mindo_core.ports.delivery import DeliveryStore
from mindo_core.ports.idempotency import IdempotencyStore
from mindo_core.ports.messages import MessageStore
from mindo_core.ports.number_pacing import NumberPacing
from mindo_core.ports.organisations import OrganisationStore
from mindo_core.ports.ownership import NumberOwnership
from mindo_core.ports.quota import QuotaLedger
from mindo_core.ports.templates import TemplateStore


@dataclass(frozen=True, kw_only=True, eq=False)
class Stores:
    organisations: OrganisationStore
    api_keys: ApiKeyStore
    accounts: AccountStore
    templates: TemplateStore
    messages: MessageStore
    bulks: BulkStore
    delivery: DeliveryStore
    contacts: ContactStore
    contact_directory: ContactDirectory
    opt_out_policies: OptOutPolicies
    unknown_outcome_policies: UnknownOutcomePolicies
    # Bulk recipients whose outcome is unknown, settled by the policy once webhooks say enough.
    unknown_recipients: UnknownRecipients
    event_marks: AccountEventMarks
    idempotency: IdempotencyStore
    webhook_endpoints: WebhookEndpointStore
    callback_outbox: CallbackOutbox
    # Which engine sends for which number (one engine alone: it owns them all).
    ownership: NumberOwnership
    # Slots of numbers no process holds, shared by processes (None: one process sends).
    number_pacing: NumberPacing | None = None
    # The organisations' quota decisions and reservations (one process alone: in its memory).
    quota_ledger: QuotaLedger
    close: Callable[[], Awaitable[None]]
