"""Core errors → gRPC statuses: the one table for this boundary.

A ``MindoError`` becomes its status code plus rich details (``status_details``); anything else
becomes INTERNAL with a generic message, logged here and never shown to the client.
"""

from __future__ import annotations

import json
import logging
from datetime import UTC, datetime

import grpc

from mindo_core.bulks.submission import InvalidRecipients
from mindo_core.domain import errors
from mindo_grpc.status_details import ErrorDetails

log = logging.getLogger(__name__)

# Most specific first: the first class an error is an instance of decides.
STATUS_BY_ERROR: tuple[tuple[type[errors.MindoError], grpc.StatusCode], ...] = (
    (errors.InvalidRequest, grpc.StatusCode.INVALID_ARGUMENT),
    # The first request with the key still runs elsewhere: a concurrency conflict, retry soon.
    (errors.IdempotencyKeyInFlight, grpc.StatusCode.ABORTED),
    (errors.NotFound, grpc.StatusCode.NOT_FOUND),
    (errors.Conflict, grpc.StatusCode.ALREADY_EXISTS),
    (errors.FailedPrecondition, grpc.StatusCode.FAILED_PRECONDITION),
    (errors.Unauthenticated, grpc.StatusCode.UNAUTHENTICATED),
    (errors.PermissionDenied, grpc.StatusCode.PERMISSION_DENIED),
    (errors.RateLimited, grpc.StatusCode.RESOURCE_EXHAUSTED),
    (errors.QuotaExceeded, grpc.StatusCode.RESOURCE_EXHAUSTED),
    (errors.MetaUnavailable, grpc.StatusCode.UNAVAILABLE),
    (errors.OutcomeUnknown, grpc.StatusCode.UNAVAILABLE),
    (errors.Unavailable, grpc.StatusCode.UNAVAILABLE),
    (errors.DeadlineExceeded, grpc.StatusCode.DEADLINE_EXCEEDED),
    # Meta refused the message for good: the request reached Meta and Meta said no.
    (errors.MetaError, grpc.StatusCode.FAILED_PRECONDITION),
)


def details_for(error: BaseException) -> ErrorDetails:
    if not isinstance(error, errors.MindoError):
        log.exception("unexpected error while serving an RPC", exc_info=error)
        return ErrorDetails(status=grpc.StatusCode.INTERNAL, message="Internal error")
    return ErrorDetails(
        status=_status_of(error),
        message=error.message,
        code=_code_of(error),
        metadata=_metadata_of(error),
        field_errors=error.field_errors if isinstance(error, errors.InvalidRequest) else {},
        retry_after_seconds=_retry_after(error),
    )


def _retry_after(error: errors.MindoError) -> float | None:
    """Seconds after which the same request may succeed, for the errors that know them."""
    if isinstance(error, errors.RateLimited | errors.QuotaExceeded | errors.IdempotencyKeyInFlight):
        return error.retry_after_seconds
    return None


def _code_of(error: errors.MindoError) -> str:
    # A transient refusal by Meta reads to clients like Meta not answering: try again later.
    if isinstance(error, errors.MetaError) and error.retryable:
        return errors.MetaUnavailable.code
    return error.code


def _status_of(error: errors.MindoError) -> grpc.StatusCode:
    if isinstance(error, errors.MetaError) and error.retryable:
        # Meta said "not now" (code 2, 131000, 130429…): the call may succeed later.
        return grpc.StatusCode.UNAVAILABLE
    for error_class, status in STATUS_BY_ERROR:
        if isinstance(error, error_class):
            return status
    return grpc.StatusCode.INTERNAL


def _metadata_of(error: errors.MindoError) -> dict[str, str]:
    if isinstance(error, InvalidRecipients):
        # The first 100 problems, whole (index, phone as submitted, reason), for any client.
        problems = [
            {"index": p.index, "phone": p.phone, "reason": p.reason} for p in error.problems
        ]
        return {
            "invalid_count": str(error.invalid_count),
            "total": str(error.total),
            "problems": json.dumps(problems, ensure_ascii=False),
        }
    if isinstance(error, errors.QuotaExceeded):
        return {"frees_at": _iso(error.frees_at)}
    if isinstance(error, errors.OutcomeUnknown):
        return {"first_attempt_at": _iso(error.first_attempt_at)}
    if isinstance(error, errors.TemplateParameterError):
        return {"meta_code": str(error.meta_code)}
    if isinstance(error, errors.MetaError):
        detail = error.detail
        return {
            "meta_code": str(detail.meta_code),
            "meta_details": detail.details,
            "retryable": str(error.retryable).lower(),
        }
    return {}


def _iso(moment: datetime) -> str:
    return moment.astimezone(UTC).isoformat().replace("+00:00", "Z")
