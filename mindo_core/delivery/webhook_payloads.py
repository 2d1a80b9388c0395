"""Meta's webhook payloads, read into plain events; and their signature check.

A POST from Meta is ``{"object": "whatsapp_business_account", "entry": [{"id": WABA_ID,
"changes": [{"field": ..., "value": {...}}]}]}``. The fields Mindo acts on:

- ``messages`` with ``value.statuses[]``: a message's delivery status (sent, delivered, read,
  failed with ``errors[]``); echoes ``biz_opaque_callback_data`` when the send carried it;
- ``message_template_status_update``: a template approved, paused, disabled…;
- ``phone_number_quality_update``: a number's throughput or messaging limit changed;
- ``business_capability_update``: the portfolio's messaging limit changed (integers, -1 for
  unlimited).

Anything else is ignored (counted, not an error): Meta adds fields over time. A malformed body
is refused with ``InvalidRequest`` so that the sender learns it (JSON nested beyond what the
parser can follow included), but an unknown shape inside a well-formed envelope is skipped
rather than failing the whole batch. So is a status with an absurd value (an error code beyond
32 bits, a wamid or id wider than any Meta issues): statuses of many POSTs are written in one
transaction, and one value the database cannot hold must not fail the others.

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

SIGNATURE_PREFIX: Final = "sha256="
MAX_BODY_BYTES: Final = 3 * 1024 * 1024
_STATUSES: frozenset[str] = frozenset({"sent", "delivered", "read", "failed"})
# Widths of the columns a status is written to; Meta's own values are far shorter.
_MAX_WAMID: Final = 128
_MAX_RECIPIENT_ID: Final = 32
_MAX_PHONE_NUMBER_ID: Final = 64
_MAX_ERROR_CODE: Final = 2**31 - 1


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
class TemplateStatusChange:
    waba_id: str
    meta_template_id: str
    name: str
    language: str
    event: str
    reason: str | None


@dataclass(frozen=True, kw_only=True, slots=True)
class NumberQualityChange:
    waba_id: str
    display_phone_number: str
    event: str
    messaging_limit: str | None  # a TIER_* value when the limit changed


@dataclass(frozen=True, kw_only=True, slots=True)
class CapabilityChange:
    waba_id: str
    max_daily_conversations: int | None  # -1: unlimited


AccountEvent = TemplateStatusChange | NumberQualityChange | CapabilityChange


@dataclass(frozen=True, kw_only=True)
class WebhookBatch:
    statuses: tuple[StatusUpdate, ...]
    account_events: tuple[AccountEvent, ...]
    ignored: int


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
    events: list[AccountEvent] = []
    ignored = 0
    for waba_id, field, value in _changes(payload["entry"]):
        if field == "messages":
            found = list(_statuses(value))
            statuses.extend(s for s in found if s is not None)
            ignored += sum(s is None for s in found)
            continue
        event = _account_event(waba_id, field, value)
        if event is None:
            ignored += 1
        else:
            events.append(event)
    return WebhookBatch(statuses=tuple(statuses), account_events=tuple(events), ignored=ignored)


def _changes(entries: list[Any]) -> Iterator[tuple[str, str, Mapping[str, Any]]]:
    for entry in entries:
        if not isinstance(entry, dict):
            continue
        waba_id = str(entry.get("id", ""))
        for change in entry.get("changes") or ():
            if isinstance(change, dict) and isinstance(change.get("value"), dict):
                yield waba_id, str(change.get("field", "")), change["value"]


def _statuses(value: Mapping[str, Any]) -> Iterator[StatusUpdate | None]:
    metadata = value.get("metadata") if isinstance(value.get("metadata"), dict) else {}
    phone_number_id = str(cast(Mapping[str, Any], metadata).get("phone_number_id", ""))
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


def _account_event(waba_id: str, field: str, value: Mapping[str, Any]) -> AccountEvent | None:
    if field == "message_template_status_update":
        return TemplateStatusChange(
            waba_id=waba_id,
            meta_template_id=str(value.get("message_template_id", "")),
            name=str(value.get("message_template_name", "")),
            language=str(value.get("message_template_language", "")),
            event=str(value.get("event", "")).upper(),
            reason=str(value["reason"]) if value.get("reason") else None,
        )
    if field == "phone_number_quality_update":
        limit = value.get("max_daily_conversations_per_business") or value.get("current_limit")
        return NumberQualityChange(
            waba_id=waba_id,
            display_phone_number=str(value.get("display_phone_number", "")),
            event=str(value.get("event", "")).upper(),
            messaging_limit=str(limit) if limit else None,
        )
    if field == "business_capability_update":
        raw = value.get("max_daily_conversations_per_business")
        if raw is None:
            raw = value.get("max_daily_conversation_per_phone")
        return CapabilityChange(
            waba_id=waba_id, max_daily_conversations=raw if isinstance(raw, int) else None
        )
    return None
