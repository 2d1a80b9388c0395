"""Webhook bodies in Meta's shapes (meta-cloud-api.md §6.4, §6.5, §5.4, §2.3) and their signature.

Bodies are encoded once, compactly, and the signature is computed over exactly those bytes:
``X-Hub-Signature-256: sha256=<hex HMAC-SHA256 of the raw body, keyed by the app secret>``.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import re
from collections.abc import Mapping, Sequence
from typing import Any

from mindo_sandbox.accepted import AcceptedMessage
from mindo_sandbox.graph_errors import details_for, title_for

SIGNATURE_HEADER = "X-Hub-Signature-256"
ERROR_CODES_HREF = "/documentation/business-messaging/whatsapp/support/error-codes"

_NON_DIGITS = re.compile(r"\D")


def status_object(
    message: AcceptedMessage,
    status: str,
    happened_at: float,
    *,
    priced: bool,
    failure_code: int | None = None,
) -> dict[str, Any]:
    """One ``statuses[]`` item; ``priced`` on ``sent`` and on one of delivered/read."""
    item: dict[str, Any] = {
        "id": message.wamid,
        "status": status,
        "timestamp": str(int(happened_at)),
        "recipient_id": message.wa_id,
    }
    callback_data = message.payload.get("biz_opaque_callback_data")
    if callback_data is not None:
        item["biz_opaque_callback_data"] = callback_data
    if priced:
        item["pricing"] = pricing(message.template.category)
    if failure_code is not None:
        item["errors"] = [async_error(failure_code)]
    return item


def pricing(template_category: str) -> dict[str, Any]:
    return {
        "billable": True,
        "pricing_model": "PMP",
        "type": "regular",
        "category": template_category.lower(),
    }


def async_error(code: int) -> dict[str, Any]:
    """An ``errors[]`` item of a failed status (§2.3): the title doubles as the message."""
    title = title_for(code)
    return {
        "code": code,
        "title": title,
        "message": title,
        "error_data": {"details": details_for(code)},
        "href": ERROR_CODES_HREF,
    }


def digits(phone_number: str) -> str:
    """Webhooks carry the display number as digits only (``15550783881``)."""
    return _NON_DIGITS.sub("", phone_number)


def statuses_body(
    *,
    waba_id: str,
    phone_number_id: str,
    display_phone_number: str,
    statuses: Sequence[Mapping[str, Any]],
) -> dict[str, Any]:
    value = {
        "messaging_product": "whatsapp",
        "metadata": {
            "display_phone_number": digits(display_phone_number),
            "phone_number_id": phone_number_id,
        },
        "statuses": list(statuses),
    }
    return {
        "object": "whatsapp_business_account",
        "entry": [{"id": waba_id, "changes": [{"value": value, "field": "messages"}]}],
    }


def account_body(
    *, waba_id: str, field: str, value: Mapping[str, Any], at: float
) -> dict[str, Any]:
    """An account-level notification (template status, number quality, capability)."""
    entry = {"id": waba_id, "time": int(at), "changes": [{"value": dict(value), "field": field}]}
    return {"entry": [entry], "object": "whatsapp_business_account"}


def encode(body: Mapping[str, Any]) -> bytes:
    return json.dumps(body, separators=(",", ":")).encode("utf-8")


def signature(raw_body: bytes, app_secret: str) -> str:
    digest = hmac.new(app_secret.encode("utf-8"), raw_body, hashlib.sha256).hexdigest()
    return f"sha256={digest}"
