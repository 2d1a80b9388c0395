"""Meta's error envelopes, translated once, with Meta's code table.

``META_CODE_POLICIES`` (plain data in the core, ``mindo_core.domain.meta_codes``, re-exported
here) says, per Meta error code, what a sender should do about it; anything not listed is a
permanent error for that one request (``PERMANENT``). ``error_from_response`` turns an HTTP
answer that is not a success into ``MetaError`` (Meta's envelope, kept whole) or
``MetaUnavailable`` (no usable envelope). This module does no I/O and imports no HTTP client.

    MetaUnavailable (mindo_core.domain.errors)
    └── UnexpectedMetaResponse      Meta answered, but not in a shape we know; not retried
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from typing import Any

from mindo_core.domain.errors import MetaError, MetaErrorDetail, MetaUnavailable
from mindo_core.domain.meta_codes import META_CODE_POLICIES, PERMANENT, MetaCodePolicy, policy_for

__all__ = [
    "META_CODE_POLICIES",
    "PERMANENT",
    "MetaCodePolicy",
    "UnexpectedMetaResponse",
    "error_from_response",
    "policy_for",
]


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
