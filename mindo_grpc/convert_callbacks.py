"""Status callbacks between the core's values and protobuf."""

from __future__ import annotations

from mindo_core.callbacks.model import EVENT_TYPES, Attempt, WebhookEndpoint
from mindo_grpc._pb.mindo.v1 import mindo_pb2 as pb
from mindo_grpc.convert import timestamp


def endpoint(value: WebhookEndpoint, *, secret: str | None = None) -> pb.WebhookEndpoint:
    return pb.WebhookEndpoint(
        id=value.id,
        url=value.url,
        events=[t for t in EVENT_TYPES if t in value.events],
        created_at=timestamp(value.created_at),
        secret=secret,
        enabled=value.disabled_at is None,
        disabled_at=timestamp(value.disabled_at),
        disabled_reason=value.disabled_reason,
        failing_since=timestamp(value.failing_since),
        previous_secret_expires_at=timestamp(value.previous_secret_expires_at),
    )


def attempt(value: Attempt) -> pb.WebhookAttempt:
    return pb.WebhookAttempt(
        id=value.id,
        event_id=value.event_id,
        event_type=value.event_type,
        at=timestamp(value.at),
        status_code=value.status_code,
        error=value.error,
        delivered=value.delivered,
        duration_ms=value.duration_ms,
    )
