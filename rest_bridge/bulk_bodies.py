"""The bulk RPCs' replies as the documented JSON bodies, every field in the documented order.

- 202 of Send bulk (``accepted``): the Send bulk page; ``status`` is lowercase ``"queued"`` there.
  ``quota_available`` and ``quota_total`` are null for an unlimited tier (the service sends -1).
- Send status (``detail``, mindo-api.md §8) and List bulk sends items (``summary``, §9): status
  UPPERCASE as the service sends it. Not in the documentation: ``unique_recipients`` (after
  ``total_recipients``, as in the 202) and ``cancelled_count`` (after ``pending_count``), so
  that ``unique_recipients = sent + failed + pending + cancelled``; ``stop_reason`` is added
  last, only when the bulk stopped early.
- ``created_by``: the documentation shows the user who created the send. Mindo has API keys,
  not users, and ``Bulk`` does not carry the creating key yet: the documented keys are kept,
  all null, so a client reading ``created_by["email"]`` still works.
- Send messages items (``message``, §10): every empty string, unset time and zero id is null (a
  recipient not sent yet has no wamid and no times). ``status`` is always one of the service's
  seven recipient statuses.
"""

from __future__ import annotations

from mindo_grpc._pb.mindo.v1 import mindo_pb2
from rest_bridge.convert import iso_utc, iso_utc_or_null, limit_or_null, text_or_null

QUEUED = "queued"
CREATED_BY_KEYS = ("id", "email", "first_name", "last_name")


def accepted(reply: mindo_pb2.SendBulkResponse) -> dict[str, object]:
    body: dict[str, object] = {
        "bulk_send_id": reply.bulk_send_id,
        "task_id": reply.task_id,
        "status": (reply.status or QUEUED).lower(),
        "template_name": reply.template_name,
        "total_recipients": reply.total_recipients,
        "unique_recipients": reply.unique_recipients,
        "estimated_time_minutes": reply.estimated_time_minutes,
        "created_at": iso_utc(reply.created_at),
        "whatsapp_phone_number": _whatsapp_number(reply.whatsapp_phone_number),
        "quota_info": _quota(reply.quota_info),
    }
    if reply.HasField("send_at"):
        body["send_at"] = iso_utc(reply.send_at)
    if reply.parent_bulk_send_id:
        body["parent_bulk_send_id"] = reply.parent_bulk_send_id
    return body


def resent(reply: mindo_pb2.ResendFailedResponse) -> dict[str, object]:
    """The 202 of resend-failed: the new bulk's, and what was taken and left of the first."""
    return {
        **accepted(reply.bulk),
        "resent_count": reply.resent_count,
        "left_count": reply.left_count,
        "left_by_reason": dict(reply.left_by_reason),
    }


def _whatsapp_number(number: mindo_pb2.WhatsAppPhoneNumber) -> dict[str, object]:
    return {
        "id": number.id,
        "phone_number_id": number.phone_number_id,
        "display_phone_number": number.display_phone_number,
        "verified_name": number.verified_name,
        "quality_rating": number.quality_rating,
        "messaging_limit_tier": number.messaging_limit_tier,
    }


def _quota(quota: mindo_pb2.QuotaInfo) -> dict[str, object]:
    return {
        "can_send": quota.can_send,
        "quota_needed": quota.quota_needed,
        "quota_available": limit_or_null(quota.quota_available),
        "quota_total": limit_or_null(quota.quota_total),
        "tier": quota.tier,
    }


def detail(bulk: mindo_pb2.Bulk) -> dict[str, object]:
    """Send status (§8)."""
    body: dict[str, object] = {
        **_identity(bulk),
        **_counters(bulk),
        "estimated_time_minutes": bulk.estimated_time_minutes,
        # 0: a server from before it was kept, whose estimate is the original.
        "original_estimated_time_minutes": bulk.original_estimated_time_minutes
        or bulk.estimated_time_minutes,
        "estimated_completion_at": iso_utc_or_null(bulk, "estimated_completion_at"),
        "started_at": iso_utc_or_null(bulk, "started_at"),
        "completed_at": iso_utc_or_null(bulk, "completed_at"),
        "created_at": iso_utc(bulk.created_at),
        "created_by": dict.fromkeys(CREATED_BY_KEYS),
    }
    return _with_stop_reason(body, bulk)


def summary(bulk: mindo_pb2.Bulk) -> dict[str, object]:
    """An item of List bulk sends (§9): no started_at, estimated_time_minutes, created_by;
    estimated_completion_at (ours) so that a list shows when each bulk should be done."""
    body: dict[str, object] = {
        **_identity(bulk),
        **_counters(bulk),
        "created_at": iso_utc(bulk.created_at),
        "completed_at": iso_utc_or_null(bulk, "completed_at"),
        "estimated_completion_at": iso_utc_or_null(bulk, "estimated_completion_at"),
    }
    return _with_stop_reason(body, bulk)


def _identity(bulk: mindo_pb2.Bulk) -> dict[str, object]:
    template, number = bulk.template, bulk.phone_number
    return {
        "id": bulk.id,
        "status": bulk.status.upper(),
        "template": {
            "id": template.id,
            "template_name": template.template_name,
            "language": template.language,
            "status": template.status,
        },
        "phone_number": {
            "id": number.id,
            "display_phone_number": number.display_phone_number,
            "verified_name": number.verified_name,
        },
    }


def _counters(bulk: mindo_pb2.Bulk) -> dict[str, object]:
    return {
        "total_recipients": bulk.total_recipients,
        "unique_recipients": bulk.unique_recipients,
        "sent_count": bulk.sent_count,
        "delivered_count": bulk.delivered_count,
        "read_count": bulk.read_count,
        "failed_count": bulk.failed_count,
        "pending_count": bulk.pending_count,
        "cancelled_count": bulk.cancelled_count,
        "opted_out_count": bulk.opted_out_count,
        "unknown_resent_count": bulk.unknown_resent_count,
        "progress_percentage": bulk.progress_percentage,
    }


def _with_stop_reason(body: dict[str, object], bulk: mindo_pb2.Bulk) -> dict[str, object]:
    """With ``stop_reason``, ``send_at``, ``pause_reason``, ``parent_bulk_send_id`` and
    ``send_window`` (ours), each only when the bulk has one."""
    if bulk.stop_reason:
        body["stop_reason"] = bulk.stop_reason
    if bulk.pause_reason:
        body["pause_reason"] = bulk.pause_reason
    if bulk.parent_bulk_send_id:
        body["parent_bulk_send_id"] = bulk.parent_bulk_send_id
    if bulk.HasField("send_window"):
        window = bulk.send_window
        body["send_window"] = {
            "start": window.start,
            "end": window.end,
            "fallback_time_zone": window.fallback_time_zone,
        }
    if bulk.HasField("send_at"):
        body["send_at"] = iso_utc(bulk.send_at)
    return body


def message(item: mindo_pb2.BulkMessage) -> dict[str, object]:
    """An item of Send messages (§10)."""
    return {
        "id": item.id or None,
        "recipient_phone": item.recipient_phone,
        "status": text_or_null(item.status),
        "meta_message_id": text_or_null(item.meta_message_id),
        "variables_used": dict(item.variables_used),
        "sent_at": iso_utc_or_null(item, "sent_at"),
        "delivered_at": iso_utc_or_null(item, "delivered_at"),
        "read_at": iso_utc_or_null(item, "read_at"),
        "error_message": text_or_null(item.error_message),
        "resent_at": iso_utc_or_null(item, "resent_at"),
    }
