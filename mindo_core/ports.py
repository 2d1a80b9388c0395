"""The ports the core needs from the outside world. Each has a real adapter and an in-memory one.

Stores (``adapters.sql`` over SQLModel, ``adapters.memory`` for unit tests)
  OrganisationStore, ApiKeyStore, AccountStore, TemplateStore, MessageStore
MetaGateway (``adapters.meta`` over aiohttp; Meta or the sandbox, same protocol)
TokenCipher (``adapters.crypto``: Fernet keyed by MINDO_SECRET_KEY)
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime
from itertools import islice
from typing import Any, Generic, Literal, Protocol, TypeVar

from mindo_core.accounts import (
    BusinessAccount,
    BusinessAccountId,
    Organisation,
    OrganisationId,
    OrganisationProfile,
    PhoneNumber,
    PhoneNumberRowId,
)
from mindo_core.api_keys import ApiKey, ApiKeyId, Scope
from mindo_core.bulks import Bulk, BulkId, BulkRecipient, BulkStatus, CrashPolicy
from mindo_core.delivery import DeliveryReport
from mindo_core.messages import DeliveryState, MessageId, MessageRecord, NewMessage
from mindo_core.template_records import JsonObject, StoredTemplate, TemplateId
from mindo_core.webhooks import StatusUpdate

T = TypeVar("T")

# --------------------------------------------------------------------------------------------
# Values that cross the ports


@dataclass(frozen=True, kw_only=True)
class PhoneNumberInfo:
    """A phone number as read from Meta, before Mindo gives it an id."""

    phone_number_id: str
    display_phone_number: str
    verified_name: str
    quality_rating: str = "UNKNOWN"
    messaging_limit_tier: str = "TIER_250"
    throughput_level: str = "STANDARD"


@dataclass(frozen=True, kw_only=True)
class TemplateInfo:
    """A template as read from Meta (``GET /{waba_id}/message_templates``)."""

    meta_template_id: str
    name: str
    language: str
    status: str
    category: str
    parameter_format: str
    components: Sequence[JsonObject]


@dataclass(frozen=True, kw_only=True)
class SenderContext:
    """Everything needed to send from one phone number: the number, its account, the token."""

    phone_number: PhoneNumber
    business_account: BusinessAccount
    access_token: str = field(repr=False)


@dataclass(frozen=True, kw_only=True)
class MetaSendResult:
    wamid: str
    wa_id: str
    message_status: str | None = None


# --------------------------------------------------------------------------------------------
# Stores. Every read that a client can reach is scoped by organisation: another organisation's
# rows answer exactly like rows that do not exist.


class OrganisationStore(Protocol):
    async def create_organisation(self, name: str) -> Organisation:
        """Raises ``Conflict`` when the name is taken."""
        ...

    async def find_organisation_by_name(self, name: str) -> Organisation | None: ...

    async def get_organisation(self, organisation_id: OrganisationId) -> Organisation | None: ...

    async def update_organisation_profile(
        self, organisation_id: OrganisationId, profile: OrganisationProfile
    ) -> Organisation: ...


class ApiKeyStore(Protocol):
    async def add_api_key(
        self,
        *,
        organisation_id: OrganisationId,
        name: str,
        display_prefix: str,
        key_hash: str,
        scopes: frozenset[Scope],
        created_at: datetime,
        expires_at: datetime | None,
    ) -> ApiKey: ...

    async def find_api_key_by_hash(self, key_hash: str) -> ApiKey | None: ...

    async def list_api_keys(self, organisation_id: OrganisationId) -> Sequence[ApiKey]: ...

    async def revoke_api_key(self, key_id: ApiKeyId, at: datetime) -> None: ...


class AccountStore(Protocol):
    async def upsert_business_account(
        self,
        *,
        organisation_id: OrganisationId,
        waba_id: str,
        name: str,
        encrypted_access_token: bytes,
    ) -> BusinessAccount: ...

    async def upsert_phone_number(
        self, business_account_id: BusinessAccountId, info: PhoneNumberInfo
    ) -> PhoneNumber: ...

    async def list_business_accounts(
        self, organisation_id: OrganisationId | None = None
    ) -> Sequence[BusinessAccount]: ...

    async def list_phone_numbers(
        self, business_account_id: BusinessAccountId
    ) -> Sequence[PhoneNumber]: ...

    async def find_sender(
        self, organisation_id: OrganisationId, phone_number_id: str
    ) -> tuple[PhoneNumber, BusinessAccount, bytes] | None:
        """The number, its account and the account's encrypted token, if the organisation
        owns that number."""
        ...

    async def encrypted_token(self, business_account_id: BusinessAccountId) -> bytes | None: ...

    async def update_phone_number_limits(
        self,
        number_id: PhoneNumberRowId,
        *,
        messaging_limit_tier: str | None = None,
        throughput_level: str | None = None,
    ) -> PhoneNumber:
        """What Meta's account webhooks change; None leaves a field as it is. Raises
        ``PhoneNumberNotFound`` for an unknown number."""
        ...


class TemplateStore(Protocol):
    async def upsert_template(
        self, business_account_id: BusinessAccountId, info: TemplateInfo
    ) -> StoredTemplate:
        """Insert or refresh Meta's fields; Mindo's own settings (defaults) are kept."""
        ...

    async def set_variable_defaults(
        self, template: StoredTemplate, defaults: Mapping[str, str]
    ) -> StoredTemplate: ...

    async def find_template(
        self, business_account_id: BusinessAccountId, name: str, language: str
    ) -> StoredTemplate | None: ...

    async def list_templates(
        self, business_account_id: BusinessAccountId
    ) -> Sequence[StoredTemplate]: ...

    async def get_template(self, template_id: TemplateId) -> StoredTemplate | None:
        """Unscoped: for what already holds the id (a message, a bulk)."""
        ...

    async def set_template_status(self, template_id: TemplateId, status: str) -> StoredTemplate:
        """Meta changed the template's status (a webhook). Raises ``TemplateNotFound``."""
        ...


class MessageStore(Protocol):
    async def add_message(self, message: NewMessage) -> MessageRecord: ...

    async def find_message_by_wamid(
        self, organisation_id: OrganisationId, wamid: str
    ) -> MessageRecord | None: ...


class DeliveryStore(Protocol):
    """Meta's status webhooks applied to messages (``delivery`` holds the rules)."""

    async def apply_statuses(
        self, updates: Sequence[StatusUpdate], *, received_at: datetime
    ) -> DeliveryReport:
        """One transaction for the batch. Each status moves the message with its wamid, or,
        when no message has that wamid yet, the bulk recipient its callback data names (in
        flight or unconfirmed: the wamid is recorded with it). Bulk counters follow, and
        finished bulks refresh their final status. A status that finds no message is parked
        (``received_at``) for ``apply_parked`` when its ``phone_number_id`` is one of the
        store's numbers, and ignored (unchanged) otherwise."""
        ...

    async def apply_parked(self, *, now: datetime) -> DeliveryReport:
        """Applies, then forgets, the parked statuses whose message now exists; forgets those
        parked more than ``PARKED_STATUS_TTL`` before ``now`` (counted as unchanged). Reads
        first: it writes only when there is something to apply or forget."""
        ...

    async def parked_count(self) -> int: ...


class Store(OrganisationStore, ApiKeyStore, AccountStore, TemplateStore, MessageStore, Protocol):
    """All stores at once; one adapter implements them over one database."""

    async def close(self) -> None: ...


# --------------------------------------------------------------------------------------------
# Meta and secrets


class MetaGateway(Protocol):
    """Meta's Graph API (or the sandbox). Errors come back as ``MetaError``/``MetaUnavailable``."""

    async def send_template(
        self, *, phone_number_id: str, access_token: str, payload: Mapping[str, Any]
    ) -> MetaSendResult: ...

    async def list_phone_numbers(
        self, *, waba_id: str, access_token: str
    ) -> Sequence[PhoneNumberInfo]:
        """Every page, followed to the end."""
        ...

    async def list_templates(self, *, waba_id: str, access_token: str) -> Sequence[TemplateInfo]:
        """Every page, followed to the end."""
        ...

    async def close(self) -> None: ...


class TokenCipher(Protocol):
    def encrypt(self, plaintext: str) -> bytes: ...

    def decrypt(self, ciphertext: bytes) -> str: ...


# --------------------------------------------------------------------------------------------
# Bulk sends. A bulk's recipients are rows of the messages table (``bulk_id`` set), so a bulk
# message is a message like any other: GetMessage, webhooks and the quota window see it.


@dataclass(frozen=True, kw_only=True)
class NewBulk:
    id: BulkId
    task_id: str
    organisation_id: OrganisationId
    phone_number_row_id: PhoneNumberRowId
    template_id: TemplateId
    pacing: str
    total_recipients: int
    estimated_time_minutes: float
    created_at: datetime
    created_by: ApiKeyId | None = None


@dataclass(frozen=True, kw_only=True, slots=True)
class NewBulkRecipient:
    position: int
    e164: str
    variables_used: Mapping[str, str]
    # The quota window has no room for this recipient before this time (None: now).
    not_before: datetime | None = None


@dataclass(frozen=True, kw_only=True, slots=True)
class NewRecipientChunk:
    """Consecutive recipients of a new bulk as columns of equal length: the one at position
    ``first_position + k`` is ``e164s[k]``, with ``variables_used[k]``, and waits for quota until
    ``not_before[k]`` (``not_before`` None: none of them waits).

    Columns, not one value per recipient: a 100,000-recipient request is accepted in well under
    a second, and building 100,000 frozen values alone would take a fifth of it."""

    first_position: int
    e164s: Sequence[str]
    variables_used: Sequence[Mapping[str, str]]
    not_before: Sequence[datetime | None] | None = None

    def __len__(self) -> int:
        return len(self.e164s)

    def check(self, expected_position: int) -> None:
        """``ValueError`` unless the chunk starts at ``expected_position`` with equal columns."""
        if self.first_position != expected_position:
            raise ValueError(
                f"recipient positions must be 0..n-1 in order: a chunk starting at "
                f"{self.first_position} came where {expected_position} was due"
            )
        lengths = {len(self.e164s), len(self.variables_used)}
        if self.not_before is not None:
            lengths.add(len(self.not_before))
        if len(lengths) != 1:
            raise ValueError(f"a chunk's columns must be of equal length, not {sorted(lengths)}")

    def recipients(self) -> Iterator[NewBulkRecipient]:
        waits: Iterable[datetime | None] = self.not_before or (None,) * len(self.e164s)
        columns = zip(self.e164s, self.variables_used, waits, strict=True)
        for k, (e164, used, not_before) in enumerate(columns):
            yield NewBulkRecipient(
                position=self.first_position + k,
                e164=e164,
                variables_used=used,
                not_before=not_before,
            )


def in_chunks(
    recipients: Iterable[NewBulkRecipient], size: int = 1_000
) -> Iterator[NewRecipientChunk]:
    """Recipients (positions 0, 1, 2, …) as the chunks ``create_bulk`` takes; read lazily."""
    ordered = iter(recipients)
    while chunk := list(islice(ordered, size)):
        first = chunk[0].position
        for k, recipient in enumerate(chunk):
            if recipient.position != first + k:
                raise ValueError(
                    f"recipient positions must be 0..n-1 in order: {recipient.position} "
                    f"came where {first + k} was due"
                )
        waits = [r.not_before for r in chunk]
        yield NewRecipientChunk(
            first_position=first,
            e164s=[r.e164 for r in chunk],
            variables_used=[r.variables_used for r in chunk],
            not_before=waits if any(w is not None for w in waits) else None,
        )


@dataclass(frozen=True, kw_only=True)
class BulkFilter:
    status: BulkStatus | None = None
    template_id: TemplateId | None = None
    created_after: date | None = None  # inclusive, UTC day
    created_before: date | None = None  # inclusive, UTC day


@dataclass(frozen=True, kw_only=True)
class Page(Generic[T]):
    count: int
    items: Sequence[T]


@dataclass(frozen=True, kw_only=True, slots=True)
class ClaimedRecipient:
    message_id: MessageId
    bulk_id: BulkId
    position: int
    e164: str
    variables_used: Mapping[str, str]
    attempts: int  # including this one


RecipientOutcomeKind = Literal["accept", "refuse", "release"]


@dataclass(frozen=True, kw_only=True, slots=True)
class RecipientOutcome:
    """What became of one claimed recipient: Meta accepted it (``wamid``), refused it for good
    (``error_code``/``error_message``), or it goes back to pending until ``retry_at``."""

    message_id: MessageId
    bulk_id: BulkId
    kind: RecipientOutcomeKind
    at: datetime
    wamid: str | None = None
    error_code: int | None = None
    error_message: str | None = None
    retry_at: datetime | None = None


class BulkStore(Protocol):
    async def create_bulk(self, bulk: NewBulk, recipients: Iterable[NewRecipientChunk]) -> Bulk:
        """One transaction: the bulk and all its recipients, or nothing.

        ``recipients`` come in chunks in position order, positions 0, 1, 2, … (else
        ``ValueError``), read once, as they are written: a generator streams a bulk of any size
        through the one transaction, holding one chunk at a time (``in_chunks`` makes chunks of
        single recipients)."""
        ...

    async def get_bulk(
        self, bulk_id: BulkId, organisation_id: OrganisationId | None = None
    ) -> Bulk | None:
        """Scoped when ``organisation_id`` is given (clients); unscoped for the engine."""
        ...

    async def list_bulks(
        self, organisation_id: OrganisationId, filters: BulkFilter, *, offset: int, limit: int
    ) -> Page[Bulk]:
        """Newest first."""
        ...

    async def list_bulk_recipients(
        self,
        organisation_id: OrganisationId,
        bulk_id: BulkId,
        *,
        status: DeliveryState | None,
        offset: int,
        limit: int,
    ) -> Page[BulkRecipient]:
        """In position order; ``status`` filters on the message-level status."""
        ...

    async def bulks_to_run(self, number: PhoneNumberRowId | None = None) -> Sequence[Bulk]:
        """QUEUED and PROCESSING bulks of every organisation, oldest first; only those on
        ``number`` when given."""
        ...

    async def claim_recipients(
        self, bulk_id: BulkId, *, worker: str, limit: int, now: datetime
    ) -> Sequence[ClaimedRecipient]:
        """Up to ``limit`` due pending recipients (not_before and retry time passed), in
        position order, made ``in_flight`` durably before any is sent; the bulk becomes
        PROCESSING (``started_at``) on its first claim. Nothing for a bulk not QUEUED or
        PROCESSING."""
        ...

    async def record_outcomes(self, outcomes: Sequence[RecipientOutcome]) -> Sequence[Bulk]:
        """One transaction for the batch; counters follow; returns the bulks it changed."""
        ...

    async def next_due_at(self, bulk_id: BulkId) -> datetime | None:
        """When the bulk's earliest pending recipient becomes due; None when none is pending."""
        ...

    async def finish_bulk(self, bulk_id: BulkId, now: datetime) -> Bulk:
        """Gives a bulk with nothing pending or in flight its final status (``final_status``)."""
        ...

    async def stop_bulk(
        self, bulk_id: BulkId, *, now: datetime, reason: str | None, cancelled: bool
    ) -> Bulk:
        """Cancels (``cancelled``) or stops (``reason``) a bulk: its pending recipients become
        cancelled or skipped at once; in-flight ones finish and are recorded."""
        ...

    async def settle_in_flight(self, *, policy: CrashPolicy, now: datetime) -> int:
        """After a crash: every in-flight recipient becomes unconfirmed (or pending again with
        policy "resend"). Returns how many were settled."""
        ...

    async def recipient_window(
        self, organisation_id: OrganisationId, since: datetime
    ) -> Mapping[str, datetime]:
        """wa_id → first time it was sent to after ``since``, over every message of the
        organisation (single and bulk): the portfolio's rolling quota window."""
        ...
