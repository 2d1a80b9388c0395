"""Meta's rules for template parameters, checked before anything is sent.

Each check returns the problems it finds (none when the value is fine) instead of raising, so
that one answer can list everything wrong with a request. Each problem carries the code Meta
would have answered (meta-cloud-api.md §1.4-1.5); the limits Meta does not publish on its current
pages (header 60, body 1024/32768, quick-reply payload 256, callback data 512) are the ones the
SDKs and Meta's older reference enforce.
"""

from __future__ import annotations

import math
import re
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Final
from urllib.parse import urlsplit

__all__ = [
    "BODY_ONLY_TEXT_MAX",
    "BODY_TEXT_MAX",
    "CALLBACK_DATA_MAX",
    "CODE_MAX",
    "FORBIDDEN_WHITESPACE",
    "HEADER_TEXT_MAX",
    "INVALID_TEXT_CHARACTERS",
    "MISSING_PARAMETER",
    "PARAMETER_COUNT_MISMATCH",
    "PARAMETER_FORMAT_MISMATCH",
    "QUICK_REPLY_PAYLOAD_MAX",
    "TEXT_TOO_LONG",
    "URL_MAX",
    "Problem",
    "code_is_fine",
    "code_problems",
    "coordinate",
    "media_reference",
    "most_significant_code",
    "payload_problems",
    "text_problems",
    "url_problems",
]

MISSING_PARAMETER = 131008
PARAMETER_COUNT_MISMATCH = 132000
TEXT_TOO_LONG = 132005
PARAMETER_FORMAT_MISMATCH = 132012
INVALID_TEXT_CHARACTERS = 132018

HEADER_TEXT_MAX = 60
BODY_TEXT_MAX = 1024
BODY_ONLY_TEXT_MAX = 32768
URL_MAX = 2000
CODE_MAX = 15
QUICK_REPLY_PAYLOAD_MAX = 256
CALLBACK_DATA_MAX = 512

# The order in which a request's problems pick the one code of the error: what Meta checks
# first (the shape of the parameter list) before what it checks per value.
_CODE_PRIORITY = (
    PARAMETER_COUNT_MISMATCH,
    MISSING_PARAMETER,
    PARAMETER_FORMAT_MISMATCH,
    INVALID_TEXT_CHARACTERS,
    TEXT_TOO_LONG,
)

# What Meta refuses in any text parameter with 132018: a match is a problem.
FORBIDDEN_WHITESPACE: Final = re.compile(r"[\n\r\t]| {5,}")
_ALPHANUMERIC = re.compile(r"[A-Za-z0-9]+")
_MEDIA_ID = re.compile(r"[0-9]+")
_DECIMAL = re.compile(r"[-+]?[0-9]+(\.[0-9]+)?")


@dataclass(frozen=True, kw_only=True)
class Problem:
    """One thing wrong with one value, and the code Meta would answer for it."""

    meta_code: int
    reason: str


def most_significant_code(problems: Iterable[Problem]) -> int:
    codes = {problem.meta_code for problem in problems}
    return next(code for code in (*_CODE_PRIORITY, *sorted(codes)) if code in codes)


def text_problems(value: str, *, max_length: int, what: str = "text parameter") -> list[Problem]:
    problems = []
    if match := FORBIDDEN_WHITESPACE.search(value):
        problems.append(Problem(meta_code=INVALID_TEXT_CHARACTERS, reason=_whitespace(match[0])))
    if len(value) > max_length:
        reason = f"is {len(value)} characters long; a {what} takes at most {max_length}"
        problems.append(Problem(meta_code=TEXT_TOO_LONG, reason=reason))
    return problems


def _whitespace(found: str) -> str:
    name = {"\n": "a new-line", "\r": "a carriage return", "\t": "a tab"}.get(
        found, f"{len(found)} consecutive spaces"
    )
    return (
        f"contains {name}; Meta refuses new-line, tab and carriage-return characters and more"
        " than 4 consecutive spaces in a text parameter"
    )


def code_problems(value: str, *, what: str) -> list[Problem]:
    """A coupon code or one-time password: at most 15 characters, letters and digits only."""
    problems = []
    if len(value) > CODE_MAX:
        reason = f"is {len(value)} characters long; a {what} takes at most {CODE_MAX} characters"
        problems.append(Problem(meta_code=PARAMETER_FORMAT_MISMATCH, reason=reason))
    if not _ALPHANUMERIC.fullmatch(value):
        reason = f"must contain only letters and digits (A-Z, a-z, 0-9) to be a {what}"
        problems.append(Problem(meta_code=PARAMETER_FORMAT_MISMATCH, reason=reason))
    return problems


def code_is_fine(value: str) -> bool:
    """``not code_problems(value, …)``, without building the problems."""
    return len(value) <= CODE_MAX and _ALPHANUMERIC.fullmatch(value) is not None


def url_problems(url_template: str, suffix: str) -> list[Problem]:
    """The suffix of a URL button: a text parameter whose URL stays within 2000 characters."""
    problems = text_problems(suffix, max_length=URL_MAX, what="URL suffix")
    problems = [p for p in problems if p.meta_code != TEXT_TOO_LONG]
    full_length = len(url_template.replace("{{1}}", suffix))
    if full_length > URL_MAX:
        reason = f"makes the button's URL {full_length} characters long; at most {URL_MAX}"
        problems.append(Problem(meta_code=TEXT_TOO_LONG, reason=reason))
    return problems


def payload_problems(value: str) -> list[Problem]:
    if len(value) <= QUICK_REPLY_PAYLOAD_MAX:
        return []
    reason = (
        f"is {len(value)} characters long; a quick-reply payload takes at most"
        f" {QUICK_REPLY_PAYLOAD_MAX}"
    )
    return [Problem(meta_code=TEXT_TOO_LONG, reason=reason)]


def media_reference(value: str) -> dict[str, str] | Problem:
    """``{"link": url}`` for an https URL, ``{"id": id}`` for a Meta media id (digits)."""
    if _MEDIA_ID.fullmatch(value):
        return {"id": value}
    parts = urlsplit(value)
    if parts.scheme == "https" and parts.hostname and not any(c.isspace() for c in value):
        return {"link": value}
    reason = "must be an https URL (https://…) or a Meta media id (digits only)"
    return Problem(meta_code=PARAMETER_FORMAT_MISMATCH, reason=reason)


def coordinate(value: str, *, limit: float, what: str) -> float | Problem:
    """A latitude (limit 90) or longitude (limit 180) written as a decimal number."""
    number = float(value) if _DECIMAL.fullmatch(value) else math.nan
    if -limit <= number <= limit:
        return number
    reason = f"must be a decimal {what} between -{limit:g} and {limit:g}"
    return Problem(meta_code=PARAMETER_FORMAT_MISMATCH, reason=reason)
