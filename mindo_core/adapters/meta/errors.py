"""Meta's error codes and envelopes, translated once, in one table.

``META_CODE_POLICIES`` says, per Meta error code, what a sender should do about it; anything not
listed is a permanent error for that one request (``PERMANENT``). ``error_from_response`` turns
an HTTP answer that is not a success into ``MetaError`` (Meta's envelope, kept whole) or
``MetaUnavailable`` (no usable envelope). This module does no I/O and imports no HTTP client: the
table is plain data the bulk engine can read (or that could move into the core unchanged).

    MetaUnavailable (mindo_core.errors)
    └── UnexpectedMetaResponse      Meta answered, but not in a shape we know; not retried
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from dataclasses import dataclass
from types import MappingProxyType
from typing import Any

from mindo_core.errors import MetaError, MetaErrorDetail, MetaUnavailable

__all__ = [
    "META_CODE_POLICIES",
    "PERMANENT",
    "MetaCodePolicy",
    "UnexpectedMetaResponse",
    "error_from_response",
    "policy_for",
]


@dataclass(frozen=True, kw_only=True)
class MetaCodePolicy:
    """What one Meta error code asks of a sender.

    ``retryable``: the same request may succeed later. ``max_retries``: a cap the code itself
    imposes (None: the caller's own policy decides). ``stops_campaign``: nothing else sent with
    this account/token/template can succeed either, so a bulk send stops instead of burning
    through its recipients. ``slows_down``: the sender is going too fast and must lower its rate.
    ``recipient_scoped``: only this recipient is throttled; the others go on at full speed.
    """

    retryable: bool = False
    max_retries: int | None = None
    stops_campaign: bool = False
    slows_down: bool = False
    recipient_scoped: bool = False


PERMANENT = MetaCodePolicy()
_RETRY = MetaCodePolicy(retryable=True)
_RETRY_ONCE = MetaCodePolicy(retryable=True, max_retries=1)
_RETRY_SLOWER = MetaCodePolicy(retryable=True, slows_down=True)
_RETRY_RECIPIENT_LATER = MetaCodePolicy(retryable=True, slows_down=True, recipient_scoped=True)
_SLOW_DOWN = MetaCodePolicy(slows_down=True)
_STOP = MetaCodePolicy(stops_campaign=True)

# Sources: §3 of shared/meta-cloud-api.md ("Recommended handling").
META_CODE_POLICIES: Mapping[int, MetaCodePolicy] = MappingProxyType(
    {
        0: _STOP,  # AuthException: token expired or invalidated
        1: _RETRY_ONCE,  # invalid request or possible server error
        2: _RETRY,  # temporary downtime or overload
        3: _STOP,  # capability or permissions issue
        4: _RETRY_SLOWER,  # app-level API call rate limit
        10: _STOP,  # permission not granted or removed
        33: _STOP,  # business phone number deleted
        190: _STOP,  # access token expired
        **dict.fromkeys(range(200, 300), _STOP),  # API permission issues
        368: _STOP,  # WABA restricted for a policy violation
        80007: _RETRY_SLOWER,  # WABA-level rate limit
        130429: _RETRY_SLOWER,  # Cloud API throughput reached
        131000: _RETRY,  # "Something went wrong"
        131016: _RETRY,  # service temporarily unavailable
        131031: _STOP,  # account locked
        131042: _STOP,  # payment / billing issue
        131045: _STOP,  # phone number registration error
        131048: _SLOW_DOWN,  # spam rate limit: slow down, no tight retry
        131056: _RETRY_RECIPIENT_LATER,  # pair rate: that recipient after 4^X s
        131057: _RETRY,  # account in maintenance mode (≤ 1 min)
        132015: _STOP,  # template paused for low quality
        132016: _STOP,  # template permanently disabled
        133004: _RETRY,  # server temporarily unavailable
        133010: _STOP,  # phone number not registered
        134101: _RETRY,  # (MM API) template still syncing
    }
)


def policy_for(meta_code: int) -> MetaCodePolicy:
    return META_CODE_POLICIES.get(meta_code, PERMANENT)


class UnexpectedMetaResponse(MetaUnavailable):
    """Meta answered, but not in a shape Mindo knows (a 200 without a send result, a redirect,
    a paging loop). Not retried: a 200 to a send means Meta accepted it, and sending again could
    deliver the message twice."""

    retryable = False


# --------------------------------------------------------------------------------------------
# The envelope

_CODE_PREFIX = re.compile(r"^\s*\(#(\d+)\)\s*")


def error_from_response(http_status: int, body: bytes) -> MetaError | MetaUnavailable:
    """The error an HTTP answer other than a success stands for."""
    envelope = _error_object(body)
    code = _meta_code(envelope) if envelope is not None else None
    if envelope is None or code is None:
        return MetaUnavailable(f"HTTP {http_status} with no Graph error envelope")
    detail = MetaErrorDetail(
        meta_code=code,
        title=_title(envelope),
        details=_details(envelope.get("error_data")),
        http_status=http_status,
        subcode=_as_int(envelope.get("error_subcode")),
        fbtrace_id=_as_str(envelope.get("fbtrace_id")),
        extra=_extra(envelope),
    )
    return MetaError(detail, retryable=policy_for(code).retryable)


def _error_object(body: bytes) -> Mapping[str, Any] | None:
    try:
        document = json.loads(body)
    except ValueError:  # not JSON, or not UTF-8
        return None
    error = document.get("error") if isinstance(document, dict) else None
    return error if isinstance(error, dict) else None


def _meta_code(envelope: Mapping[str, Any]) -> int | None:
    code = _as_int(envelope.get("code"))
    if code is not None:
        return code
    # Meta's own clients key on ``code``; an envelope without it still says "(#N) ..." in front.
    match = _CODE_PREFIX.match(_as_str(envelope.get("message")) or "")
    return int(match.group(1)) if match else None


def _title(envelope: Mapping[str, Any]) -> str:
    # ``MetaError`` prints "(#code) title" itself, so Meta's own prefix is dropped here.
    for key in ("message", "error_user_title", "type"):
        text = _CODE_PREFIX.sub("", _as_str(envelope.get(key)) or "", count=1).strip()
        if text:
            return text
    return ""


def _details(error_data: Any) -> str:
    """``error_data`` is usually ``{"details": "..."}`` but a plain string for some template
    management errors; anything else is kept as compact JSON rather than lost."""
    if isinstance(error_data, str):
        return error_data
    if isinstance(error_data, dict):
        details = error_data.get("details")
        if details is None:
            return ""
        return details if isinstance(details, str) else _compact_json(details)
    return "" if error_data is None else _compact_json(error_data)


_EXTRA_KEYS = ("type", "is_transient", "error_user_title", "error_user_msg")


def _extra(envelope: Mapping[str, Any]) -> Mapping[str, str]:
    extra: dict[str, str] = {}
    for key in _EXTRA_KEYS:
        value = envelope.get(key)
        if isinstance(value, bool):
            extra[key] = "true" if value else "false"
        elif isinstance(value, str | int | float):
            extra[key] = str(value)
    return extra


def _as_int(value: Any) -> int | None:
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        return value
    if isinstance(value, str) and value.strip().isdigit():
        return int(value)
    return None


def _as_str(value: Any) -> str | None:
    return value if isinstance(value, str) else None


def _compact_json(value: Any) -> str:
    return json.dumps(value, separators=(",", ":"), sort_keys=True, default=str)
