"""Protobuf values as the JSON the documented API shows."""

from __future__ import annotations

from datetime import UTC

from google.protobuf.message import Message
from google.protobuf.timestamp_pb2 import Timestamp


def iso_utc(timestamp: Timestamp) -> str:
    """ISO 8601 in UTC with ``Z``, as DRF renders datetimes (microseconds only when non-zero)."""
    moment = timestamp.ToDatetime(tzinfo=UTC)
    return moment.isoformat().replace("+00:00", "Z")


def iso_utc_or_null(message: Message, field: str) -> str | None:
    """``message.<field>`` as ``iso_utc``, or None when the service left it unset."""
    if not message.HasField(field):
        return None
    timestamp = getattr(message, field)
    return iso_utc(timestamp)


def text_or_null(text: str) -> str | None:
    """proto3 cannot say null for a string: the service sends "" for "none"."""
    return text or None


def limit_or_null(value: int) -> int | None:
    """Quota numbers: the service sends -1 (Meta's spelling) for "no limit"; JSON says null."""
    return None if value < 0 else value
