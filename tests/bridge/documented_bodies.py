"""The bodies the documentation shows (../shared/mindo-api.md §3, §8, §9), spelled out once for
the bridge tests, in the documented key order. Written here, not imported from the bridge's own
OpenAPI examples, so that a change there cannot quietly change what the tests expect."""

from __future__ import annotations

from typing import Any

BULK_ID = "a3f2b8c9-4d5e-6f7a-8b9c-0d1e2f3a4b5c"

# §3, the 202 of Send bulk.
DOCUMENTED_ACCEPTED: dict[str, Any] = {
    "bulk_send_id": BULK_ID,
    "task_id": "7f8e9d0c-1b2a-3c4d-5e6f-7a8b9c0d1e2f",
    "status": "queued",
    "template_name": "welcome_message",
    "total_recipients": 3,
    "unique_recipients": 3,
    "estimated_time_minutes": 0.4,
    "created_at": "2025-11-16T21:30:00Z",
    "whatsapp_phone_number": {
        "id": 123,
        "phone_number_id": "813497231850626",
        "display_phone_number": "+54 9 223 675-0780",
        "verified_name": "Mindo Software",
        "quality_rating": "GREEN",
        "messaging_limit_tier": "TIER_1000",
    },
    "quota_info": {
        "can_send": True,
        "quota_needed": 3,
        "quota_available": 997,
        "quota_total": 1000,
        "tier": "TIER_1000",
    },
}

# What a bulk's detail (§8) and its list item (§9) both begin with.
_SUMMARY: dict[str, Any] = {
    "id": BULK_ID,
    "status": "COMPLETED",
    "template": {
        "id": 45,
        "template_name": "welcome_message",
        "language": "es",
        "status": "APPROVED",
    },
    "phone_number": {
        "id": 123,
        "display_phone_number": "+54 9 223 675-0780",
        "verified_name": "Mindo Software",
    },
    "total_recipients": 3,
    "unique_recipients": 3,  # Mindo's addition: sent + failed + pending + cancelled
    "sent_count": 3,
    "delivered_count": 2,
    "read_count": 1,
    "failed_count": 0,
    "pending_count": 0,
    "cancelled_count": 0,  # Mindo's addition
    "opted_out_count": 0,  # Mindo's addition: among failed_count
    "unknown_resent_count": 0,  # Mindo's addition: resent by the unknown-outcome policy
    "progress_percentage": 100.0,
}

# §8, Send status.
DOCUMENTED_DETAIL: dict[str, Any] = {
    **_SUMMARY,
    "estimated_time_minutes": 0.4,
    "original_estimated_time_minutes": 0.4,  # Mindo's addition: the 202's, kept
    "estimated_completion_at": None,  # Mindo's addition: re-planned while sending; over: null
    "started_at": "2025-11-16T21:30:05Z",
    "completed_at": "2025-11-16T21:30:28Z",
    "created_at": "2025-11-16T21:30:00Z",
    "created_by": {"id": None, "email": None, "first_name": None, "last_name": None},
}

# §9, the first item of List bulk sends.
DOCUMENTED_ITEM: dict[str, Any] = {
    **_SUMMARY,
    "created_at": "2025-11-16T21:30:00Z",
    "completed_at": "2025-11-16T21:30:28Z",
    "estimated_completion_at": None,  # Mindo's addition
}
