"""The one table from a failed RPC to an HTTP answer.

Keyed by Mindo's stable error ``code`` (``mindo_grpc.status_details``); codes the table does not
know fall back on the gRPC status code. Errors the documentation shows keep their documented
bodies exactly (``{"error": msg}``, or a DRF field map); every other error carries ``code``.

    code                                  HTTP  body
    invalid_request, invalid_phone_number  400  field map if every field is a request field,
                                                else {"error", "code"[, "fields"]}
    template_parameters                    400  {"error", "code", "meta_code", "fields"}
    invalid_recipients                     400  {"error", "code", "invalid_count", "recipients":
                                                [{"index", "phone", "reason"}, ...first 100]}
    invalid_contacts                       400  {"error", "code", "fields": {"contacts.<i>.<field>":
                                                [why]}, ...first 20}, REST's field names
    empty_contacts, too_many_contacts      400  {"error", "code"}
    empty_recipients                       400  {"error"}                  (documented)
    too_many_recipients                    400  {"error", "code"}
    template_not_approved                  400  {"error"}                  (documented)
    template_not_found                     404  {"error"}                  (documented)
    phone_number_not_found                 404  {"error"}                  (documented)
    api_key_missing, api_key_expired       401  {"error"}                  (documented)
    api_key_forbidden                      403  {"error"}                  (documented)
    webhook_signature_invalid              401  {"error", "code"}   (POST /webhooks/meta)
    message_not_found, bulk_not_found, …   404  {"error", "code"}
    conflict, recipient_opted_out          409  {"error", "code"}
    idempotency_key_reused                 409  {"error", "code"}
    idempotency_key_in_flight              409  {"error", "code"} + Retry-After
    failed_precondition                    400  {"error", "code"}   (e.g. cancelling a bulk
                                                that is over)
    bulk_still_sending, nothing_to_resend  409  {"error", "code"}   (resend-failed)
    rate_limited, number_at_capacity       429  {"error", "code"} + Retry-After
    quota_exceeded                         429  {"error", "code", "frees_at"} + Retry-After
    meta_error                             502  {"error", "code"[, "meta_code"]}
    meta_unavailable                       503  {"error", "code"[, "meta_code"]}
    outcome_unknown                        503  {"error", "code", "first_attempt_at"}
    (bare UNAVAILABLE: service down)       503  {"error": "Service unavailable", "code": …}
    deadline_exceeded                      504  {"error", "code"}   (nothing was sent)
    (bare DEADLINE_EXCEEDED)               504  {"error": "Upstream timeout", "code": …}
    anything else                          500  {"error": "Internal error", "code": "internal"}
"""

from __future__ import annotations

import json
import logging
import math
from collections.abc import Callable, Mapping

import grpc

from mindo_grpc.status_details import ErrorDetails
from rest_bridge.fields import Detail
from rest_bridge.problems import ApiError, coded, internal_error

logger = logging.getLogger(__name__)

# The code ``from_rpc_error`` reports when the server sent no details at all.
NO_DETAILS = "internal"

Body = Callable[[ErrorDetails, tuple[str, ...]], object]


def _documented(details: ErrorDetails, _fields: tuple[str, ...]) -> object:
    return {"error": details.message}


def _with_code(details: ErrorDetails, _fields: tuple[str, ...]) -> object:
    return {"error": details.message, "code": details.code}


def _meta_code(details: ErrorDetails) -> int | None:
    try:
        return int(details.metadata.get("meta_code", ""))
    except ValueError:
        return None


def _meta_failure(details: ErrorDetails, _fields: tuple[str, ...]) -> object:
    body: dict[str, object] = {"error": details.message, "code": details.code}
    meta_code = _meta_code(details)
    if meta_code is not None:
        body["meta_code"] = meta_code
    return body


def _quota_exceeded(details: ErrorDetails, _fields: tuple[str, ...]) -> object:
    """When room frees: the service's time (``frees_at``, UTC), and Retry-After in seconds."""
    return {
        "error": details.message,
        "code": details.code,
        "frees_at": details.metadata.get("frees_at"),
    }


def _outcome_unknown(details: ErrorDetails, _fields: tuple[str, ...]) -> object:
    return {
        "error": details.message,
        "code": details.code,
        "first_attempt_at": details.metadata.get("first_attempt_at"),
    }


def _template_parameters(details: ErrorDetails, _fields: tuple[str, ...]) -> object:
    return {
        "error": details.message,
        "code": details.code,
        "meta_code": _meta_code(details),
        "fields": dict(details.field_errors),
    }


def _invalid_recipients(details: ErrorDetails, _fields: tuple[str, ...]) -> object:
    """The service lists the first 100 problems as JSON in the ErrorInfo metadata."""
    problems = _recipient_problems(details.metadata.get("problems", ""))
    return {
        "error": details.message,
        "code": details.code,
        "invalid_count": _count(details.metadata.get("invalid_count", ""), len(problems)),
        "recipients": problems,
    }


def _recipient_problems(text: str) -> list[dict[str, object]]:
    try:
        listed = json.loads(text)
    except ValueError:
        return []
    if not isinstance(listed, list):
        return []
    keys = ("index", "phone", "reason")
    return [{key: item.get(key) for key in keys} for item in listed if isinstance(item, dict)]


# The core names a contact's fields as gRPC does; REST's body spells them in camelCase.
_REST_CONTACT_FIELDS: Mapping[str, str] = {"full_name": "fullName"}


def _invalid_contacts(details: ErrorDetails, _fields: tuple[str, ...]) -> object:
    fields = {}
    for path, problems in details.field_errors.items():
        head, dot, name = path.rpartition(".")
        fields[f"{head}{dot}{_REST_CONTACT_FIELDS.get(name, name)}"] = list(problems)
    message = details.message
    for core, rest in _REST_CONTACT_FIELDS.items():
        message = message.replace(f"].{core}:", f"].{rest}:")
    return {"error": message, "code": details.code, "fields": fields}


def _count(text: str, fallback: int) -> int:
    try:
        return int(text)
    except ValueError:
        return fallback


def _input_error(details: ErrorDetails, request_fields: tuple[str, ...]) -> object:
    field_map = _as_field_map(details.field_errors, request_fields)
    if field_map is not None:
        return field_map
    body: dict[str, object] = {"error": details.message, "code": details.code}
    if details.field_errors:
        body["fields"] = dict(details.field_errors)
    return body


def _as_field_map(
    field_errors: Mapping[str, list[str]], request_fields: tuple[str, ...]
) -> dict[str, Detail] | None:
    """DRF's shape when every error names a request field; ``variables.<key>`` nests.

    A variable's key may itself hold dots, so only the first dot separates.
    """
    result: dict[str, Detail] = {}
    for path, problems in field_errors.items():
        top, dot, child = path.partition(".")
        if top not in request_fields:
            return None
        if not dot:
            if top in result:
                return None
            result[top] = list(problems)
            continue
        slot = result.setdefault(top, {})
        if not isinstance(slot, dict):
            return None
        slot[child] = list(problems)
    # DRF lists errors in the order the fields are declared.
    return {name: result[name] for name in request_fields if name in result} or None


BY_CODE: Mapping[str, tuple[int, Body]] = {
    "invalid_request": (400, _input_error),
    "invalid_phone_number": (400, _input_error),
    "template_parameters": (400, _template_parameters),
    "invalid_recipients": (400, _invalid_recipients),
    "invalid_contacts": (400, _invalid_contacts),
    "empty_contacts": (400, _with_code),
    "too_many_contacts": (400, _with_code),
    "empty_recipients": (400, _documented),
    "too_many_recipients": (400, _with_code),
    "template_not_approved": (400, _documented),
    "template_not_found": (404, _documented),
    "phone_number_not_found": (404, _documented),
    "api_key_missing": (401, _documented),
    "api_key_expired": (401, _documented),
    "api_key_forbidden": (403, _documented),
    "webhook_signature_invalid": (401, _with_code),
    "not_found": (404, _with_code),
    "message_not_found": (404, _with_code),
    "bulk_not_found": (404, _with_code),
    "organisation_not_found": (404, _with_code),
    "not_suppressed": (404, _with_code),
    "webhook_endpoint_not_found": (404, _with_code),
    "conflict": (409, _with_code),
    "recipient_opted_out": (409, _with_code),
    "idempotency_key_reused": (409, _with_code),
    "idempotency_key_in_flight": (409, _with_code),
    "failed_precondition": (400, _with_code),
    # Resend-failed: the bulk's state conflicts with the request (retry once it is over).
    "bulk_still_sending": (409, _with_code),
    "nothing_to_resend": (409, _with_code),
    "rate_limited": (429, _with_code),
    "number_at_capacity": (429, _with_code),
    "quota_exceeded": (429, _quota_exceeded),
    "meta_error": (502, _meta_failure),
    "meta_unavailable": (503, _meta_failure),
    "outcome_unknown": (503, _outcome_unknown),
    "deadline_exceeded": (504, _with_code),
}

# For codes the table does not know: the HTTP status and the code to report.
BY_STATUS: Mapping[grpc.StatusCode, tuple[int, str]] = {
    grpc.StatusCode.INVALID_ARGUMENT: (400, "invalid_request"),
    grpc.StatusCode.FAILED_PRECONDITION: (400, "failed_precondition"),
    grpc.StatusCode.OUT_OF_RANGE: (400, "invalid_request"),
    grpc.StatusCode.UNAUTHENTICATED: (401, "unauthenticated"),
    grpc.StatusCode.PERMISSION_DENIED: (403, "api_key_forbidden"),
    grpc.StatusCode.NOT_FOUND: (404, "not_found"),
    grpc.StatusCode.ALREADY_EXISTS: (409, "conflict"),
    grpc.StatusCode.RESOURCE_EXHAUSTED: (429, "rate_limited"),
    # An RPC the service declares but does not serve yet: a webhook answered 501 is retried by
    # Meta for days, so nothing is lost while it lands.
    grpc.StatusCode.UNIMPLEMENTED: (501, "not_implemented"),
}


def api_error(details: ErrorDetails, *, request_fields: tuple[str, ...] = ()) -> ApiError:
    """The HTTP answer to a failed RPC; ``request_fields`` are the body's top-level fields."""
    if details.code in BY_CODE:
        status, body = BY_CODE[details.code]
        return ApiError(status, body(details, request_fields), headers=_retry_after(details))
    return _by_status(details)


def _by_status(details: ErrorDetails) -> ApiError:
    if details.status in BY_STATUS:
        status, code = BY_STATUS[details.status]
        reported = code if details.code == NO_DETAILS else details.code
        return ApiError(status, {"error": details.message, "code": reported})
    if details.status is grpc.StatusCode.UNAVAILABLE:
        if details.code == NO_DETAILS:
            return coded(503, "Service unavailable", "service_unavailable")
        return coded(503, details.message, details.code)
    if details.status is grpc.StatusCode.DEADLINE_EXCEEDED:
        return coded(504, "Upstream timeout", "upstream_timeout")
    logger.error("gRPC call failed: %s %s: %s", details.status, details.code, details.message)
    return internal_error()


def _retry_after(details: ErrorDetails) -> dict[str, str]:
    if details.retry_after_seconds is None:
        return {}
    return {"Retry-After": str(max(1, math.ceil(details.retry_after_seconds)))}
