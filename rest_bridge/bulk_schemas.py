"""OpenAPI schemas and examples of the bulk bodies (``bulk_bodies``), shared by the bulk routes.

The examples are the documentation's own (Send bulk page, mindo-api.md §8-§10).
"""

from __future__ import annotations

from collections.abc import Mapping

# The service's recipient statuses (``mindo_core.bulks.model.RecipientStatus``).
RECIPIENT_STATUSES = (
    "pending",
    "sending",
    "sent",
    "delivered",
    "read",
    "failed",
    "opted_out",
    "cancelled",
)

_STRING = {"type": "string"}
_INTEGER = {"type": "integer"}
_NUMBER = {"type": "number"}
_TIME = {"type": "string", "format": "date-time", "description": "UTC, with Z."}
_TIME_OR_NULL = {"type": ["string", "null"], "format": "date-time"}
_TEXT_OR_NULL = {"type": ["string", "null"]}
_BULK_STATUS = {
    "type": "string",
    "enum": [
        "SCHEDULED",
        "QUEUED",
        "PROCESSING",
        "PAUSED",
        "COMPLETED",
        "PARTIAL",
        "FAILED",
        "CANCELLED",
    ],
}


def _object(properties: Mapping[str, object]) -> dict[str, object]:
    return {
        "type": "object",
        "required": list(properties),
        "properties": dict(properties),
        "additionalProperties": False,
    }


_WHATSAPP_NUMBER = _object(
    {
        "id": {**_INTEGER, "description": "Internal number ID."},
        "phone_number_id": {**_STRING, "description": "Meta's WhatsApp phone number ID."},
        "display_phone_number": _STRING,
        "verified_name": _STRING,
        "quality_rating": {**_STRING, "examples": ["GREEN", "YELLOW", "RED"]},
        "messaging_limit_tier": {**_STRING, "examples": ["TIER_1000"]},
    }
)

_QUOTA = _object(
    {
        "can_send": {
            "type": "boolean",
            "description": (
                "Whether every new recipient fits the rolling 24 h quota now. When false the "
                "bulk is still accepted: recipients beyond the room are sent as the window "
                "frees up, and estimated_time_minutes includes the wait."
            ),
        },
        "quota_needed": {
            **_INTEGER,
            "description": "Unique recipients not already messaged in the last 24 h.",
        },
        "quota_available": {
            "type": ["integer", "null"],
            "description": "Room left in the window now; null for an unlimited tier.",
        },
        "quota_total": {
            "type": ["integer", "null"],
            "description": "The tier's daily limit; null for an unlimited tier.",
        },
        "tier": {**_STRING, "examples": ["TIER_1000", "TIER_UNLIMITED"]},
    }
)

_SEND_AT = {
    **_TIME,
    "description": (
        "Not in Mindo's documentation: when a scheduled bulk starts (UTC, with Z); only for a "
        "bulk submitted with send_at."
    ),
}

_ACCEPTED = {
    "bulk_send_id": {**_STRING, "format": "uuid"},
    "task_id": _STRING,
    "status": {
        "type": "string",
        "enum": ["queued", "scheduled"],
        "description": "queued, or scheduled for a bulk submitted with send_at.",
    },
    "template_name": _STRING,
    "total_recipients": {**_INTEGER, "description": "The list as submitted."},
    "unique_recipients": {**_INTEGER, "description": "After deduplication."},
    "estimated_time_minutes": _NUMBER,
    "created_at": _TIME,
    "whatsapp_phone_number": _WHATSAPP_NUMBER,
    "quota_info": _QUOTA,
}
_PARENT = {
    **_STRING,
    "format": "uuid",
    "description": (
        "Not in Mindo's documentation: the bulk whose failed recipients this one resends "
        "(resend-failed); only for such a bulk."
    ),
}
BULK_ACCEPTED = _object(_ACCEPTED)
# Optional, so not required.
BULK_ACCEPTED["properties"] = {**_ACCEPTED, "send_at": _SEND_AT, "parent_bulk_send_id": _PARENT}

LEFT_REASONS = (
    "succeeded",
    "opted_out",
    "outcome_unknown",
    "cancelled",
    "permanent_error",
    "not_requested",
    "suppressed",
)
_RESENT = {
    **_ACCEPTED,
    "parent_bulk_send_id": _PARENT,
    "resent_count": {**_INTEGER, "description": "Recipients of the first bulk taken."},
    "left_count": {**_INTEGER, "description": "Recipients of the first bulk left."},
    "left_by_reason": {
        "type": "object",
        "description": (
            "How many were left, by reason (only reasons with a count): "
            + ", ".join(LEFT_REASONS)
            + '. See docs/api.md, "Resend the failed".'
        ),
        "propertyNames": {"enum": list(LEFT_REASONS)},
        "additionalProperties": _INTEGER,
    },
}
BULK_RESENT = _object(_RESENT)
BULK_RESENT["properties"] = {**_RESENT, "send_at": _SEND_AT}

_TEMPLATE = _object(
    {"id": _INTEGER, "template_name": _STRING, "language": _STRING, "status": _STRING}
)
_PHONE_NUMBER = _object({"id": _INTEGER, "display_phone_number": _STRING, "verified_name": _STRING})
_COUNTERS = {
    "total_recipients": {
        **_INTEGER,
        "description": (
            "The list as submitted, duplicates included (the 202's total_recipients): "
            "unique_recipients plus the duplicates removed."
        ),
    },
    "unique_recipients": {
        **_INTEGER,
        "description": (
            "Not in Mindo's documentation. After deduplication (the 202's unique_recipients); "
            "always sent_count + failed_count + pending_count + cancelled_count."
        ),
    },
    "sent_count": {
        **_INTEGER,
        "description": "Accepted by Meta and not failed since (delivered and read included).",
    },
    "delivered_count": {**_INTEGER, "description": "Delivered, read ones included."},
    "read_count": _INTEGER,
    "failed_count": {
        **_INTEGER,
        "description": (
            "Refused by Meta, failed later (webhook), whose outcome is unknown after a crash, "
            "or not sent because they opted out (opted_out_count)."
        ),
    },
    "pending_count": {**_INTEGER, "description": "Not sent yet, or being sent."},
    "cancelled_count": {
        **_INTEGER,
        "description": (
            "Not in Mindo's documentation. Never sent because the bulk was cancelled or "
            "stopped early (stop_reason)."
        ),
    },
    "opted_out_count": {
        **_INTEGER,
        "description": (
            "Not in Mindo's documentation. Among failed_count: not sent because they are on the "
            "organisation's suppression list (recipient status opted_out); Meta never saw them."
        ),
    },
    "unknown_resent_count": {
        **_INTEGER,
        "description": (
            "Not in Mindo's documentation. Recipients sent a second time by the organisation's "
            "unknown-outcome policy resend: Meta did not answer their call, and later messages' "
            "webhooks came but not theirs (each at most once; see docs/api.md)."
        ),
    },
    "progress_percentage": {
        **_NUMBER,
        "minimum": 0,
        "maximum": 100,
        "description": (
            "Settled recipients (sent, failed or cancelled) / unique_recipients x 100, floored "
            "to one decimal; 100.0 once none is pending. Delivery is not awaited."
        ),
    },
}
_STOP_REASON = {
    **_STRING,
    "description": "Not in Mindo's documentation: why the bulk stopped early; only when it did.",
}
_CREATED_BY = {
    "type": "object",
    "description": (
        "The documentation shows the creating user. Mindo has API keys, not users: every key "
        "is kept and, until the service reports the creating key, null."
    ),
    "properties": {
        "id": {"type": ["integer", "null"]},
        "email": _TEXT_OR_NULL,
        "first_name": _TEXT_OR_NULL,
        "last_name": _TEXT_OR_NULL,
    },
}
_IDENTITY = {"id": {**_STRING, "format": "uuid"}, "status": _BULK_STATUS}
_PARTS = {"template": _TEMPLATE, "phone_number": _PHONE_NUMBER}


_PAUSE_REASON = {
    **_STRING,
    "description": (
        "Not in Mindo's documentation: why the quality guard paused the bulk (Meta reported the "
        "number's or the template's quality dropping); only for a PAUSED bulk it paused. A "
        "user's pause has none. Resuming clears it."
    ),
}


_ORIGINAL_ESTIMATE = {
    **_NUMBER,
    "description": (
        "Not in Mindo's documentation: the estimated_time_minutes the 202 answered, kept when "
        "the estimate is planned again (resume, a raised tier)."
    ),
}
_ESTIMATED_COMPLETION = {
    **_TIME_OR_NULL,
    "description": (
        "Not in Mindo's documentation: when the bulk is expected to be complete. The plan's "
        "time at first, then re-planned every few seconds while it sends from what it really "
        "does (its measured rate, recipients waiting for retries, slow-downs, quota waits). "
        "null while PAUSED (re-planned at resume) and once the bulk is over (completed_at)."
    ),
}

_SEND_WINDOW = {
    **_object({"start": _STRING, "end": _STRING, "fallback_time_zone": _STRING}),
    "description": (
        "Not in Mindo's documentation: the hours (HH:MM, recipients' local time) the bulk was "
        "submitted with, and the zone used for numbers whose zone is unknown; only then."
    ),
}


def _bulk(properties: Mapping[str, object]) -> dict[str, object]:
    schema = _object(properties)
    schema["properties"] = {
        **dict(properties),
        "stop_reason": _STOP_REASON,
        "send_at": _SEND_AT,
        "pause_reason": _PAUSE_REASON,
        "parent_bulk_send_id": _PARENT,
        "send_window": _SEND_WINDOW,
    }
    return schema


BULK_DETAIL = _bulk(
    {
        **_IDENTITY,
        **_PARTS,
        **_COUNTERS,
        "estimated_time_minutes": _NUMBER,
        "original_estimated_time_minutes": _ORIGINAL_ESTIMATE,
        "estimated_completion_at": _ESTIMATED_COMPLETION,
        "started_at": {**_TIME_OR_NULL, "description": "null until processing starts."},
        "completed_at": {**_TIME_OR_NULL, "description": "null until it is over."},
        "created_at": _TIME,
        "created_by": _CREATED_BY,
    }
)

BULK_SUMMARY = _bulk(
    {
        **_IDENTITY,
        **_PARTS,
        **_COUNTERS,
        "created_at": _TIME,
        "completed_at": _TIME_OR_NULL,
        "estimated_completion_at": _ESTIMATED_COMPLETION,
    }
)

BULK_MESSAGE = _object(
    {
        "id": {"type": ["integer", "null"], "description": "Message ID; null until sent."},
        "recipient_phone": {**_STRING, "description": "E.164."},
        "status": {
            "type": "string",
            "enum": list(RECIPIENT_STATUSES),
            "description": (
                "pending (waiting its turn), sending (on its way to Meta), sent, delivered, "
                "read, failed, or cancelled (never sent: the bulk was cancelled or stopped)."
            ),
        },
        "meta_message_id": {**_TEXT_OR_NULL, "description": "Meta's wamid."},
        "variables_used": {"type": "object", "additionalProperties": _STRING},
        "sent_at": _TIME_OR_NULL,
        "delivered_at": _TIME_OR_NULL,
        "read_at": _TIME_OR_NULL,
        "error_message": {
            **_TEXT_OR_NULL,
            "description": (
                "Why it failed (Meta's code and text, or outcome unknown after a crash); for "
                "one cancelled because the bulk stopped early, the bulk's stop_reason."
            ),
        },
        "resent_at": {
            **_TIME_OR_NULL,
            "description": (
                "Not in Mindo's documentation. When the unknown-outcome policy resend sent it "
                "again (its first call had no answer); null for one never resent."
            ),
        },
    }
)

INVALID_RECIPIENTS = {
    "description": (
        "Some recipients cannot be sent (bad phone number, variables that do not fit the "
        "template); nothing was stored. Every invalid one is counted, the first 100 listed."
    ),
    "type": "object",
    "required": ["error", "code", "invalid_count", "recipients"],
    "properties": {
        "error": _STRING,
        "code": {"type": "string", "const": "invalid_recipients"},
        "invalid_count": _INTEGER,
        "recipients": {
            "type": "array",
            "maxItems": 100,
            "items": _object(
                {
                    "index": {**_INTEGER, "description": "Position in the submitted list."},
                    "phone": {**_STRING, "description": "As submitted, cut to 64 characters."},
                    "reason": _STRING,
                }
            ),
        },
    },
}


def page_of(name: str) -> dict[str, object]:
    """DRF's paginated body around items of the component ``name``."""
    return _object(
        {
            "count": _INTEGER,
            "next": {"type": ["string", "null"], "format": "uri"},
            "previous": {"type": ["string", "null"], "format": "uri"},
            "results": {"type": "array", "items": {"$ref": f"#/components/schemas/{name}"}},
        }
    )


COMPONENTS: Mapping[str, object] = {
    "BulkAccepted": BULK_ACCEPTED,
    "BulkResent": BULK_RESENT,
    "BulkDetail": BULK_DETAIL,
    "BulkSummary": BULK_SUMMARY,
    "BulkMessage": BULK_MESSAGE,
    "InvalidRecipients": INVALID_RECIPIENTS,
}

BULK_ID = "a3f2b8c9-4d5e-6f7a-8b9c-0d1e2f3a4b5c"

ACCEPTED_EXAMPLE = {
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

_SUMMARY_PARTS = {
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
    "unique_recipients": 3,
    "sent_count": 3,
    "delivered_count": 2,
    "read_count": 1,
    "failed_count": 0,
    "pending_count": 0,
    "cancelled_count": 0,
    "opted_out_count": 0,
    "unknown_resent_count": 0,
    "progress_percentage": 100.0,
}

DETAIL_EXAMPLE = {
    **_SUMMARY_PARTS,
    "estimated_time_minutes": 0.4,
    "original_estimated_time_minutes": 0.4,
    "estimated_completion_at": None,
    "started_at": "2025-11-16T21:30:05Z",
    "completed_at": "2025-11-16T21:30:28Z",
    "created_at": "2025-11-16T21:30:00Z",
    "created_by": {"id": None, "email": None, "first_name": None, "last_name": None},
}

SUMMARY_EXAMPLE = {
    **_SUMMARY_PARTS,
    "created_at": "2025-11-16T21:30:00Z",
    "completed_at": "2025-11-16T21:30:28Z",
    "estimated_completion_at": None,
}

MESSAGE_EXAMPLE = {
    "id": 1001,
    "recipient_phone": "+5491112345678",
    "status": "delivered",
    "meta_message_id": "wamid.HBgLNTU0MTE2NzU0Nzg1FQIAERgS...",
    "variables_used": {"name": "Juan Perez", "code": "ABC123"},
    "sent_at": "2025-11-16T21:30:10Z",
    "delivered_at": "2025-11-16T21:30:15Z",
    "read_at": None,
    "error_message": None,
    "resent_at": None,
}

BULK_NOT_FOUND_EXAMPLE = {
    "error": f"Bulk send '{BULK_ID}' no encontrado",
    "code": "bulk_not_found",
}
