"""Graph API errors as Meta returns them: one exception, one catalogue, one envelope.

The titles follow Meta's error-codes page; the HTTP statuses follow the older Meta table kept in
meta-cloud-api.md §2.2 (401 for auth, 403 for permissions, 404 for 132001, 5xx for server-side
codes, 400 for everything else).
"""

from __future__ import annotations

import base64
import os
from typing import Any

_TITLES: dict[int, str] = {
    0: "AuthException",
    1: "API Unknown",
    2: "Service temporarily unavailable",
    3: "API Method",
    4: "Application request limit reached",
    10: "Permission denied",
    33: "Parameter value is not valid",
    100: "Invalid parameter",
    190: "Invalid OAuth access token",
    200: "Permissions error",
    368: "Temporarily blocked for policies violations",
    80007: "Rate limit issues",
    130403: "The business has blocked this user",
    130429: "Rate limit hit",
    130472: "User's number is part of an experiment",
    130497: "Business account is restricted from messaging users in this country",
    131000: "Something went wrong",
    131005: "Access denied",
    131008: "Required parameter is missing",
    131009: "Parameter value is not valid",
    131016: "Service unavailable",
    131021: "Recipient cannot be sender",
    131026: "Message undeliverable",
    131031: "Account has been locked",
    131042: "Business eligibility payment issue",
    131045: "Incorrect certificate",
    131047: "Re-engagement message",
    131048: "Spam rate limit hit",
    131049: "This message was not delivered to maintain healthy ecosystem engagement.",
    131050: "Unable to deliver the marketing message to this recipient",
    131051: "Unsupported message type",
    131053: "Media upload error",
    131056: "(Business Account, Consumer Account) pair rate limit hit",
    131057: "Account in maintenance mode",
    131063: "Marketing messages disabled on Cloud API",
    131064: "Messaging limit reached",
    132000: "Number of parameters does not match the expected number of params",
    132001: "Template name does not exist in the translation",
    132005: "Translated text too long",
    132007: "Template format character policy violated",
    132012: "Parameter format does not match format in the created template",
    132015: "Template is Paused",
    132016: "Template is Disabled",
    132018: "Template validation error",
    133000: "Incomplete deregistration",
    133004: "Server temporarily unavailable",
    133010: "Account not registered",
}

_DEFAULT_DETAILS: dict[int, str] = {
    2: "The service is temporarily unavailable. Please retry your request later.",
    130429: "Cloud API message throughput has been reached.",
    131000: "Something went wrong. Please retry your request later.",
    130472: "Failed to send message because this user's phone number is part of an experiment.",
    131026: "Message undeliverable.",
    131047: "Message failed to send because more than 24 hours have passed since the customer "
    "last replied to this number.",
    131049: (
        "In order to maintain a healthy ecosystem engagement, the message failed to be delivered."
    ),
    131050: "Unable to deliver the marketing message to this recipient because they have "
    "stopped marketing messages from this business.",
    131053: "Unable to upload the media used in the message.",
    131056: "Message failed to send because there were too many messages sent from this phone "
    "number to the same phone number in a short period of time.",
}

_STATUS_BY_CODE: dict[int, int] = {
    0: 401,
    190: 401,
    10: 403,
    368: 403,
    131005: 403,
    131031: 403,
    132001: 404,
    3: 500,
    131000: 500,
    131016: 500,
    131045: 500,
    131057: 500,
    133000: 500,
    2: 503,
    133004: 503,
}

_TRANSIENT_CODES = frozenset({1, 2, 4, 131000, 131016, 133004})


def title_for(code: int) -> str:
    return _TITLES.get(code, "Error")


def details_for(code: int) -> str:
    """Meta's ``error_data.details`` for a code, or its title when the sandbox knows no more."""
    return _DEFAULT_DETAILS.get(code, title_for(code))


def http_status_for(code: int) -> int:
    if 200 <= code <= 299:
        return 403
    return _STATUS_BY_CODE.get(code, 400)


class GraphError(Exception):
    """An error answered in Graph's envelope; ``details`` goes to ``error_data.details``."""

    def __init__(self, code: int, details: str | None = None, *, subcode: int | None = None):
        self.code = code
        if details is None:
            details = details_for(code)
        self.details = details
        self.subcode = subcode
        super().__init__(f"({code}) {self.details}")

    @property
    def http_status(self) -> int:
        return http_status_for(self.code)

    def envelope(self) -> dict[str, Any]:
        return graph_error_body(self.code, self.details, subcode=self.subcode)


def graph_error_body(code: int, details: str, *, subcode: int | None = None) -> dict[str, Any]:
    error: dict[str, Any] = {
        "message": f"(#{code}) {title_for(code)}",
        "type": "OAuthException",
        "code": code,
        "error_data": {"messaging_product": "whatsapp", "details": details},
        "fbtrace_id": new_fbtrace_id(),
    }
    if subcode is not None:
        error["error_subcode"] = subcode
    if code in _TRANSIENT_CODES:
        error["is_transient"] = True
    return {"error": error}


def new_fbtrace_id() -> str:
    return base64.urlsafe_b64encode(os.urandom(17)).decode("ascii")[:23]
