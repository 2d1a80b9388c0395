"""Meta's webhook bodies, as Meta posts them, for tests (see ../shared/meta-cloud-api.md §6)."""

from __future__ import annotations

import json
from collections.abc import Sequence
from datetime import datetime
from typing import Any

from mindo_core.delivery.webhook_payloads import sign

APP_SECRET = "test-app-secret"


def envelope(waba_id: str, field: str, values: Sequence[dict[str, Any]]) -> bytes:
    changes = [{"field": field, "value": value} for value in values]
    body = {"object": "whatsapp_business_account", "entry": [{"id": waba_id, "changes": changes}]}
    return json.dumps(body).encode()


def status_item(
    wamid: str,
    status: str,
    at: datetime,
    *,
    to: str = "5491150000000",
    callback: str | None = None,
    error_code: int | None = None,
) -> dict[str, Any]:
    item: dict[str, Any] = {
        "id": wamid,
        "status": status,
        "timestamp": str(int(at.timestamp())),
        "recipient_id": to,
    }
    if callback is not None:
        item["biz_opaque_callback_data"] = callback
    if error_code is not None:
        item["errors"] = [
            {
                "code": error_code,
                "title": "Message undeliverable",
                "error_data": {"details": "Message failed to send"},
            }
        ]
    return item


def statuses_body(waba_id: str, phone_number_id: str, items: Sequence[dict[str, Any]]) -> bytes:
    value = {
        "messaging_product": "whatsapp",
        "metadata": {"display_phone_number": "15550000000", "phone_number_id": phone_number_id},
        "statuses": list(items),
    }
    return envelope(waba_id, "messages", [value])


def template_status_body(
    waba_id: str, meta_template_id: str, name: str, language: str, event: str, reason: str = "NONE"
) -> bytes:
    value = {
        "event": event,
        "message_template_id": int(meta_template_id),
        "message_template_name": name,
        "message_template_language": language,
        "reason": reason,
    }
    return envelope(waba_id, "message_template_status_update", [value])


def quality_body(waba_id: str, display_phone_number: str, event: str, limit: str) -> bytes:
    value = {"display_phone_number": display_phone_number, "event": event, "current_limit": limit}
    return envelope(waba_id, "phone_number_quality_update", [value])


def capability_body(waba_id: str, max_daily: int) -> bytes:
    value = {"max_daily_conversations_per_business": max_daily}
    return envelope(waba_id, "business_capability_update", [value])


def signed(body: bytes, secret: str = APP_SECRET) -> str:
    return sign(body, secret)
