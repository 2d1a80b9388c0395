"""Meta's webhook payloads, read into plain events; and their signature check.

A POST from Meta is ``{"object": "whatsapp_business_account", "entry": [{"id": WABA_ID,
"changes": [{"field": ..., "value": {...}}]}]}``. The fields Mindo acts on:

- ``messages`` with ``value.statuses[]``: a message's delivery status (sent, delivered, read,
  failed with ``errors[]``); echoes ``biz_opaque_callback_data`` when the send carried it;
- ``messages`` with ``value.messages[]`` and ``value.contacts[]``: a user writing to one of the
  numbers (``InboundMessage``): text, a template's quick-reply button, an interactive reply, media
  with its caption, a reaction, or any other type (kept with its type and no text); the sender's
  WhatsApp profile name comes from ``contacts[].profile.name``. ``from`` is normalised to E.164
  here (Argentina's and Mexico's mobile quirks included); a sender that is no phone number is
  skipped;
- ``message_template_status_update``: a template approved, paused, disabled…;
- ``phone_number_quality_update``: a number's throughput, messaging limit or quality changed;
- ``message_template_quality_update``: a template's quality score changed;
- ``business_capability_update``: the portfolio's messaging limit changed (integers, -1 for
  unlimited);
- ``user_preferences``: a user stopped or resumed the business's marketing messages in
  WhatsApp itself (``MarketingPreference``).

Anything else is ignored (counted, not an error): Meta adds fields over time. A malformed body
is refused with ``InvalidRequest`` so that the sender learns it (JSON nested beyond what the
parser can follow included), but an unknown shape inside a well-formed envelope is skipped
rather than failing the whole batch. So is a status with an absurd value (an error code beyond
32 bits, a wamid or id wider than any Meta issues): statuses of many POSTs are written in one
transaction, and one value the database cannot hold must not fail the others.

Account events carry the time Meta gives them (``entry.time``, else the value's own
``timestamp``), so that a replayed or late event can be told from a newer one.

The signature: ``X-Hub-Signature-256: sha256=<hex>``, the HMAC-SHA256 of the raw body keyed by
the app secret, compared in constant time.
"""

from __future__ import annotations

import hashlib
import hmac
import json
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, Final, cast

from mindo_core.domain.errors import InvalidRequest, Unauthenticated
from mindo_core.domain.messages import DeliveryState
from mindo_core.phones.e164 import to_e164

SIGNATURE_PREFIX: Final = "sha256="
MAX_BODY_BYTES: Final = 3 * 1024 * 1024
_STATUSES: frozenset[str] = frozenset({"sent", "delivered", "read", "failed"})
# Widths of the columns a status is written to; Meta's own values are far shorter.
_MAX_WAMID: Final = 128
_MAX_RECIPIENT_ID: Final = 32
_MAX_PHONE_NUMBER_ID: Final = 64
_MAX_ERROR_CODE: Final = 2**31 - 1
# Inbound text is bounded: Meta's own limit on a text message is 4,096 characters.
MAX_INBOUND_TEXT: Final = 4096
_MAX_PROFILE_NAME: Final = 256
_MAX_MESSAGE_TYPE: Final = 32
_MAX_PAYLOAD: Final = 256


class WebhookSignatureInvalid(Unauthenticated):
    code = "webhook_signature_invalid"

    def __init__(self, reason: str) -> None:
        super().__init__(f"Webhook refused: {reason}")


def verify_signature(body: bytes, header: str | None, app_secret: str) -> None:
    """Raises WebhookSignatureInvalid unless ``header`` signs ``body`` with ``app_secret``."""
    if not app_secret:
        raise WebhookSignatureInvalid("no app secret is configured (MINDO_META_APP_SECRET)")
    if not header or not header.startswith(SIGNATURE_PREFIX):
        raise WebhookSignatureInvalid("missing X-Hub-Signature-256")
    expected = hmac.new(app_secret.encode(), body, hashlib.sha256).hexdigest().encode()
    # Bytes, not str: compare_digest refuses a str with non-ASCII characters (TypeError).
    given = header[len(SIGNATURE_PREFIX) :].strip().lower().encode("utf-8", "replace")
    if not hmac.compare_digest(expected, given):
        raise WebhookSignatureInvalid("the signature does not match the body")


def sign(body: bytes, app_secret: str) -> str:
    """The header value Meta would send for ``body`` (for the sandbox's peers and tests)."""
    return SIGNATURE_PREFIX + hmac.new(app_secret.encode(), body, hashlib.sha256).hexdigest()


@dataclass(frozen=True, kw_only=True, slots=True)
class StatusUpdate:
    wamid: str
    status: DeliveryState
    at: datetime
    recipient_id: str
    phone_number_id: str
    callback_data: str | None = None
    error_code: int | None = None
    error_title: str | None = None
    error_details: str | None = None


@dataclass(frozen=True, kw_only=True, slots=True)
class InboundMessage:
    """A message a user sent to one of the business's numbers."""

    wamid: str
    phone_number_id: str
    sender_phone: str  # E.164
    at: datetime  # when the user sent it (Meta's timestamp)
    type: str  # text, button, interactive, image, reaction, …
    profile_name: str | None = None
    # What the user wrote or chose: the text, the button's or reply's title, the caption, the
    # reaction's emoji.
    text: str | None = None
    # What the business attached to the button or reply (a quick-reply payload, a reply id).
    payload: str | None = None
    context_wamid: str | None = None  # the business message replied or reacted to


@dataclass(frozen=True, kw_only=True, slots=True)
class TemplateStatusChange:
    waba_id: str
    meta_template_id: str
    name: str
    language: str
    event: str
    reason: str | None
    at: datetime | None = None  # when Meta says it happened; None when it does not say


@dataclass(frozen=True, kw_only=True, slots=True)
class NumberQualityChange:
    waba_id: str
    display_phone_number: str
    event: str
    messaging_limit: str | None  # a TIER_* value when the limit changed
    at: datetime | None = None
    # GREEN, YELLOW, RED…, when the notification says it (Meta's FLAGGED event means RED).
    quality_rating: str | None = None


@dataclass(frozen=True, kw_only=True, slots=True)
class TemplateQualityChange:
    """``message_template_quality_update``: a template's quality score moved."""

    waba_id: str
    meta_template_id: str
    name: str
    language: str
    new_quality_score: str  # GREEN, YELLOW, RED or UNKNOWN
    previous_quality_score: str | None = None
    at: datetime | None = None


@dataclass(frozen=True, kw_only=True, slots=True)
class CapabilityChange:
    waba_id: str
    max_daily_conversations: int | None  # -1: unlimited
    at: datetime | None = None


AccountEvent = TemplateStatusChange | NumberQualityChange | CapabilityChange | TemplateQualityChange


@dataclass(frozen=True, kw_only=True, slots=True)
class MarketingPreference:
    """A user stopped (``stop``) or resumed marketing messages from the business's number."""

    phone_number_id: str
    phone: str  # E.164
    at: datetime
    stop: bool


@dataclass(frozen=True, kw_only=True)
class WebhookBatch:
    statuses: tuple[StatusUpdate, ...]
    account_events: tuple[AccountEvent, ...]
    ignored: int
    inbound: tuple[InboundMessage, ...] = ()
    preferences: tuple[MarketingPreference, ...] = ()


def parse_webhook(body: bytes) -> WebhookBatch:
    try:
        payload = json.loads(body)
    except (UnicodeDecodeError, ValueError) as error:
        raise InvalidRequest(f"Webhook body is not JSON: {error}") from None
    except RecursionError:
        raise InvalidRequest("Webhook body is nested too deeply to be Meta's") from None
    if not isinstance(payload, dict) or not isinstance(payload.get("entry"), list):
        raise InvalidRequest("Webhook body has no entry list")
    statuses: list[StatusUpdate] = []
    inbound: list[InboundMessage] = []
    preferences: list[MarketingPreference] = []
    events: list[AccountEvent] = []
    ignored = 0
    for change in _changes(payload["entry"]):
        if change.field == "messages":
            found = list(_statuses(change.value))
            statuses.extend(s for s in found if s is not None)
            received = list(_inbound(change.value))
            inbound.extend(m for m in received if m is not None)
            ignored += sum(s is None for s in found) + sum(m is None for m in received)
            continue
        if change.field == "user_preferences":
            read = list(_preferences(change.value))
            preferences.extend(p for p in read if p is not None)
            ignored += sum(p is None for p in read)
            continue
        event = _account_event(change)
        if event is None:
            ignored += 1
        else:
            events.append(event)
    return WebhookBatch(
        statuses=tuple(statuses),
        account_events=tuple(events),
        ignored=ignored,
        inbound=tuple(inbound),
        preferences=tuple(preferences),
    )


@dataclass(frozen=True, kw_only=True, slots=True)
class _Change:
    waba_id: str
    entry_time: datetime | None
    field: str
    value: Mapping[str, Any]


def _changes(entries: list[Any]) -> Iterator[_Change]:
    for entry in entries:
        if not isinstance(entry, dict):
            continue
        waba_id = str(entry.get("id", ""))
        entry_time = _timestamp(entry.get("time")) if "time" in entry else None
        for change in entry.get("changes") or ():
            if isinstance(change, dict) and isinstance(change.get("value"), dict):
                yield _Change(
                    waba_id=waba_id,
                    entry_time=entry_time,
                    field=str(change.get("field", "")),
                    value=change["value"],
                )


def _phone_number_id(value: Mapping[str, Any]) -> str:
    metadata = value.get("metadata") if isinstance(value.get("metadata"), dict) else {}
    return str(cast(Mapping[str, Any], metadata).get("phone_number_id", ""))


def _statuses(value: Mapping[str, Any]) -> Iterator[StatusUpdate | None]:
    phone_number_id = _phone_number_id(value)
    for item in value.get("statuses") or ():
        status = _status(item, phone_number_id) if isinstance(item, dict) else None
        yield status if status is not None and _holdable(status) else None


def _holdable(status: StatusUpdate) -> bool:
    """Whether every value fits the columns it is written to (``_MAX_*``)."""
    code = status.error_code
    return (
        len(status.wamid) <= _MAX_WAMID
        and len(status.recipient_id) <= _MAX_RECIPIENT_ID
        and len(status.phone_number_id) <= _MAX_PHONE_NUMBER_ID
        and (code is None or 0 <= code <= _MAX_ERROR_CODE)
    )


def _status(item: Mapping[str, Any], phone_number_id: str) -> StatusUpdate | None:
    status, wamid = item.get("status"), item.get("id")
    if status not in _STATUSES or not isinstance(wamid, str) or not wamid:
        return None  # "played" (voice) and unknown statuses are not Mindo's
    at = _timestamp(item.get("timestamp"))
    if at is None:
        return None
    code, title, details = _first_error(item.get("errors"))
    callback = item.get("biz_opaque_callback_data")
    return StatusUpdate(
        wamid=wamid,
        status=cast(DeliveryState, status),
        at=at,
        recipient_id=str(item.get("recipient_id", "")),
        phone_number_id=phone_number_id,
        callback_data=callback if isinstance(callback, str) else None,
        error_code=code,
        error_title=title,
        error_details=details,
    )


def _timestamp(raw: object) -> datetime | None:
    try:
        return datetime.fromtimestamp(int(str(raw)), tz=UTC)
    except (TypeError, ValueError, OverflowError, OSError):
        return None


def _first_error(errors: object) -> tuple[int | None, str | None, str | None]:
    if not isinstance(errors, list) or not errors or not isinstance(errors[0], dict):
        return None, None, None
    error = errors[0]
    data = error.get("error_data")
    details = data.get("details") if isinstance(data, dict) else data
    code = error.get("code")
    title = error.get("title") or error.get("message")
    return (
        code if isinstance(code, int) else None,
        str(title) if title else None,
        str(details) if details else None,
    )


def _account_event(change: _Change) -> AccountEvent | None:
    waba_id, field, value = change.waba_id, change.field, change.value
    at = change.entry_time or _timestamp(value.get("timestamp"))
    if field == "message_template_status_update":
        return TemplateStatusChange(
            waba_id=waba_id,
            meta_template_id=str(value.get("message_template_id", "")),
            name=str(value.get("message_template_name", "")),
            language=str(value.get("message_template_language", "")),
            event=str(value.get("event", "")).upper(),
            reason=str(value["reason"]) if value.get("reason") else None,
            at=at,
        )
    if field == "phone_number_quality_update":
        limit = value.get("max_daily_conversations_per_business") or value.get("current_limit")
        return NumberQualityChange(
            waba_id=waba_id,
            display_phone_number=str(value.get("display_phone_number", "")),
            event=str(value.get("event", "")).upper(),
            messaging_limit=str(limit) if limit else None,
            at=at,
            quality_rating=_upper_or_none(value.get("quality_rating")),
        )
    if field == "message_template_quality_update":
        return TemplateQualityChange(
            waba_id=waba_id,
            meta_template_id=str(value.get("message_template_id", "")),
            name=str(value.get("message_template_name", "")),
            language=str(value.get("message_template_language", "")),
            new_quality_score=str(value.get("new_quality_score", "")).upper(),
            previous_quality_score=_upper_or_none(value.get("previous_quality_score")),
            at=at,
        )
    if field == "business_capability_update":
        raw = value.get("max_daily_conversations_per_business")
        if raw is None:
            raw = value.get("max_daily_conversation_per_phone")
        return CapabilityChange(
            waba_id=waba_id,
            max_daily_conversations=raw if isinstance(raw, int) else None,
            at=at,
        )
    return None


def _upper_or_none(value: object) -> str | None:
    return str(value).upper() if value else None


# -- inbound messages --------------------------------------------------------------------------

# Where each type keeps what the user wrote (the text) and what the business attached (payload).
_MEDIA_TYPES = frozenset({"image", "audio", "video", "document", "sticker"})


def _inbound(value: Mapping[str, Any]) -> Iterator[InboundMessage | None]:
    messages = value.get("messages")
    if not isinstance(messages, list):
        return
    phone_number_id = _phone_number_id(value)
    names = _profile_names(value.get("contacts"))
    for item in messages:
        message = _inbound_message(item, phone_number_id, names) if isinstance(item, dict) else None
        yield message


def _profile_names(contacts: object) -> dict[str, str]:
    """Each sender's WhatsApp profile name, by their ``wa_id``."""
    names: dict[str, str] = {}
    for contact in contacts if isinstance(contacts, list) else ():
        if not isinstance(contact, dict) or not isinstance(contact.get("profile"), dict):
            continue
        name = contact["profile"].get("name")
        if isinstance(name, str) and name.strip():
            names[str(contact.get("wa_id", ""))] = name.strip()[:_MAX_PROFILE_NAME]
    return names


def _inbound_message(
    item: Mapping[str, Any], phone_number_id: str, names: Mapping[str, str]
) -> InboundMessage | None:
    wamid, sender, kind = item.get("id"), item.get("from"), item.get("type")
    at = _timestamp(item.get("timestamp"))
    if not (isinstance(wamid, str) and wamid and isinstance(sender, str) and isinstance(kind, str)):
        return None
    phone = _sender_phone(sender)
    if at is None or phone is None or len(wamid) > _MAX_WAMID or not phone_number_id:
        return None
    if len(phone_number_id) > _MAX_PHONE_NUMBER_ID or len(kind) > _MAX_MESSAGE_TYPE:
        return None
    text, payload = _content(kind, item.get(kind))
    context = item.get("context")
    replied_to = context.get("id") if isinstance(context, dict) else None
    if kind == "reaction" and isinstance(item.get(kind), dict):
        replied_to = item[kind].get("message_id")
    return InboundMessage(
        wamid=wamid,
        phone_number_id=phone_number_id,
        sender_phone=phone,
        at=at,
        type=kind,
        profile_name=names.get(sender),
        text=_bounded(text, MAX_INBOUND_TEXT),
        payload=_bounded(payload, _MAX_PAYLOAD),
        context_wamid=_bounded(replied_to, _MAX_WAMID),
    )


def _sender_phone(sender: str) -> str | None:
    if not sender.isdigit():
        return None
    try:
        return to_e164("+" + sender, field="from")
    except InvalidRequest:
        return None


def _content(kind: str, body: object) -> tuple[object, object]:
    """(text, payload) of a message of type ``kind`` whose own object is ``body``."""
    if not isinstance(body, dict):
        return None, None
    if kind == "text":
        return body.get("body"), None
    if kind == "button":
        return body.get("text"), body.get("payload")
    if kind == "interactive":
        reply = body.get("button_reply") or body.get("list_reply")
        if isinstance(reply, dict):
            return reply.get("title"), reply.get("id")
        return None, None
    if kind in _MEDIA_TYPES:
        return body.get("caption"), None
    if kind == "reaction":
        return body.get("emoji"), None
    return None, None


def _bounded(value: object, limit: int) -> str | None:
    return value[:limit] if isinstance(value, str) and value else None


# -- marketing preferences ---------------------------------------------------------------------


def _preferences(value: Mapping[str, Any]) -> Iterator[MarketingPreference | None]:
    phone_number_id = _phone_number_id(value)
    items = value.get("user_preferences")
    for item in items if isinstance(items, list) else ():
        yield _preference(item, phone_number_id) if isinstance(item, dict) else None


def _preference(item: Mapping[str, Any], phone_number_id: str) -> MarketingPreference | None:
    wa_id, choice, at = item.get("wa_id"), item.get("value"), _timestamp(item.get("timestamp"))
    if item.get("category") != "marketing_messages" or choice not in ("stop", "resume"):
        return None
    phone = _sender_phone(wa_id) if isinstance(wa_id, str) else None
    if phone is None or at is None or not phone_number_id:
        return None
    if len(phone_number_id) > _MAX_PHONE_NUMBER_ID:
        return None
    return MarketingPreference(
        phone_number_id=phone_number_id, phone=phone, at=at, stop=choice == "stop"
    )
