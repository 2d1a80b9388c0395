"""The error details Mindo puts on a failed RPC, and how a client reads them back.

A failed RPC carries, besides its status code and message, a ``google.rpc.Status`` in the
``grpc-status-details-bin`` trailer with:

- ``google.rpc.ErrorInfo``: ``reason`` is Mindo's stable error code (``template_not_found``…),
  ``domain`` is ``mindo.dev``, ``metadata`` holds extra facts (``meta_code`` for Meta's code);
- ``google.rpc.BadRequest`` when the input was at fault: one violation per offending field,
  several per field allowed;
- ``google.rpc.RetryInfo`` when retrying later helps (rate limits).

Any gRPC client can read these with its language's rich-status helpers.

The trailers fit gRPC's default metadata limit (8 KiB; a client drops a call whose trailers
pass it and sees RESOURCE_EXHAUSTED "Stream removed" instead of the error), so every error
reaches a default client as itself: the message is cut to ``MAX_MESSAGE_CHARS``, and when the
details still exceed ``DETAILS_BUDGET_BYTES`` the last field violations are left out;
``unlisted_field_errors`` in the ErrorInfo metadata counts them. (A refused bulk's listed
problems, at most 100 and bounded by the core, are kept whole: the REST bridge shows them.)
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field, replace

import grpc
from google.protobuf import any_pb2, duration_pb2
from google.protobuf.message import Message
from google.rpc import error_details_pb2, status_pb2
from grpc_status import rpc_status

DOMAIN = "mindo.dev"
# The message travels twice (grpc-message, and inside the details), the details base64-encoded
# (4/3): 4,500 bytes of details plus a 1,000-character message stay under 8 KiB.
MAX_MESSAGE_CHARS = 1_000
DETAILS_BUDGET_BYTES = 4_500
DETAILS_TRAILER = "grpc-status-details-bin"


@dataclass(frozen=True, kw_only=True)
class ErrorDetails:
    status: grpc.StatusCode
    message: str
    code: str = "internal"
    metadata: Mapping[str, str] = field(default_factory=dict)
    field_errors: Mapping[str, list[str]] = field(default_factory=dict)
    retry_after_seconds: float | None = None


def to_status(details: ErrorDetails) -> grpc.Status:
    """The status to pass to ``context.abort_with_status``, within the trailers' budget."""
    return rpc_status.to_status(_fitted(details))


def _fitted(details: ErrorDetails) -> status_pb2.Status:
    details = replace(details, message=_cut(details.message, MAX_MESSAGE_CHARS))
    proto = _proto_of(details)
    violations = [(name, p) for name, problems in details.field_errors.items() for p in problems]
    listed = len(violations)
    while proto.ByteSize() > DETAILS_BUDGET_BYTES and listed > 0:
        listed = max(0, min(listed - 1, listed * DETAILS_BUDGET_BYTES // proto.ByteSize()))
        proto = _proto_of(_with_violations(details, violations, listed))
    return proto


def _proto_of(details: ErrorDetails) -> status_pb2.Status:
    packed = [_pack(_error_info(details))]
    if details.field_errors:
        packed.append(_pack(_bad_request(details.field_errors)))
    if details.retry_after_seconds is not None:
        packed.append(_pack(_retry_info(details.retry_after_seconds)))
    return status_pb2.Status(code=details.status.value[0], message=details.message, details=packed)


def _with_violations(
    details: ErrorDetails, violations: list[tuple[str, str]], listed: int
) -> ErrorDetails:
    fields: dict[str, list[str]] = {}
    for name, problem in violations[:listed]:
        fields.setdefault(name, []).append(problem)
    unlisted = {"unlisted_field_errors": str(len(violations) - listed)}
    return replace(details, field_errors=fields, metadata={**details.metadata, **unlisted})


def _cut(text: str, limit: int) -> str:
    return text if len(text) <= limit else text[: limit - 1] + "…"


def from_rpc_error(error: grpc.aio.AioRpcError) -> ErrorDetails:
    """What the server said; a bare status (no details) reads as code ``internal``."""
    result = ErrorDetails(status=error.code(), message=error.details() or "")
    proto = _trailer_status(error)
    if proto is None:
        return result
    return _with_details(result, proto)


def _trailer_status(error: grpc.aio.AioRpcError) -> status_pb2.Status | None:
    """The trailer's ``google.rpc.Status``, read as ``rpc_status.from_call`` reads a sync call's
    (which takes no ``AioRpcError``): its code and message must agree with the call's."""
    for key, value in error.trailing_metadata() or ():
        if key == DETAILS_TRAILER and isinstance(value, bytes):
            proto = status_pb2.Status.FromString(value)
            if proto.code != error.code().value[0] or proto.message != error.details():
                raise ValueError(f"the status details disagree with the status: {proto}")
            return proto
    return None


def _with_details(result: ErrorDetails, proto: status_pb2.Status) -> ErrorDetails:
    code, retry = result.code, None
    metadata: dict[str, str] = {}
    fields: dict[str, list[str]] = {}
    for item in proto.details:
        info = error_details_pb2.ErrorInfo()
        bad = error_details_pb2.BadRequest()
        delay = error_details_pb2.RetryInfo()
        if item.Unpack(info):  # False, and nothing read, when the item holds another type
            code, metadata = info.reason, dict(info.metadata)
        elif item.Unpack(bad):
            for violation in bad.field_violations:
                fields.setdefault(violation.field, []).append(violation.description)
        elif item.Unpack(delay):
            retry = delay.retry_delay.ToTimedelta().total_seconds()
    return ErrorDetails(
        status=result.status,
        message=result.message,
        code=code,
        metadata=metadata,
        field_errors=fields,
        retry_after_seconds=retry,
    )


def _pack(message: Message) -> any_pb2.Any:
    packed = any_pb2.Any()
    packed.Pack(message)
    return packed


def _error_info(details: ErrorDetails) -> error_details_pb2.ErrorInfo:
    return error_details_pb2.ErrorInfo(
        reason=details.code, domain=DOMAIN, metadata=dict(details.metadata)
    )


def _bad_request(field_errors: Mapping[str, list[str]]) -> error_details_pb2.BadRequest:
    violations = [
        error_details_pb2.BadRequest.FieldViolation(field=name, description=problem)
        for name, problems in field_errors.items()
        for problem in problems
    ]
    return error_details_pb2.BadRequest(field_violations=violations)


def _retry_info(seconds: float) -> error_details_pb2.RetryInfo:
    delay = duration_pb2.Duration()
    delay.FromMilliseconds(int(seconds * 1000))
    return error_details_pb2.RetryInfo(retry_delay=delay)
