"""Protobuf ⇄ core values for the RPCs, in one module."""

from __future__ import annotations

from datetime import datetime

from google.protobuf.timestamp_pb2 import Timestamp

from mindo_core.accounts import Organisation
from mindo_core.services.authenticate import Principal
from mindo_core.services.business_overview import (
    AccountOverview,
    BusinessOverview,
    NumberOverview,
    TemplateOverview,
)
from mindo_core.services.send_message import DEFAULT_LANGUAGE, SendMessageCommand, SentMessage
from mindo_grpc._pb.mindo.v1 import mindo_pb2 as pb

# proto3 has no null for scalars: -1 stands for "no limit" in quota fields.
UNLIMITED = -1


def timestamp(value: datetime | None) -> Timestamp | None:
    if value is None:
        return None
    stamp = Timestamp()
    stamp.FromDatetime(value)
    return stamp


def send_message_command(request: pb.SendMessageRequest) -> SendMessageCommand:
    language = request.language if request.HasField("language") else DEFAULT_LANGUAGE
    return SendMessageCommand(
        phone_number_id=request.phone_number_id,
        template_name=request.template_name,
        recipient_phone=request.recipient_phone,
        language=language,
        variables=dict(request.variables),
        button_variables=dict(request.button_variables),
    )


def send_message_response(sent: SentMessage) -> pb.SendMessageResponse:
    return pb.SendMessageResponse(
        message_id=sent.wamid,
        template_name=sent.template_name,
        recipient_phone=sent.recipient_phone,
        status="sent",
        sent_at=timestamp(sent.sent_at),
        id=sent.record.id,
    )


def api_key_info(principal: Principal) -> pb.ApiKeyInfo:
    key = principal.api_key
    return pb.ApiKeyInfo(
        organisation_name=principal.organisation.name,
        key_name=key.name,
        key_prefix=key.display_prefix,
        scopes=sorted(key.scopes),
        expires_at=timestamp(key.expires_at),
    )


def business_accounts(overview: BusinessOverview) -> pb.ListBusinessAccountsResponse:
    return pb.ListBusinessAccountsResponse(
        company_name=overview.organisation.name,
        api_key_name=overview.api_key_name,
        business_accounts=[_account(a) for a in overview.accounts],
    )


def _account(overview: AccountOverview) -> pb.BusinessAccount:
    account = overview.business_account
    return pb.BusinessAccount(
        business_account_id=account.id,
        business_name=account.name,
        waba_id=account.waba_id,
        phone_numbers=[_number(n) for n in overview.phone_numbers],
        templates=[_template(t) for t in overview.templates],
    )


def _number(overview: NumberOverview) -> pb.PhoneNumber:
    number, quota = overview.phone_number, overview.quota
    return pb.PhoneNumber(
        id=number.id,
        phone_number_id=number.phone_number_id,
        display_phone_number=number.display_phone_number,
        verified_name=number.verified_name,
        is_primary=number.is_primary,
        messaging_limit_tier=overview.tier.name,
        quality_rating=number.quality_rating,
        throughput_level=number.throughput_level,
        quota=pb.Quota(
            # -1 stands for "no limit" on the wire: proto3 has no null for scalars.
            daily_limit=UNLIMITED if quota.daily_limit is None else quota.daily_limit,
            unique_numbers_sent_24h=quota.unique_sent_24h,
            remaining=UNLIMITED if quota.remaining is None else quota.remaining,
            usage_percentage=quota.usage_percentage,
            can_send=quota.can_send,
        ),
    )


def _template(overview: TemplateOverview) -> pb.Template:
    template = overview.template
    return pb.Template(
        id=template.id,
        name=template.name,
        language=template.language,
        category=template.category,
        status=template.status,
        variables=[
            pb.TemplateVariable(
                name=v.name,
                type=v.type,
                position=v.position,
                is_required=v.is_required,
                component=v.component,
            )
            for v in overview.variables
        ],
    )


def business_info(organisation: Organisation) -> pb.BusinessInfo:
    profile = organisation.profile
    return pb.BusinessInfo(
        id=organisation.id,
        name=organisation.name,
        email=profile.email,
        phone=profile.phone,
        website=profile.website,
        address=profile.address,
        description=profile.description,
        timezone=profile.timezone,
        company_size=profile.company_size or "",
        company_types=list(profile.company_types),
        categories=list(profile.categories),
    )
