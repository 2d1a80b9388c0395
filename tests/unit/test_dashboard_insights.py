"""The bulk page's chart points and failure groups."""

from __future__ import annotations

from collections.abc import AsyncIterator

from google.protobuf.timestamp_pb2 import Timestamp

from mindo_grpc._pb.mindo.v1 import mindo_pb2
from rest_bridge.dashboard.insights import chart, failures_by_code
from rest_bridge.dashboard.meta_advice import NO_CODE, UNKNOWN, advice_for


async def streamed(*items: mindo_pb2.BulkMessage) -> AsyncIterator[mindo_pb2.BulkMessage]:
    for item in items:
        yield item


def test_the_chart_is_the_service_timeline_as_unix_seconds_and_series() -> None:
    timeline = mindo_pb2.BulkTimeline(
        points=[
            mindo_pb2.BulkTimelinePoint(at=Timestamp(seconds=100), sent=1),
            mindo_pb2.BulkTimelinePoint(
                at=Timestamp(seconds=160, nanos=500_000_000), sent=3, delivered=2, read=1, failed=1
            ),
        ]
    )
    assert chart(timeline) == {
        "times": [100.0, 160.5],
        "series": {"sent": [1, 3], "delivered": [0, 2], "read": [0, 1], "failed": [0, 1]},
    }


async def test_failures_are_grouped_by_code_largest_first_with_advice() -> None:
    groups = await failures_by_code(
        streamed(
            mindo_pb2.BulkMessage(status="failed", error_code=131050, error_message="opted out"),
            mindo_pb2.BulkMessage(status="failed", error_code=131026, error_message="first"),
            mindo_pb2.BulkMessage(status="failed", error_code=131026, error_message="second"),
            mindo_pb2.BulkMessage(status="failed", error_message="no code"),
        )
    )
    assert [(g.code, g.count, g.example) for g in groups] == [
        (131026, 2, "first"),
        (None, 1, "no code"),
        (131050, 1, "opted out"),
    ]
    assert "Never resend" in groups[2].advice.what_to_do
    assert groups[1].advice is NO_CODE


def test_every_code_has_advice_and_an_unlisted_code_says_so() -> None:
    assert advice_for(424242) is UNKNOWN
    assert advice_for(250) == advice_for(10)  # the 200-299 permission range
    assert "24 hours" in advice_for(131049).what_to_do
