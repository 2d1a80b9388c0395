"""The tables, as SQLModel classes. They never leave ``adapters.sql``: ``mapping`` turns them
into the core's values.

Constraint and index names follow ``NAMING_CONVENTION`` so that they are the same on SQLite and
PostgreSQL and Alembic can address them. Timestamps use ``UTCDateTime`` (aware in, aware out).
A change here needs a new revision under ``migrations/versions`` (see ``migrate``); a contract
test fails while the two disagree.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.orm import registry
from sqlmodel import Field, SQLModel

from mindo_core.adapters.sql.types import UTCDateTime

NAMING_CONVENTION = {
    "ix": "ix_%(table_name)s_%(column_0_N_name)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}

metadata = sa.MetaData(naming_convention=NAMING_CONVENTION)


class Table(SQLModel, registry=registry(metadata=metadata)):
    """Base of Mindo's tables: its own metadata, so nothing else registered with SQLModel
    (another library, a test) ends up in Mindo's migrations."""


def _timestamp(*, nullable: bool) -> Any:
    return Field(default=None, sa_column=sa.Column(UTCDateTime(), nullable=nullable))


def _json() -> Any:
    return Field(sa_column=sa.Column(sa.JSON(), nullable=False))


def _fk(target: str, *, index: bool = True) -> Any:
    return Field(foreign_key=target, index=index, nullable=False)


def _partial_index(name: str, *columns: str, where: str, unique: bool = False) -> sa.Index:
    """An index over the rows that meet ``where`` (SQL the same on both backends)."""
    condition = sa.text(where)
    return sa.Index(
        name, *columns, unique=unique, sqlite_where=condition, postgresql_where=condition
    )


# Bulk recipients that Meta may have received though no send time is known (yet).
MAYBE_SENT_CONDITION = "status IN ('in_flight', 'unconfirmed')"
# Unknown outcomes the policy has not settled yet (a "fail" sets failed_at, a "resend" moves it).
OPEN_UNKNOWN_CONDITION = "status = 'unconfirmed' AND failed_at IS NULL"


class OrganisationRow(Table, table=True):
    __tablename__ = "organisations"

    id: int | None = Field(default=None, primary_key=True)
    name: str = Field(sa_type=sa.String(200), unique=True, nullable=False)
    # The business profile (accounts.OrganisationProfile.to_json), shown by business-info.
    profile: dict[str, Any] = _json()
    # What the quality guard does to its bulks: "pause" or "continue" (domain.accounts).
    quality_policy: str = Field(
        default="pause",
        sa_column=sa.Column(sa.String(16), nullable=False, server_default="pause"),
    )


class ApiKeyRow(Table, table=True):
    __tablename__ = "api_keys"

    id: int | None = Field(default=None, primary_key=True)
    organisation_id: int = _fk("organisations.id")
    name: str = Field(sa_type=sa.String(200), nullable=False)
    display_prefix: str = Field(sa_type=sa.String(32), nullable=False)
    key_hash: str = Field(sa_type=sa.String(64), unique=True, index=True, nullable=False)
    # Space-separated, sorted: a key has at most a handful of scopes and none contains a space.
    scopes: str = Field(sa_type=sa.String(200), nullable=False)
    created_at: datetime = _timestamp(nullable=False)
    expires_at: datetime | None = _timestamp(nullable=True)
    revoked_at: datetime | None = _timestamp(nullable=True)


class BusinessAccountRow(Table, table=True):
    __tablename__ = "business_accounts"

    id: int | None = Field(default=None, primary_key=True)
    organisation_id: int = _fk("organisations.id")
    waba_id: str = Field(sa_type=sa.String(64), unique=True, nullable=False)
    name: str = Field(sa_type=sa.String(200), nullable=False)
    # Fernet ciphertext (``adapters.crypto``); the plain token is never stored.
    encrypted_access_token: bytes = Field(sa_type=sa.LargeBinary(), nullable=False)


class PhoneNumberRow(Table, table=True):
    __tablename__ = "phone_numbers"

    id: int | None = Field(default=None, primary_key=True)
    business_account_id: int = _fk("business_accounts.id")
    phone_number_id: str = Field(sa_type=sa.String(64), unique=True, nullable=False)
    display_phone_number: str = Field(sa_type=sa.String(32), nullable=False)
    verified_name: str = Field(sa_type=sa.String(200), nullable=False)
    quality_rating: str = Field(sa_type=sa.String(32), nullable=False)
    messaging_limit_tier: str = Field(sa_type=sa.String(32), nullable=False)
    throughput_level: str = Field(sa_type=sa.String(32), nullable=False)
    is_primary: bool = Field(nullable=False)


class TemplateRow(Table, table=True):
    __tablename__ = "templates"
    # The unique constraint doubles as the index for lookups by account, name and language.
    __table_args__ = (sa.UniqueConstraint("business_account_id", "name", "language"),)

    id: int | None = Field(default=None, primary_key=True)
    business_account_id: int = _fk("business_accounts.id", index=False)
    meta_template_id: str = Field(sa_type=sa.String(64), nullable=False)
    name: str = Field(sa_type=sa.String(512), nullable=False)
    language: str = Field(sa_type=sa.String(16), nullable=False)
    status: str = Field(sa_type=sa.String(32), nullable=False)
    category: str = Field(sa_type=sa.String(32), nullable=False)
    parameter_format: str = Field(sa_type=sa.String(16), nullable=False)
    components: list[dict[str, Any]] = _json()
    variable_defaults: dict[str, str] = _json()


class BulkRow(Table, table=True):
    """A bulk send. Its recipients are ``MessageRow``s with ``bulk_id`` set; the counters are
    kept here, moved in the same transaction as the recipients, so reading a bulk's progress
    never counts 100,000 rows."""

    __tablename__ = "bulks"
    __table_args__ = (
        # Listings: one organisation's bulks, newest first.
        sa.Index(None, "organisation_id", "created_at"),
    )

    # A UUID as text: the same on both backends, and what clients see.
    id: str = Field(sa_type=sa.String(36), primary_key=True)
    task_id: str = Field(sa_type=sa.String(64), nullable=False)
    organisation_id: int = _fk("organisations.id", index=False)
    phone_number_row_id: int = _fk("phone_numbers.id", index=False)
    template_id: int = _fk("templates.id", index=False)
    pacing: str = Field(sa_type=sa.String(16), nullable=False)
    # The engine looks for QUEUED and PROCESSING bulks at every start and tick.
    status: str = Field(sa_type=sa.String(16), index=True, nullable=False)
    # As submitted, before deduplication. The counters' total (one per unique recipient) is
    # their sum: sent + failed + pending + cancelled.
    total_recipients: int = Field(nullable=False)
    estimated_time_minutes: float = Field(nullable=False)
    # The 202's estimate (None: stored before 0015), and the completion re-planned while sending.
    original_estimated_time_minutes: float | None = Field(default=None, nullable=True)
    estimated_completion_at: datetime | None = _timestamp(nullable=True)
    sent_count: int = Field(nullable=False)
    delivered_count: int = Field(nullable=False)
    read_count: int = Field(nullable=False)
    failed_count: int = Field(nullable=False)
    pending_count: int = Field(nullable=False)
    cancelled_count: int = Field(nullable=False)
    # Among failed_count: not sent, on the organisation's suppression list.
    opted_out_count: int = Field(
        default=0, sa_column=sa.Column(sa.Integer(), nullable=False, server_default="0")
    )
    # Recipients sent again by the unknown-outcome policy "resend" (each at most once).
    resent_count: int = Field(
        default=0, sa_column=sa.Column(sa.Integer(), nullable=False, server_default="0")
    )
    created_at: datetime = _timestamp(nullable=False)
    started_at: datetime | None = _timestamp(nullable=True)
    completed_at: datetime | None = _timestamp(nullable=True)
    stop_reason: str | None = Field(default=None, sa_type=sa.Text(), nullable=True)
    created_by: int | None = Field(default=None, foreign_key="api_keys.id", nullable=True)
    # A SCHEDULED bulk's start (the engine reads the SCHEDULED ones by status, then this).
    send_at: datetime | None = _timestamp(nullable=True)
    # Why the quality guard paused it; None for a user's pause and a bulk not paused.
    pause_reason: str | None = Field(default=None, sa_type=sa.Text(), nullable=True)
    # The bulk whose failed recipients this one resends (no foreign key: a parent may be
    # purged while its resend stays).
    parent_bulk_id: str | None = Field(default=None, sa_type=sa.String(36), nullable=True)
    # bulks.send_window.SendWindow.text(): "09:00-20:00 <fallback zone>"; None: any time.
    send_window: str | None = Field(default=None, sa_type=sa.String(80), nullable=True)


class MessageRow(Table, table=True):
    __tablename__ = "messages"
    __table_args__ = (
        # Listings and reports by organisation over time. (Revision 0002 dropped the index by
        # number and time: the quota window is the organisation's, ix_..._sent_at below.)
        sa.Index(None, "organisation_id", "created_at"),
        # Claims: a bulk's pending recipients in position order, read straight off the index.
        sa.Index(None, "bulk_id", "status", "position"),
        # A bulk's recipients page by page in position order; one row per position.
        sa.UniqueConstraint("bulk_id", "position"),
        # The partial indexes below leave out what a new bulk recipient lacks (a wamid, a send
        # time, a claim), so that inserting 100,000 of them maintains fewer indexes.
        _partial_index("ix_messages_wamid", "wamid", where="wamid IS NOT NULL", unique=True),
        # The rolling quota window: whom an organisation sent to since a given time…
        _partial_index(
            "ix_messages_organisation_id_sent_at",
            "organisation_id",
            "sent_at",
            where="sent_at IS NOT NULL",
        ),
        # …and whom it may have: recipients in flight or unconfirmed, at their claim time.
        _partial_index(
            "ix_messages_organisation_id_claimed_at",
            "organisation_id",
            "claimed_at",
            where=MAYBE_SENT_CONDITION,
        ),
        # The sweep of unknown outcomes: the organisations that have some still open…
        _partial_index("ix_messages_open_unknown", "organisation_id", where=OPEN_UNKNOWN_CONDITION),
        # …and, per number, the messages whose first webhook was heard in a span of time.
        _partial_index(
            "ix_messages_phone_number_row_id_first_webhook_at",
            "phone_number_row_id",
            "first_webhook_at",
            where="first_webhook_at IS NOT NULL",
        ),
    )

    # BIGINT on PostgreSQL (bulk sends add up); SQLite's INTEGER is already 64-bit and only
    # INTEGER PRIMARY KEY is an alias of the rowid, so it stays INTEGER there.
    id: int | None = Field(
        default=None,
        sa_column=sa.Column(sa.BigInteger().with_variant(sa.Integer(), "sqlite"), primary_key=True),
    )
    organisation_id: int = _fk("organisations.id", index=False)
    phone_number_row_id: int = _fk("phone_numbers.id", index=False)
    template_id: int = _fk("templates.id")
    recipient_phone: str = Field(sa_type=sa.String(32), nullable=False)
    variables_used: dict[str, str] = _json()
    # Unique where set (``ix_messages_wamid``).
    wamid: str | None = Field(default=None, sa_type=sa.String(128), nullable=True)
    # Single sends: sent or failed. Bulk recipients: their ``RecipientState`` (pending,
    # in_flight, …, unconfirmed); ``mapping`` shows clients the message-level status.
    status: str = Field(sa_type=sa.String(16), nullable=False)
    created_at: datetime = _timestamp(nullable=False)
    sent_at: datetime | None = _timestamp(nullable=True)
    delivered_at: datetime | None = _timestamp(nullable=True)
    read_at: datetime | None = _timestamp(nullable=True)
    failed_at: datetime | None = _timestamp(nullable=True)
    error_code: int | None = Field(default=None, nullable=True)
    error_message: str | None = Field(default=None, sa_type=sa.Text(), nullable=True)
    # Bulk recipients only (NULL for single sends).
    bulk_id: str | None = Field(
        default=None, sa_type=sa.String(36), foreign_key="bulks.id", nullable=True
    )
    position: int | None = Field(default=None, nullable=True)
    not_before: datetime | None = _timestamp(nullable=True)
    retry_at: datetime | None = _timestamp(nullable=True)
    claimed_by: str | None = Field(default=None, sa_type=sa.String(128), nullable=True)
    claimed_at: datetime | None = _timestamp(nullable=True)
    # When its call to Meta started under the present claim (NULL: claimed, not started).
    call_started_at: datetime | None = _timestamp(nullable=True)
    # When the first status webhook naming it was heard (Mindo's clock); single sends too.
    first_webhook_at: datetime | None = _timestamp(nullable=True)
    # When the unknown-outcome policy "resend" made it pending again (at most once).
    resent_at: datetime | None = _timestamp(nullable=True)
    # Server default: rows written before bulk sends existed read as never attempted.
    attempts: int = Field(
        default=0, sa_column=sa.Column(sa.Integer(), nullable=False, server_default="0")
    )


class StagedRecipientsRow(Table, table=True):
    """Up to 1,000 recipients of a running bulk, accepted but not yet ``messages`` rows
    (``staged_recipients``): what acceptance writes, and what claims, stops and listings turn
    into rows."""

    __tablename__ = "staged_recipients"
    __table_args__ = (
        # A bulk's next chunk in position order; one chunk per first position.
        sa.UniqueConstraint("bulk_id", "first_position"),
    )

    id: int | None = Field(
        default=None,
        sa_column=sa.Column(sa.BigInteger().with_variant(sa.Integer(), "sqlite"), primary_key=True),
    )
    bulk_id: str = Field(sa_type=sa.String(36), foreign_key="bulks.id", nullable=False)
    first_position: int = Field(nullable=False)
    recipients: int = Field(nullable=False)
    # JSON text: element k is the recipient at first_position + k (``staged_recipients``).
    payload: str = Field(sa_type=sa.Text(), nullable=False)


class IdempotencyKeyRow(Table, table=True):
    """What the first request with an idempotency key did (``ports.idempotency``): hashes of
    the key and of the request, and what the answer needs; no personal data."""

    __tablename__ = "idempotency_keys"
    __table_args__ = (
        # One first request per key and organisation, whichever process it ran in.
        sa.UniqueConstraint("organisation_id", "key_hash"),
    )

    id: int | None = Field(
        default=None,
        sa_column=sa.Column(sa.BigInteger().with_variant(sa.Integer(), "sqlite"), primary_key=True),
    )
    organisation_id: int = _fk("organisations.id", index=False)
    key_hash: str = Field(sa_type=sa.String(64), nullable=False)
    fingerprint: str = Field(sa_type=sa.String(64), nullable=False)
    outcome: str = Field(sa_type=sa.String(16), nullable=False)
    # Expired keys are purged by their age.
    created_at: datetime = Field(sa_column=sa.Column(UTCDateTime(), nullable=False, index=True))
    settled_at: datetime | None = _timestamp(nullable=True)
    wamid: str | None = Field(default=None, sa_type=sa.String(128), nullable=True)
    sent_at: datetime | None = _timestamp(nullable=True)
    error_code: int | None = Field(default=None, nullable=True)
    error_message: str | None = Field(default=None, sa_type=sa.Text(), nullable=True)
    # An accepted bulk's answer (``SettledKey.answer``): short JSON, no personal data.
    answer: str | None = Field(default=None, sa_type=sa.Text(), nullable=True)


class ParkedStatusRow(Table, table=True):
    """A status webhook whose message was not recorded yet (``delivery``): kept until the
    message appears (``apply_parked``), or for ``PARKED_STATUS_TTL``."""

    __tablename__ = "parked_statuses"

    id: int | None = Field(
        default=None,
        sa_column=sa.Column(sa.BigInteger().with_variant(sa.Integer(), "sqlite"), primary_key=True),
    )
    wamid: str = Field(sa_type=sa.String(128), index=True, nullable=False)
    status: str = Field(sa_type=sa.String(16), nullable=False)
    at: datetime = _timestamp(nullable=False)
    recipient_id: str = Field(sa_type=sa.String(32), nullable=False)
    phone_number_id: str = Field(sa_type=sa.String(64), nullable=False)
    callback_data: str | None = Field(default=None, sa_type=sa.Text(), nullable=True)
    error_code: int | None = Field(default=None, nullable=True)
    error_title: str | None = Field(default=None, sa_type=sa.Text(), nullable=True)
    error_details: str | None = Field(default=None, sa_type=sa.Text(), nullable=True)
    # Expiry: statuses parked for longer are forgotten (indexed: the sweep looks every second).
    received_at: datetime = Field(
        default=None, sa_column=sa.Column(UTCDateTime(), nullable=False, index=True)
    )


class ContactRow(Table, table=True):
    """A phone number (E.164) an organisation heard from or wrote to (``contacts``)."""

    __tablename__ = "contacts"
    # One contact per organisation and phone; the constraint is the lookup's index.
    __table_args__ = (sa.UniqueConstraint("organisation_id", "phone"),)

    id: int | None = Field(default=None, primary_key=True)
    organisation_id: int = _fk("organisations.id", index=False)
    phone: str = Field(sa_type=sa.String(16), nullable=False)
    source: str = Field(sa_type=sa.String(16), nullable=False)
    full_name: str | None = Field(default=None, sa_type=sa.String(256), nullable=True)
    profile_name: str | None = Field(default=None, sa_type=sa.String(256), nullable=True)
    email: str | None = Field(default=None, sa_type=sa.String(254), nullable=True)
    contact_list_id: int | None = Field(default=None, nullable=True)
    contact_list_name: str | None = Field(default=None, sa_type=sa.String(200), nullable=True)
    created_at: datetime = _timestamp(nullable=False)
    last_inbound_at: datetime | None = _timestamp(nullable=True)
    opted_out_at: datetime | None = _timestamp(nullable=True)
    opt_changed_at: datetime | None = _timestamp(nullable=True)


class ContactListRow(Table, table=True):
    """A named list of an organisation's contacts (``contact_lists``); contacts point at it and
    carry its name (lists are never renamed)."""

    __tablename__ = "contact_lists"
    __table_args__ = (sa.UniqueConstraint("organisation_id", "name"),)

    id: int | None = Field(default=None, primary_key=True)
    organisation_id: int = _fk("organisations.id", index=False)
    name: str = Field(sa_type=sa.String(200), nullable=False)
    created_at: datetime = _timestamp(nullable=False)


class OptOutPolicyRow(Table, table=True):
    """An organisation's own opt-out rules (``opt_out_policies``); none: the defaults. Words
    are stored as ``contacts.opt_out.keyword`` compares them."""

    __tablename__ = "opt_out_policies"

    organisation_id: int = Field(foreign_key="organisations.id", primary_key=True)
    stop_words: list[str] = _json()
    start_words: list[str] = _json()
    suppressed_categories: list[str] = _json()
    updated_at: datetime = _timestamp(nullable=False)


class UnknownOutcomePolicyRow(Table, table=True):
    """An organisation's own unknown-outcome policy (``unknown_outcome_policies``); none: the
    default (``bulks.unknown_outcomes``)."""

    __tablename__ = "unknown_outcome_policies"

    organisation_id: int = Field(foreign_key="organisations.id", primary_key=True)
    # "fail" or "resend".
    action: str = Field(sa_type=sa.String(16), nullable=False)
    window_seconds: int = Field(nullable=False)
    updated_at: datetime = _timestamp(nullable=False)


class InboundMessageRow(Table, table=True):
    """A message a contact sent to one of the organisation's numbers; one per wamid."""

    __tablename__ = "inbound_messages"
    __table_args__ = (
        # A contact's messages, newest first.
        sa.Index(None, "contact_id", "sent_at"),
    )

    id: int | None = Field(
        default=None,
        sa_column=sa.Column(sa.BigInteger().with_variant(sa.Integer(), "sqlite"), primary_key=True),
    )
    wamid: str = Field(sa_type=sa.String(128), unique=True, nullable=False)
    organisation_id: int = _fk("organisations.id", index=False)
    phone_number_row_id: int = _fk("phone_numbers.id", index=False)
    contact_id: int = _fk("contacts.id", index=False)
    type: str = Field(sa_type=sa.String(32), nullable=False)
    text: str | None = Field(default=None, sa_type=sa.Text(), nullable=True)
    payload: str | None = Field(default=None, sa_type=sa.String(256), nullable=True)
    context_wamid: str | None = Field(default=None, sa_type=sa.String(128), nullable=True)
    sent_at: datetime = _timestamp(nullable=False)
    received_at: datetime = _timestamp(nullable=False)


class AccountEventMarkRow(Table, table=True):
    """The time of the last account event applied to an object (``AccountEventMarks``)."""

    __tablename__ = "account_event_marks"

    object_key: str = Field(sa_type=sa.String(300), primary_key=True)
    applied_at: datetime = _timestamp(nullable=False)


class WebhookEndpointRow(Table, table=True):
    """An organisation's status-callback endpoint (``callbacks``)."""

    __tablename__ = "webhook_endpoints"

    id: int | None = Field(default=None, primary_key=True)
    organisation_id: int = _fk("organisations.id")
    url: str = Field(sa_type=sa.Text(), nullable=False)
    # Space-separated event types, sorted.
    events: str = Field(sa_type=sa.String(400), nullable=False)
    # Fernet ciphertexts (``adapters.crypto``); the plain secret is never stored.
    secret: bytes = Field(sa_type=sa.LargeBinary(), nullable=False)
    previous_secret: bytes | None = Field(default=None, sa_type=sa.LargeBinary(), nullable=True)
    previous_secret_expires_at: datetime | None = _timestamp(nullable=True)
    created_at: datetime = _timestamp(nullable=False)
    failing_since: datetime | None = _timestamp(nullable=True)
    disabled_at: datetime | None = _timestamp(nullable=True)
    disabled_reason: str | None = Field(default=None, sa_type=sa.Text(), nullable=True)


class CallbackDeliveryRow(Table, table=True):
    """One event for one endpoint: the outbox. Written in the transaction of the change it
    reports; claimed by one worker at a time (a lease)."""

    __tablename__ = "callback_deliveries"
    __table_args__ = (
        # Claims: the pending ones that are due, oldest first.
        sa.Index(None, "state", "next_attempt_at"),
        # Replays: an endpoint's events over a time range.
        sa.Index(None, "endpoint_id", "occurred_at"),
    )

    id: int | None = Field(
        default=None,
        sa_column=sa.Column(sa.BigInteger().with_variant(sa.Integer(), "sqlite"), primary_key=True),
    )
    endpoint_id: int = _fk("webhook_endpoints.id", index=False)
    organisation_id: int = Field(nullable=False)
    event_id: str = Field(sa_type=sa.String(36), nullable=False)
    event_type: str = Field(sa_type=sa.String(32), nullable=False)
    occurred_at: datetime = _timestamp(nullable=False)
    body: str = Field(sa_type=sa.Text(), nullable=False)
    # pending, delivered or failed (given up).
    state: str = Field(sa_type=sa.String(16), nullable=False)
    attempts: int = Field(nullable=False)
    next_attempt_at: datetime = _timestamp(nullable=False)
    leased_by: str | None = Field(default=None, sa_type=sa.String(128), nullable=True)
    leased_until: datetime | None = _timestamp(nullable=True)
    created_at: datetime = _timestamp(nullable=False)


class CallbackAttemptRow(Table, table=True):
    """One POST of a delivery, as the organisation lists it."""

    __tablename__ = "callback_attempts"
    __table_args__ = (sa.Index(None, "endpoint_id", "id"),)

    id: int | None = Field(
        default=None,
        sa_column=sa.Column(sa.BigInteger().with_variant(sa.Integer(), "sqlite"), primary_key=True),
    )
    endpoint_id: int = _fk("webhook_endpoints.id", index=False)
    delivery_id: int = Field(
        sa_column=sa.Column(
            sa.BigInteger().with_variant(sa.Integer(), "sqlite"),
            sa.ForeignKey("callback_deliveries.id"),
            nullable=False,
        )
    )
    at: datetime = _timestamp(nullable=False)
    status_code: int | None = Field(default=None, nullable=True)
    error: str | None = Field(default=None, sa_type=sa.Text(), nullable=True)
    delivered: bool = Field(nullable=False)
    duration_ms: int = Field(nullable=False)


class EngineWorkerRow(Table, table=True):
    """A running engine (``mindo worker`` or ``mindo serve``) and how long its heartbeat holds
    (``ownership``): the live ones share the numbers out."""

    __tablename__ = "engine_workers"

    worker_id: str = Field(sa_type=sa.String(128), primary_key=True)
    expires_at: datetime = _timestamp(nullable=False)


class NumberLeaseRow(Table, table=True):
    """Which worker sends for a phone number, until when (``ownership``), and until when the
    number's slots are taken by others (``number_pacing``). No foreign key: a lease outlives
    nothing but its expiry, and a number's deletion must not wait for one. A lease that ended
    keeps its row (``expires_at`` passed): its ``paced_until`` still counts."""

    __tablename__ = "number_leases"

    phone_number_row_id: int = Field(primary_key=True, sa_type=sa.BigInteger())
    worker_id: str = Field(sa_type=sa.String(128), index=True)
    expires_at: datetime = _timestamp(nullable=False)
    acquired_at: datetime = _timestamp(nullable=False)
    paced_until: datetime | None = _timestamp(nullable=True)


class QuotaReservationRow(Table, table=True):
    """A slot of an organisation's 24 h quota held for a single send let through whose message
    is not recorded yet (``quota_ledger``, PostgreSQL), until ``expires_at``. No foreign key, as
    leases: a reservation lives a few minutes at most."""

    __tablename__ = "quota_reservations"
    __table_args__ = (
        # A decision's reading of the live ones: those in flight (NULL) and those recorded
        # since its reading of the book, not the many recorded before (revision 0021).
        sa.Index(None, "organisation_id", "recorded_at"),
    )

    id: str = Field(sa_type=sa.String(32), primary_key=True)
    organisation_id: int = Field(sa_type=sa.BigInteger())
    wa_id: str = Field(sa_type=sa.String(32))
    expires_at: datetime = _timestamp(nullable=False)
    # When its message was known recorded (None: in flight). Kept until every process's reused
    # reading of the book is younger (``quota_ledger``).
    recorded_at: datetime | None = _timestamp(nullable=True)


class QuotaBookVersionRow(Table, table=True):
    """An organisation's quota book version: moved by triggers (revision 0021) in the same
    transaction as every change that adds to what its bulks owe outside a reservation, so a
    decision reusing a reading of the book knows when it must read it again (``quota_ledger``).
    No row: version 0. No foreign key, as reservations."""

    __tablename__ = "quota_book_versions"

    organisation_id: int = Field(sa_type=sa.BigInteger(), primary_key=True)
    version: int = Field(sa_type=sa.BigInteger(), nullable=False)
