"""Protobuf ⇄ core values for the RPCs, in one module."""

from __future__ import annotations

from datetime import datetime

from google.protobuf.timestamp_pb2 import Timestamp

from mindo_core.contacts.imports import ContactInput, ImportReport
from mindo_core.contacts.model import Contact, ContactList
from mindo_core.domain.accounts import Organisation
from mindo_core.domain.errors import MindoError
from mindo_core.services.approved_template import DEFAULT_LANGUAGE
from mindo_core.services.authenticate import Principal
from mindo_core.services.business_overview import (
    AccountOverview,
    BusinessOverview,
    NumberOverview,
    TemplateOverview,
)
from mindo_core.services.contact_lookup import ContactLookupResult
from mindo_core.services.ingest_webhook import IngestReport
from mindo_core.services.message_status import MessageView
from mindo_core.services.send_message import SendMessageCommand, SentMessage
from mindo_grpc._pb.mindo.v1 import mindo_pb2 as pb
from mindo_grpc.errors import details_for

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


def message(view: MessageView) -> pb.Message:
    record, template = view.message, view.template
    status = record.status
    delivery = pb.DeliveryStatus(
        current=status,
        sent_at=timestamp(record.sent_at),
        delivered_at=timestamp(record.delivered_at),
        read_at=timestamp(record.read_at),
        failed_at=timestamp(record.failed_at),
        error_message=(record.error_message or "") if status == "failed" else "",
    )
    if status == "failed" and record.error_code is not None:
        delivery.error_code = record.error_code
    return pb.Message(
        id=record.id,
        template=pb.MessageTemplate(
            id=record.template_id,
            name=template.name if template else "",
            language=template.language if template else "",
            category=template.category if template else "",
        ),
        recipient=_recipient(record.recipient_phone, view.contact),
        variables_used=dict(record.variables_used),
        delivery_status=delivery,
        meta_message_id=record.wamid or "",
        was_successful=view.was_successful,
        error_message=view.send_error or "",
        sent_at=timestamp(record.sent_at or record.created_at),
    )


def _recipient(phone: str, contact: Contact | None) -> pb.MessageRecipient:
    if contact is None:
        return pb.MessageRecipient(phone=phone)
    return pb.MessageRecipient(
        phone=phone, contact_name=contact.display_name, contact_id=contact.id
    )


def ingest_result(answer: IngestReport | MindoError) -> pb.IngestWebhookResult:
    """One POST of a batch: its counts, or its refusal as the error table says it."""
    if isinstance(answer, MindoError):
        details = details_for(answer)
        return pb.IngestWebhookResult(
            grpc_code=details.status.value[0],
            error_code=details.code,
            error_message=details.message,
        )
    return pb.IngestWebhookResult(
        statuses=answer.statuses,
        account_events=answer.account_events,
        inbound_messages=answer.inbound_messages,
    )


def ingest_report(report: IngestReport) -> pb.IngestWebhookResponse:
    return pb.IngestWebhookResponse(
        statuses=report.statuses,
        account_events=report.account_events,
        inbound_messages=report.inbound_messages,
    )


def contact_lookup(result: ContactLookupResult) -> pb.LookupContactResponse:
    window = result.window
    return pb.LookupContactResponse(
        found=result.found,
        contact=None if result.contact is None else _contact(result.contact),
        has_replied=window.has_replied,
        last_reply_at=timestamp(window.last_reply_at),
        session_window_active=window.active,
        session_expires_at=timestamp(window.expires_at),
        opted_out=result.contact is not None and result.contact.opted_out,
        opted_out_at=None if result.contact is None else timestamp(result.contact.opted_out_at),
    )


def _contact(contact: Contact) -> pb.Contact:
    return pb.Contact(
        id=contact.id,
        full_name=contact.display_name,
        phone=contact.phone,
        email=contact.email,
        contact_list_id=contact.contact_list_id,
        contact_list_name=contact.contact_list_name,
        source=contact.source,
        created_at=timestamp(contact.created_at),
    )


def suppressed_phone(contact: Contact) -> pb.SuppressedPhone:
    return pb.SuppressedPhone(
        phone=contact.phone,
        since=timestamp(contact.opted_out_at),
        contact_name=contact.display_name,
        contact_id=contact.id,
    )


def contact_input(row: pb.ContactInput) -> ContactInput:
    return ContactInput(phone=row.phone, full_name=row.full_name or None, email=row.email or None)


def contact_list(listed: ContactList) -> pb.ContactList:
    return pb.ContactList(
        id=listed.id, name=listed.name, created_at=timestamp(listed.created_at), size=listed.size
    )


def import_report(report: ImportReport) -> pb.ImportContactsResponse:
    listed = report.contact_list
    return pb.ImportContactsResponse(
        created=report.created,
        updated=report.updated,
        merged=report.merged,
        contact_list=None if listed is None else contact_list(listed),
    )
