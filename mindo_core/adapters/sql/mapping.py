"""Rows ⇄ the core's values, in one place. Nothing outside ``adapters.sql`` sees a row."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import UTC, datetime
from typing import cast

from mindo_core.access.api_keys import ALL_SCOPES, ApiKey, ApiKeyId, Scope
from mindo_core.adapters.sql.tables import (
    ApiKeyRow,
    BulkRow,
    BusinessAccountRow,
    MessageRow,
    OrganisationRow,
    PhoneNumberRow,
    TemplateRow,
)
from mindo_core.adapters.sql.types import require_aware
from mindo_core.bulks.model import (
    Bulk,
    BulkCounters,
    BulkId,
    BulkRecipient,
    BulkStatus,
    RecipientState,
    message_status,
    planned_completion_at,
)
from mindo_core.bulks.send_window import SendWindow
from mindo_core.domain.accounts import (
    BusinessAccount,
    BusinessAccountId,
    Organisation,
    OrganisationId,
    OrganisationProfile,
    PhoneNumber,
    PhoneNumberRowId,
    QualityPolicy,
)
from mindo_core.domain.messages import DeliveryState, MessageId, MessageRecord, NewMessage
from mindo_core.domain.templates import StoredTemplate, TemplateId
from mindo_core.ports.bulks import NewBulk
from mindo_core.ports.meta import PhoneNumberInfo, TemplateInfo

# --------------------------------------------------------------------------------------------
# Rows → values


def organisation(row: OrganisationRow) -> Organisation:
    return Organisation(
        id=OrganisationId(_id(row.id)),
        name=row.name,
        profile=OrganisationProfile.from_json(row.profile or {}),
        quality_policy=quality_policy(row.quality_policy),
    )


def api_key(row: ApiKeyRow) -> ApiKey:
    return ApiKey(
        id=ApiKeyId(_id(row.id)),
        organisation_id=OrganisationId(row.organisation_id),
        name=row.name,
        display_prefix=row.display_prefix,
        key_hash=row.key_hash,
        scopes=scopes_from_text(row.scopes),
        created_at=_utc(row.created_at),
        expires_at=_utc_or_none(row.expires_at),
        revoked_at=_utc_or_none(row.revoked_at),
    )


def business_account(row: BusinessAccountRow) -> BusinessAccount:
    return BusinessAccount(
        id=BusinessAccountId(_id(row.id)),
        organisation_id=OrganisationId(row.organisation_id),
        waba_id=row.waba_id,
        name=row.name,
    )


def phone_number(row: PhoneNumberRow) -> PhoneNumber:
    return PhoneNumber(
        id=PhoneNumberRowId(_id(row.id)),
        business_account_id=BusinessAccountId(row.business_account_id),
        phone_number_id=row.phone_number_id,
        display_phone_number=row.display_phone_number,
        verified_name=row.verified_name,
        quality_rating=row.quality_rating,
        messaging_limit_tier=row.messaging_limit_tier,
        throughput_level=row.throughput_level,
        is_primary=row.is_primary,
    )


def template(row: TemplateRow) -> StoredTemplate:
    return StoredTemplate(
        id=TemplateId(_id(row.id)),
        business_account_id=BusinessAccountId(row.business_account_id),
        meta_template_id=row.meta_template_id,
        name=row.name,
        language=row.language,
        status=row.status,
        category=row.category,
        parameter_format=row.parameter_format,
        components=tuple(row.components),
        variable_defaults=dict(row.variable_defaults),
    )


def message(row: MessageRow) -> MessageRecord:
    """A single send, or a bulk recipient that has a message-level status.

    A bulk recipient still pending, in flight, cancelled, skipped or opted out is no message
    (nothing reached Meta, it has no wamid): it is listed as a ``BulkRecipient``, never as a
    ``MessageRecord``. Unconfirmed recipients show as failed, with their reason.
    """
    return MessageRecord(
        id=MessageId(_id(row.id)),
        organisation_id=OrganisationId(row.organisation_id),
        phone_number_row_id=PhoneNumberRowId(row.phone_number_row_id),
        template_id=TemplateId(row.template_id),
        recipient_phone=row.recipient_phone,
        variables_used=dict(row.variables_used),
        wamid=row.wamid,
        status=delivery_status(row.status),
        created_at=_utc(row.created_at),
        sent_at=_utc_or_none(row.sent_at),
        delivered_at=_utc_or_none(row.delivered_at),
        read_at=_utc_or_none(row.read_at),
        failed_at=_utc_or_none(row.failed_at),
        error_code=row.error_code,
        error_message=row.error_message,
    )


def delivery_status(stored: str) -> DeliveryState:
    """``messages.status`` as the message-level status. Single sends store sent or failed,
    which read the same as recipient states."""
    status = message_status(recipient_state(stored))
    if status is None:
        raise ValueError(f"a {stored} bulk recipient has no message-level status yet")
    return status


def recipient_state(stored: str) -> RecipientState:
    return cast(RecipientState, stored)


def bulk(row: BulkRow, *, template_name: str, language: str) -> Bulk:
    return Bulk(
        id=BulkId(row.id),
        task_id=row.task_id,
        organisation_id=OrganisationId(row.organisation_id),
        phone_number_row_id=PhoneNumberRowId(row.phone_number_row_id),
        template_id=TemplateId(row.template_id),
        template_name=template_name,
        language=language,
        status=bulk_status(row.status),
        counters=counters(row),
        total_recipients=row.total_recipients,
        estimated_time_minutes=row.estimated_time_minutes,
        original_estimated_time_minutes=row.original_estimated_time_minutes,
        estimated_completion_at=_utc_or_none(row.estimated_completion_at),
        created_at=_utc(row.created_at),
        created_by=None if row.created_by is None else ApiKeyId(row.created_by),
        started_at=_utc_or_none(row.started_at),
        completed_at=_utc_or_none(row.completed_at),
        stop_reason=row.stop_reason,
        pacing=row.pacing,
        send_at=_utc_or_none(row.send_at),
        pause_reason=row.pause_reason,
        parent_bulk_id=None if row.parent_bulk_id is None else BulkId(row.parent_bulk_id),
        send_window=None if row.send_window is None else SendWindow.from_text(row.send_window),
        resent_count=row.resent_count,
    )


def quality_policy(stored: str) -> QualityPolicy:
    return "continue" if stored == "continue" else "pause"


def bulk_status(stored: str) -> BulkStatus:
    return cast(BulkStatus, stored)


def counters(row: BulkRow) -> BulkCounters:
    # One per unique recipient: every one is sent, failed, pending or cancelled
    # (``total_recipients`` is the count as submitted, duplicates included).
    total = row.sent_count + row.failed_count + row.pending_count + row.cancelled_count
    return BulkCounters(
        total=total,
        sent=row.sent_count,
        delivered=row.delivered_count,
        read=row.read_count,
        failed=row.failed_count,
        pending=row.pending_count,
        cancelled=row.cancelled_count,
        opted_out=row.opted_out_count,
    )


def bulk_recipient(row: MessageRow) -> BulkRecipient:
    if row.bulk_id is None or row.position is None:
        raise ValueError(f"message {row.id} is a single send, not a bulk recipient")
    return BulkRecipient(
        bulk_id=BulkId(row.bulk_id),
        position=row.position,
        e164=row.recipient_phone,
        variables_used=dict(row.variables_used),
        state=recipient_state(row.status),
        not_before=_utc_or_none(row.not_before),
        wamid=row.wamid,
        attempts=row.attempts,
        sent_at=_utc_or_none(row.sent_at),
        delivered_at=_utc_or_none(row.delivered_at),
        read_at=_utc_or_none(row.read_at),
        failed_at=_utc_or_none(row.failed_at),
        error_code=row.error_code,
        error_message=row.error_message,
        message_id=MessageId(row.id) if row.id is not None else None,
        resent_at=_utc_or_none(row.resent_at),
    )


# --------------------------------------------------------------------------------------------
# Values → column values


def phone_number_columns(info: PhoneNumberInfo) -> dict[str, str]:
    """What Meta says about a number; everything a refresh overwrites."""
    return {
        "phone_number_id": info.phone_number_id,
        "display_phone_number": info.display_phone_number,
        "verified_name": info.verified_name,
        "quality_rating": info.quality_rating,
        "messaging_limit_tier": info.messaging_limit_tier,
        "throughput_level": info.throughput_level,
    }


def template_columns(info: TemplateInfo) -> dict[str, object]:
    """Meta's definition of a template; everything a refresh overwrites (never the defaults)."""
    return {
        "meta_template_id": info.meta_template_id,
        "name": info.name,
        "language": info.language,
        "status": info.status,
        "category": info.category,
        "parameter_format": info.parameter_format,
        "components": [dict(component) for component in info.components],
    }


def new_message_values(new: NewMessage) -> dict[str, object]:
    """A single send's ``messages`` row as the values of a Core insert (the hot path writes
    many at once without building ORM objects)."""
    return {
        "organisation_id": new.organisation_id,
        "phone_number_row_id": new.phone_number_row_id,
        "template_id": new.template_id,
        "recipient_phone": new.recipient_phone,
        "variables_used": dict(new.variables_used),
        "wamid": new.wamid,
        "status": new.status,
        "created_at": _utc(new.created_at),
        "sent_at": _utc_or_none(new.sent_at),
        "failed_at": _utc_or_none(new.failed_at),
        "error_code": new.error_code,
        "error_message": new.error_message,
    }


def added_message(new: NewMessage, row_id: int) -> MessageRecord:
    """The record of a single send just inserted as ``row_id`` (as ``message`` would read it
    back: nothing delivered or read yet)."""
    return MessageRecord(
        id=MessageId(row_id),
        organisation_id=new.organisation_id,
        phone_number_row_id=new.phone_number_row_id,
        template_id=new.template_id,
        recipient_phone=new.recipient_phone,
        variables_used=dict(new.variables_used),
        wamid=new.wamid,
        status=delivery_status(new.status),
        created_at=_utc(new.created_at),
        sent_at=_utc_or_none(new.sent_at),
        delivered_at=None,
        read_at=None,
        failed_at=_utc_or_none(new.failed_at),
        error_code=new.error_code,
        error_message=new.error_message,
    )


def new_bulk_row(new: NewBulk, *, recipients: int) -> BulkRow:
    """A queued bulk whose ``recipients`` (unique) are all pending."""
    return BulkRow(
        id=new.id,
        task_id=new.task_id,
        organisation_id=new.organisation_id,
        phone_number_row_id=new.phone_number_row_id,
        template_id=new.template_id,
        pacing=new.pacing,
        status="QUEUED" if new.send_at is None else "SCHEDULED",
        send_at=None if new.send_at is None else _utc(new.send_at),
        total_recipients=new.total_recipients,
        estimated_time_minutes=new.estimated_time_minutes,
        original_estimated_time_minutes=new.estimated_time_minutes,
        estimated_completion_at=_utc(
            planned_completion_at(new.send_at or new.created_at, new.estimated_time_minutes)
        ),
        sent_count=0,
        delivered_count=0,
        read_count=0,
        failed_count=0,
        pending_count=recipients,
        cancelled_count=0,
        opted_out_count=0,
        resent_count=0,
        created_at=_utc(new.created_at),
        created_by=new.created_by,
        parent_bulk_id=new.parent_bulk_id,
        send_window=None if new.send_window is None else new.send_window.text(),
    )


def variable_defaults_column(defaults: Mapping[str, str]) -> dict[str, str]:
    return dict(defaults)


# --------------------------------------------------------------------------------------------
# Small conversions


def scopes_to_text(scopes: frozenset[Scope]) -> str:
    return " ".join(sorted(scopes))


def scopes_from_text(text: str) -> frozenset[Scope]:
    # A scope this version does not know (written by a newer one) grants nothing here.
    return frozenset(s for s in text.split() if s in ALL_SCOPES)


def timestamp(value: datetime) -> datetime:
    return _utc(value)


def _utc(value: datetime) -> datetime:
    return require_aware(value).astimezone(UTC)


def _utc_or_none(value: datetime | None) -> datetime | None:
    return None if value is None else _utc(value)


def _id(value: int | None) -> int:
    if value is None:
        raise ValueError("row has no id yet: it must be flushed before it is converted")
    return value
