"""The bulk page's chart points and failure groups, from recipients as the service streams them."""

from __future__ import annotations

from collections.abc import AsyncIterator

from google.protobuf.timestamp_pb2 import Timestamp

from mindo_grpc._pb.mindo.v1 import mindo_pb2
from rest_bridge.dashboard.insights import binned, failures_by_code, timeline
from rest_bridge.dashboard.meta_advice import NO_CODE, UNKNOWN, advice_for


def at(seconds: int) -> Timestamp:
    return Timestamp(seconds=seconds)


async def streamed(*items: mindo_pb2.BulkMessage) -> AsyncIterator[mindo_pb2.BulkMessage]:
    for item in items:
        yield item


async def test_the_timeline_counts_each_series_cumulatively() -> None:
    found = await timeline(
        streamed(
            mindo_pb2.BulkMessage(sent_at=at(100), delivered_at=at(110), read_at=at(200)),
            mindo_pb2.BulkMessage(sent_at=at(150)),
            mindo_pb2.BulkMessage(failed_at=at(160)),
            mindo_pb2.BulkMessage(status="pending"),
        )
    )
    assert found.times[0] == 100
    assert found.times[-1] == 200
    assert len(found.times) == 60
    assert found.counts["sent"][0] == 1
    assert found.counts["sent"][-1] == 2
    assert found.counts["delivered"][-1] == 1
    assert found.counts["read"][-2] == 0
    assert found.counts["read"][-1] == 1
    assert found.counts["failed"][-1] == 1
    for series in found.counts.values():
        assert list(series) == sorted(series)


def test_an_empty_bulk_has_no_points_and_one_moment_has_one() -> None:
    assert binned({"sent": [], "delivered": [], "read": [], "failed": []}).times == ()
    single = binned({"sent": [5.0, 5.0], "delivered": [], "read": [], "failed": []})
    assert single.times == (5.0,)
    assert single.counts["sent"] == (2,)


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
