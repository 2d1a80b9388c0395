"""The error details Mindo puts on a failed RPC, and how a client reads them back.

A failed RPC carries, besides its status code and message, a ``google.rpc.Status`` in the
``grpc-status-details-bin`` trailer with:

- ``google.rpc.ErrorInfo``: ``reason`` is Mindo's stable error code (``template_not_found``…),
  ``domain`` is ``mindo.dev``, ``metadata`` holds extra facts (``meta_code`` for Meta's code);
- ``google.rpc.BadRequest`` when the input was at fault: one violation per offending field,
  several per field allowed;
- ``google.rpc.RetryInfo`` when retrying later helps (rate limits).

Any gRPC client can read these with its language's rich-status helpers.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field

import grpc
from google.protobuf import any_pb2, duration_pb2
from google.protobuf.message import Message
from google.rpc import error_details_pb2, status_pb2
from grpc_status import rpc_status

DOMAIN = "mindo.dev"
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
    """The status to pass to ``context.abort_with_status``."""
    packed = [_pack(_error_info(details))]
    if details.field_errors:
        packed.append(_pack(_bad_request(details.field_errors)))
    if details.retry_after_seconds is not None:
        packed.append(_pack(_retry_info(details.retry_after_seconds)))
    proto = status_pb2.Status(code=details.status.value[0], message=details.message, details=packed)
    return rpc_status.to_status(proto)


def from_rpc_error(error: grpc.aio.AioRpcError) -> ErrorDetails:
    """What the server said; a bare status (no details) reads as code ``internal``."""
    result = ErrorDetails(status=error.code(), message=error.details() or "")
    proto = _status_proto(error)
    if proto is None:
        return result
    return _with_details(result, proto)


def _status_proto(error: grpc.aio.AioRpcError) -> status_pb2.Status | None:
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
