"""Rows ⇄ the core's values, in one place. Nothing outside ``adapters.sql`` sees a row."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import UTC, datetime
from typing import cast

from mindo_core.accounts import (
    BusinessAccount,
    BusinessAccountId,
    Organisation,
    OrganisationId,
    PhoneNumber,
    PhoneNumberRowId,
)
from mindo_core.adapters.sql.tables import (
    ApiKeyRow,
    BusinessAccountRow,
    MessageRow,
    OrganisationRow,
    PhoneNumberRow,
    TemplateRow,
)
from mindo_core.adapters.sql.types import require_aware
from mindo_core.api_keys import ALL_SCOPES, ApiKey, ApiKeyId, Scope
from mindo_core.messages import DeliveryState, MessageId, MessageRecord, NewMessage
from mindo_core.ports import PhoneNumberInfo, TemplateInfo
from mindo_core.template_records import StoredTemplate, TemplateId

# --------------------------------------------------------------------------------------------
# Rows → values


def organisation(row: OrganisationRow) -> Organisation:
    return Organisation(id=OrganisationId(_id(row.id)), name=row.name)


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
    return MessageRecord(
        id=MessageId(_id(row.id)),
        organisation_id=OrganisationId(row.organisation_id),
        phone_number_row_id=PhoneNumberRowId(row.phone_number_row_id),
        template_id=TemplateId(row.template_id),
        recipient_phone=row.recipient_phone,
        variables_used=dict(row.variables_used),
        wamid=row.wamid,
        status=cast(DeliveryState, row.status),
        created_at=_utc(row.created_at),
        sent_at=_utc_or_none(row.sent_at),
        delivered_at=_utc_or_none(row.delivered_at),
        read_at=_utc_or_none(row.read_at),
        failed_at=_utc_or_none(row.failed_at),
        error_code=row.error_code,
        error_message=row.error_message,
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


def new_message_row(new: NewMessage) -> MessageRow:
    return MessageRow(
        organisation_id=new.organisation_id,
        phone_number_row_id=new.phone_number_row_id,
        template_id=new.template_id,
        recipient_phone=new.recipient_phone,
        variables_used=dict(new.variables_used),
        wamid=new.wamid,
        status=new.status,
        created_at=_utc(new.created_at),
        sent_at=_utc_or_none(new.sent_at),
        failed_at=_utc_or_none(new.failed_at),
        error_code=new.error_code,
        error_message=new.error_message,
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
