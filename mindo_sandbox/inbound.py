"""A user writing to one of the sandbox's numbers, as Meta notifies it (meta-cloud-api.md §6.6).

``POST /_sandbox/inbound`` takes what the user does and posts the signed ``messages`` webhook::

    {"phone_number_id": "813497231850626",   # one of the sandbox's numbers (required)
     "from": "5492235961983",                # the user's wa_id, digits only (required)
     "name": "Juan Perez",                   # their WhatsApp profile name (optional)
     "type": "text",                         # text (default), button, interactive, image,
                                             #   reaction
     "text": "Hola",                         # the body, button text, reply title, caption or
                                             #   emoji
     "payload": "STOP_PROMOS",               # button: its payload; interactive: the reply id
     "context": "wamid.…",                   # the business message replied or reacted to
     "id": "wamid.…",                        # default: a new wamid
     "timestamp": 1733512345}                # Unix seconds; default: now

Posting the same ``id`` twice is how a test plays Meta's duplicates.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Final

from mindo_sandbox._json_reading import ConfigError, as_mapping, check_known_keys, opt_int, req_str
from mindo_sandbox.state import SandboxState
from mindo_sandbox.webhook_payloads import digits

TYPES: Final = frozenset({"text", "button", "interactive", "image", "reaction"})
_KEYS = frozenset(
    {"phone_number_id", "from", "name", "type", "text", "payload", "context", "id", "timestamp"}
)
_WHERE = "inbound"


class UnknownNumber(LookupError):
    """The message is to a number the sandbox does not have."""


@dataclass(frozen=True, kw_only=True)
class Inbound:
    waba_id: str
    body: dict[str, Any]  # the whole webhook body


def inbound_message(state: SandboxState, data: Any) -> Inbound:
    data = as_mapping(data, _WHERE)
    check_known_keys(data, _KEYS, _WHERE)
    phone_number_id = req_str(data, "phone_number_id", _WHERE)
    number = state.phone_number(phone_number_id)
    waba_id = state.owner_of(phone_number_id)
    if number is None or waba_id is None:
        raise UnknownNumber(f"unknown phone number {phone_number_id}")
    sender = req_str(data, "from", _WHERE)
    if not sender.isdigit():
        raise ConfigError(f"{_WHERE}: 'from' must be a wa_id (digits only)")
    kind = _optional(data, "type") or "text"
    if kind not in TYPES:
        raise ConfigError(f"{_WHERE}: 'type' must be one of {sorted(TYPES)}")
    message: dict[str, Any] = {
        "from": sender,
        "id": _optional(data, "id") or state.wamids.new(sender),
        "timestamp": str(opt_int(data, "timestamp", int(state.clock.time()), _WHERE)),
        "type": kind,
        kind: _content(kind, data),
    }
    context = _optional(data, "context")
    if context is not None and kind != "reaction":
        message["context"] = {"from": digits(number.display_phone_number), "id": context}
    contact: dict[str, Any] = {"wa_id": sender}
    name = _optional(data, "name")
    if name is not None:
        contact["profile"] = {"name": name}
    value = {
        "messaging_product": "whatsapp",
        "metadata": {
            "display_phone_number": digits(number.display_phone_number),
            "phone_number_id": phone_number_id,
        },
        "contacts": [contact],
        "messages": [message],
    }
    body = {
        "object": "whatsapp_business_account",
        "entry": [{"id": waba_id, "changes": [{"value": value, "field": "messages"}]}],
    }
    return Inbound(waba_id=waba_id, body=body)


def _content(kind: str, data: Mapping[str, Any]) -> dict[str, Any]:
    text = _optional(data, "text")
    payload = _optional(data, "payload")
    if kind == "text":
        return {"body": text or "Hola"}
    if kind == "button":
        return {"payload": payload or text or "", "text": text or payload or ""}
    if kind == "interactive":
        reply = {"id": payload or "reply-1", "title": text or "OK"}
        return {"type": "button_reply", "button_reply": reply}
    if kind == "image":
        image: dict[str, Any] = {"id": "media-1", "mime_type": "image/jpeg"}
        if text is not None:
            image["caption"] = text
        return image
    message_id = _optional(data, "context")
    if message_id is None:
        raise ConfigError(f"{_WHERE}: a reaction needs 'context' (the wamid reacted to)")
    return {"message_id": message_id, "emoji": text or "👍"}


def _optional(data: Mapping[str, Any], key: str) -> str | None:
    value = data.get(key)
    if value is None:
        return None
    if not isinstance(value, str) or not value:
        raise ConfigError(f"{_WHERE}: '{key}' must be a non-empty string")
    return value
