"""Meta's webhook bodies, as Meta posts them, for tests (see ../shared/meta-cloud-api.md §6)."""

from __future__ import annotations

import json
from collections.abc import Sequence
from datetime import datetime
from typing import Any

from mindo_core.delivery.webhook_payloads import sign

APP_SECRET = "test-app-secret"


def envelope(
    waba_id: str, field: str, values: Sequence[dict[str, Any]], *, at: datetime | None = None
) -> bytes:
    """Meta's envelope; ``at`` is ``entry.time`` (account events carry it)."""
    changes = [{"field": field, "value": value} for value in values]
    entry: dict[str, Any] = {"id": waba_id, "changes": changes}
    if at is not None:
        entry["time"] = int(at.timestamp())
    body = {"object": "whatsapp_business_account", "entry": [entry]}
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
    waba_id: str,
    meta_template_id: str,
    name: str,
    language: str,
    event: str,
    reason: str = "NONE",
    *,
    at: datetime | None = None,
) -> bytes:
    value = {
        "event": event,
        "message_template_id": int(meta_template_id),
        "message_template_name": name,
        "message_template_language": language,
        "reason": reason,
    }
    return envelope(waba_id, "message_template_status_update", [value], at=at)


def quality_body(
    waba_id: str, display_phone_number: str, event: str, limit: str, *, at: datetime | None = None
) -> bytes:
    value = {"display_phone_number": display_phone_number, "event": event, "current_limit": limit}
    return envelope(waba_id, "phone_number_quality_update", [value], at=at)


def capability_body(waba_id: str, max_daily: int, *, at: datetime | None = None) -> bytes:
    value = {"max_daily_conversations_per_business": max_daily}
    return envelope(waba_id, "business_capability_update", [value], at=at)


def inbound_body(
    waba_id: str,
    phone_number_id: str,
    messages: Sequence[dict[str, Any]],
    *,
    sender: str = "5492235961983",
    name: str | None = "Juan Perez",
) -> bytes:
    """Users writing in (meta-cloud-api.md §6.6): ``messages[]`` with the sender's profile."""
    contact: dict[str, Any] = {"wa_id": sender}
    if name is not None:
        contact["profile"] = {"name": name}
    value = {
        "messaging_product": "whatsapp",
        "metadata": {"display_phone_number": "15550000000", "phone_number_id": phone_number_id},
        "contacts": [contact],
        "messages": list(messages),
    }
    return envelope(waba_id, "messages", [value])


def text_item(
    wamid: str, at: datetime, body: str = "Hola", *, sender: str = "5492235961983"
) -> dict[str, Any]:
    return inbound_item(wamid, at, "text", {"body": body}, sender=sender)


def inbound_item(
    wamid: str,
    at: datetime,
    kind: str,
    content: dict[str, Any],
    *,
    sender: str = "5492235961983",
    context: str | None = None,
) -> dict[str, Any]:
    item: dict[str, Any] = {
        "from": sender,
        "id": wamid,
        "timestamp": str(int(at.timestamp())),
        "type": kind,
        kind: content,
    }
    if context is not None:
        item["context"] = {"from": "15550000000", "id": context}
    return item


def signed(body: bytes, secret: str = APP_SECRET) -> str:
    return sign(body, secret)


def preferences_body(
    waba_id: str, phone_number_id: str, wa_id: str, choice: str, at: datetime
) -> bytes:
    """A user stopping (``stop``) or resuming (``resume``) marketing messages in WhatsApp."""
    value = {
        "messaging_product": "whatsapp",
        "metadata": {"display_phone_number": "15550000000", "phone_number_id": phone_number_id},
        "contacts": [{"wa_id": wa_id, "profile": {"name": "Juan Perez"}}],
        "user_preferences": [
            {
                "wa_id": wa_id,
                "detail": "User requested to stop marketing messages",
                "category": "marketing_messages",
                "value": choice,
                "timestamp": int(at.timestamp()),
            }
        ],
    }
    return envelope(waba_id, "user_preferences", [value])
