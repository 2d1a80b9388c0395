"""Protobuf values as the JSON the documented API shows."""

from __future__ import annotations

from datetime import UTC

from google.protobuf.timestamp_pb2 import Timestamp


def iso_utc(timestamp: Timestamp) -> str:
    """ISO 8601 in UTC with ``Z``, as DRF renders datetimes (microseconds only when non-zero)."""
    moment = timestamp.ToDatetime(tzinfo=UTC)
    return moment.isoformat().replace("+00:00", "Z")
