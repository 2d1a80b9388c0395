"""Meta's success bodies → the port's values. Anything not in the expected shape raises
``UnexpectedMetaResponse`` naming what is missing; the body itself is never quoted."""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from typing import Any

from mindo_core.adapters.meta.errors import UnexpectedMetaResponse
from mindo_core.ports.meta import MetaSendResult, PhoneNumberInfo, TemplateInfo

__all__ = [
    "DEFAULT_MESSAGING_LIMIT",
    "PHONE_NUMBER_FIELDS",
    "TEMPLATE_FIELDS",
    "json_object",
    "page_items",
    "phone_number_info",
    "send_result",
    "template_info",
]

PHONE_NUMBER_FIELDS = (
    "id,display_phone_number,verified_name,quality_rating,throughput,"
    "whatsapp_business_manager_messaging_limit,messaging_limit_tier"
)
TEMPLATE_FIELDS = "id,name,language,status,category,parameter_format,components"

# Every new portfolio starts at 250 unique users a day; assuming it when Meta says nothing keeps
# the quota on the safe side. An explicit "TIER_NOT_SET" from Meta is passed through.
DEFAULT_MESSAGING_LIMIT = "TIER_250"


def json_object(body: bytes, what: str) -> Mapping[str, Any]:
    try:
        document = json.loads(body)
    except ValueError:
        raise UnexpectedMetaResponse(f"{what}: the body is not JSON") from None
    if not isinstance(document, dict):
        raise UnexpectedMetaResponse(f"{what}: the body is not a JSON object")
    return document


def send_result(document: Mapping[str, Any]) -> MetaSendResult:
    message = _first_object(document.get("messages")) or {}
    contact = _first_object(document.get("contacts")) or {}
    wamid = _text(message.get("id"))
    if wamid is None:
        raise UnexpectedMetaResponse("HTTP 200 to a send without messages[0].id")
    return MetaSendResult(
        wamid=wamid,
        wa_id=_text(contact.get("wa_id")) or "",
        message_status=_text(message.get("message_status")),
    )


def phone_number_info(item: Mapping[str, Any]) -> PhoneNumberInfo:
    throughput = item.get("throughput")
    level = _text(throughput.get("level")) if isinstance(throughput, dict) else None
    return PhoneNumberInfo(
        phone_number_id=_required(item, "id", "phone number"),
        display_phone_number=_text(item.get("display_phone_number")) or "",
        verified_name=_text(item.get("verified_name")) or "",
        quality_rating=_text(item.get("quality_rating")) or "UNKNOWN",
        messaging_limit_tier=(
            _text(item.get("whatsapp_business_manager_messaging_limit"))
            or _text(item.get("messaging_limit_tier"))  # deprecated by Meta, still answered
            or DEFAULT_MESSAGING_LIMIT
        ),
        throughput_level=level or "STANDARD",
    )


def template_info(item: Mapping[str, Any]) -> TemplateInfo:
    components = item.get("components")
    return TemplateInfo(
        meta_template_id=_required(item, "id", "template"),
        name=_required(item, "name", "template"),
        language=_required(item, "language", "template"),
        status=_text(item.get("status")) or "UNKNOWN",
        category=_text(item.get("category")) or "UNKNOWN",
        parameter_format=_text(item.get("parameter_format")) or "POSITIONAL",
        components=(
            tuple(c for c in components if isinstance(c, dict))
            if isinstance(components, list)
            else ()
        ),
    )


def _first_object(value: Any) -> Mapping[str, Any] | None:
    if isinstance(value, list) and value and isinstance(value[0], dict):
        return value[0]
    return None


def _required(item: Mapping[str, Any], key: str, what: str) -> str:
    value = _text(item.get(key))
    if value is None:
        raise UnexpectedMetaResponse(f"a {what} without {key!r}")
    return value


def _text(value: Any) -> str | None:
    """Meta's ids are strings, but a number is accepted as its decimal text."""
    if isinstance(value, bool):
        return None
    if isinstance(value, str):
        return value or None
    if isinstance(value, int):
        return str(value)
    return None


def page_items(document: Mapping[str, Any], what: str) -> Sequence[Mapping[str, Any]]:
    data = document.get("data")
    if not isinstance(data, list):
        raise UnexpectedMetaResponse(f"{what}: a page without a 'data' list")
    return [item for item in data if isinstance(item, dict)]
