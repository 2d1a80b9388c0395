"""Protobuf ⇄ core values for the bulk RPCs."""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from datetime import date

from mindo_core.bulks.model import (
    RECIPIENT_STATUSES,
    Bulk,
    BulkRecipient,
    RecipientStatus,
    parse_bulk_status,
    recipient_status,
)
from mindo_core.bulks.send_window import SendWindow
from mindo_core.bulks.timeline import TimelinePoint
from mindo_core.domain.errors import InvalidRequest
from mindo_core.domain.templates import TemplateId
from mindo_core.ports.bulks import BulkFilter
from mindo_core.services.approved_template import DEFAULT_LANGUAGE
from mindo_core.services.bulk_queries import BulkView
from mindo_core.services.resend_failed import ResendFailedCommand, ResentBulk
from mindo_core.services.submit_bulk import BulkIdempotency, SubmitBulkCommand, SubmittedBulk
from mindo_grpc._pb.mindo.v1 import mindo_pb2 as pb
from mindo_grpc.convert import UNLIMITED, timestamp


def submit_command(request: pb.SendBulkRequest) -> SubmitBulkCommand:
    return SubmitBulkCommand(
        phone_number_id=request.phone_number_id,
        template_name=request.template_name,
        language=request.language if request.HasField("language") else DEFAULT_LANGUAGE,
        pacing=request.pacing or None,
        # As they are: a BulkRecipient is a SubmittedRecipient, and copying 100,000 of them
        # would cost more than checking them.
        recipients=request.recipients,
        idempotency=_idempotency(request),
        send_at=request.send_at if request.HasField("send_at") else None,
        send_window=(
            (request.send_window.start, request.send_window.end)
            if request.HasField("send_window")
            else None
        ),
    )


def _idempotency(request: pb.SendBulkRequest) -> BulkIdempotency | None:
    if not request.HasField("idempotency_key"):
        return None
    return BulkIdempotency(
        key=request.idempotency_key, request_fingerprint=request_fingerprint(request)
    )


def request_fingerprint(request: pb.SendBulkRequest) -> str:
    """SHA-256 of the request's deterministic wire bytes (maps sorted): the same request, the
    same digest, at C speed. The key is in the bytes too, which changes nothing: fingerprints
    are only compared between requests with the same key."""
    return hashlib.sha256(request.SerializeToString(deterministic=True)).hexdigest()


def submitted(result: SubmittedBulk) -> pb.SendBulkResponse:
    """``total_recipients`` is the submitted count, duplicates included (documented), as
    GetBulk says it too."""
    bulk, number, quota = result.bulk, result.phone_number, result.quota
    return pb.SendBulkResponse(
        bulk_send_id=bulk.id,
        task_id=bulk.task_id,
        status="queued" if bulk.send_at is None else "scheduled",
        template_name=bulk.template_name,
        total_recipients=bulk.total_recipients,
        unique_recipients=bulk.counters.total,
        estimated_time_minutes=bulk.estimated_time_minutes,
        created_at=timestamp(bulk.created_at),
        whatsapp_phone_number=pb.WhatsAppPhoneNumber(
            id=number.id,
            phone_number_id=number.phone_number_id,
            display_phone_number=number.display_phone_number,
            verified_name=number.verified_name,
            quality_rating=number.quality_rating,
            messaging_limit_tier=quota.tier,
        ),
        quota_info=pb.QuotaInfo(
            can_send=quota.can_send,
            quota_needed=quota.quota_needed,
            quota_available=_or_unlimited(quota.quota_available),
            quota_total=_or_unlimited(quota.quota_total),
            tier=quota.tier,
        ),
        send_at=timestamp(bulk.send_at),
        parent_bulk_send_id=bulk.parent_bulk_id or "",
    )


# Enough for any real list of Meta's codes; a longer one is a mistake, refused with its size.
MAX_ERROR_CODES = 100


def resend_command(request: pb.ResendFailedRequest) -> ResendFailedCommand:
    return ResendFailedCommand(
        bulk_send_id=request.bulk_send_id,
        error_codes=_error_codes(request.error_codes),
        pacing=request.pacing if request.HasField("pacing") else None,
        idempotency_key=(request.idempotency_key if request.HasField("idempotency_key") else None),
    )


def _error_codes(codes: Sequence[int]) -> frozenset[int] | None:
    if not codes:
        return None
    if len(codes) > MAX_ERROR_CODES:
        raise InvalidRequest.for_field(
            "error_codes", f"at most {MAX_ERROR_CODES} codes, not {len(codes)}"
        )
    wrong = [code for code in codes if code < 0]
    if wrong:
        raise InvalidRequest.for_field(
            "error_codes", f"Meta's codes are 0 or more; {wrong[0]} is not"
        )
    return frozenset(codes)


def resent(result: ResentBulk) -> pb.ResendFailedResponse:
    return pb.ResendFailedResponse(
        bulk=submitted(result.submitted),
        resent_count=result.taken,
        left_count=sum(result.left.values()),
        left_by_reason=dict(result.left),
    )


def bulk(view: BulkView) -> pb.Bulk:
    b: Bulk = view.bulk
    counters = b.counters
    return pb.Bulk(
        id=b.id,
        status=b.status,
        template=pb.BulkTemplate(
            id=view.template.id,
            template_name=view.template.name,
            language=view.template.language,
            status=view.template.status,
        ),
        phone_number=pb.BulkPhoneNumber(
            id=view.phone_number.id,
            display_phone_number=view.phone_number.display_phone_number,
            verified_name=view.phone_number.verified_name,
        ),
        total_recipients=b.total_recipients,
        unique_recipients=counters.total,
        sent_count=counters.sent,
        delivered_count=counters.delivered,
        read_count=counters.read,
        failed_count=counters.failed,
        pending_count=counters.pending,
        cancelled_count=counters.cancelled,
        opted_out_count=counters.opted_out,
        progress_percentage=counters.progress_percentage,
        estimated_time_minutes=b.estimated_time_minutes,
        original_estimated_time_minutes=b.original_estimate_minutes,
        estimated_completion_at=timestamp(b.expected_completion_at),
        started_at=timestamp(b.started_at),
        completed_at=timestamp(b.completed_at),
        created_at=timestamp(b.created_at),
        stop_reason=b.stop_reason or "",
        send_at=timestamp(b.send_at),
        pause_reason=b.pause_reason or "",
        parent_bulk_send_id=b.parent_bulk_id or "",
        send_window=_send_window(b.send_window),
        unknown_resent_count=b.resent_count,
    )


def _send_window(window: SendWindow | None) -> pb.SendWindow | None:
    if window is None:
        return None
    return pb.SendWindow(
        start=f"{window.start:%H:%M}",
        end=f"{window.end:%H:%M}",
        fallback_time_zone=window.fallback_zone,
    )


def bulk_message(recipient: BulkRecipient) -> pb.BulkMessage:
    return pb.BulkMessage(
        id=recipient.message_id or 0,
        recipient_phone=recipient.e164,
        status=recipient_status(recipient.state),
        meta_message_id=recipient.wamid or "",
        variables_used=dict(recipient.variables_used),
        sent_at=timestamp(recipient.sent_at),
        delivered_at=timestamp(recipient.delivered_at),
        read_at=timestamp(recipient.read_at),
        error_message=recipient.error_message or "",
        position=recipient.position,
        error_code=recipient.error_code,
        failed_at=timestamp(recipient.failed_at),
        resent_at=timestamp(recipient.resent_at),
    )


def bulk_filter(request: pb.ListBulksRequest) -> BulkFilter:
    return BulkFilter(
        status=parse_bulk_status(request.status) if request.status else None,
        template_id=TemplateId(request.template_id) if request.template_id else None,
        created_after=_day(request.created_after, "created_after"),
        created_before=_day(request.created_before, "created_before"),
    )


def _day(text: str, field: str) -> date | None:
    if not text:
        return None
    try:
        return date.fromisoformat(text)
    except ValueError:
        raise InvalidRequest.for_field(field, "Date has wrong format. Use YYYY-MM-DD.") from None


def _or_unlimited(value: int | None) -> int:
    return UNLIMITED if value is None else value


def recipient_status_filter(text: str) -> RecipientStatus | None:
    if not text:
        return None
    status = text.strip().lower()
    for known in RECIPIENT_STATUSES:
        if known == status:
            return known
    raise InvalidRequest.for_field(
        "status", f"{text[:64]!r} is not one of {', '.join(RECIPIENT_STATUSES)}"
    )


def timeline(points: tuple[TimelinePoint, ...]) -> pb.BulkTimeline:
    return pb.BulkTimeline(
        points=[
            pb.BulkTimelinePoint(
                at=timestamp(p.at), sent=p.sent, delivered=p.delivered, read=p.read, failed=p.failed
            )
            for p in points
        ]
    )
