"""A failed RPC's details survive the trip: what the server packs, a client reads back."""

from __future__ import annotations

import grpc
import pytest

from mindo_grpc.status_details import ErrorDetails, from_rpc_error, to_status


def _as_received(status: grpc.Status) -> grpc.aio.AioRpcError:
    """The error a ``grpc.aio`` client raises for a call aborted with ``status``."""
    return grpc.aio.AioRpcError(
        code=status.code,
        initial_metadata=grpc.aio.Metadata(),
        trailing_metadata=grpc.aio.Metadata(*status.trailing_metadata),
        details=status.details,
    )


def test_code_metadata_field_errors_and_retry_read_back_as_sent() -> None:
    sent = ErrorDetails(
        status=grpc.StatusCode.INVALID_ARGUMENT,
        message="variables.name: required",
        code="template_parameter_error",
        metadata={"meta_code": "132000"},
        field_errors={"variables.name": ["required", "too long"], "language": ["unknown"]},
        retry_after_seconds=2.5,
    )

    assert from_rpc_error(_as_received(to_status(sent))) == sent


def test_a_bare_status_reads_as_code_internal() -> None:
    bare = grpc.aio.AioRpcError(
        code=grpc.StatusCode.UNAVAILABLE,
        initial_metadata=grpc.aio.Metadata(),
        trailing_metadata=grpc.aio.Metadata(),
        details="connection refused",
    )

    assert from_rpc_error(bare) == ErrorDetails(
        status=grpc.StatusCode.UNAVAILABLE, message="connection refused"
    )


def test_details_that_contradict_the_status_are_refused() -> None:
    status = to_status(ErrorDetails(status=grpc.StatusCode.NOT_FOUND, message="no such bulk"))
    tampered = grpc.aio.AioRpcError(
        code=grpc.StatusCode.INTERNAL,
        initial_metadata=grpc.aio.Metadata(),
        trailing_metadata=grpc.aio.Metadata(*status.trailing_metadata),
        details="no such bulk",
    )

    with pytest.raises(ValueError, match=r"(?i)status"):
        from_rpc_error(tampered)
