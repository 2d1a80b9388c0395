"""What a bulk's recipients add up to: counts over time for the chart, failures by Meta code.

Both read the recipients as the service streams them (ExportBulkMessages) and keep only sums:
a float per event for the timeline and a counter per code, never the recipients themselves.
"""

from __future__ import annotations

from bisect import bisect_right
from collections.abc import AsyncIterable, Iterator
from dataclasses import dataclass, field

from google.protobuf.timestamp_pb2 import Timestamp

from mindo_grpc._pb.mindo.v1 import mindo_pb2
from rest_bridge.dashboard.meta_advice import MetaAdvice, advice_for

SERIES = ("sent", "delivered", "read", "failed")
# Points on the chart: enough for a smooth curve, small enough to send on every page view.
MAX_POINTS = 60


@dataclass(frozen=True, kw_only=True)
class Timeline:
    """Cumulative counts per series at each of ``times`` (Unix seconds, ascending)."""

    times: tuple[float, ...]
    counts: dict[str, tuple[int, ...]]

    def as_json(self) -> dict[str, object]:
        return {"times": list(self.times), "series": {k: list(v) for k, v in self.counts.items()}}


async def timeline(items: AsyncIterable[mindo_pb2.BulkMessage]) -> Timeline:
    moments: dict[str, list[float]] = {name: [] for name in SERIES}
    async for item in items:
        for name, stamp in _stamps(item):
            moments[name].append(stamp.seconds + stamp.nanos / 1e9)
    return binned(moments)


def _stamps(item: mindo_pb2.BulkMessage) -> Iterator[tuple[str, Timestamp]]:
    if item.HasField("sent_at"):
        yield "sent", item.sent_at
    if item.HasField("delivered_at"):
        yield "delivered", item.delivered_at
    if item.HasField("read_at"):
        yield "read", item.read_at
    if item.HasField("failed_at"):
        yield "failed", item.failed_at


def binned(moments: dict[str, list[float]], points: int = MAX_POINTS) -> Timeline:
    every = [t for name in SERIES for t in moments[name]]
    if not every:
        return Timeline(times=(), counts={name: () for name in SERIES})
    first, last = min(every), max(every)
    step = (last - first) / (points - 1) if last > first else 0.0
    times = tuple(first + step * i for i in range(points)) if step else (first,)
    counts: dict[str, tuple[int, ...]] = {}
    for name in SERIES:
        ordered = sorted(moments[name])
        counts[name] = tuple(_count_up_to(ordered, t) for t in times)
    return Timeline(times=times, counts=counts)


def _count_up_to(ordered: list[float], moment: float) -> int:
    return bisect_right(ordered, moment + 1e-9)


@dataclass(kw_only=True)
class FailureGroup:
    code: int | None
    count: int = 0
    # Meta's text of the first failure with this code, as an example.
    example: str = ""
    advice: MetaAdvice = field(init=False)

    def __post_init__(self) -> None:
        self.advice = advice_for(self.code)


async def failures_by_code(items: AsyncIterable[mindo_pb2.BulkMessage]) -> list[FailureGroup]:
    """The failed recipients grouped by Meta code, the largest group first."""
    groups: dict[int | None, FailureGroup] = {}
    async for item in items:
        code = item.error_code if item.HasField("error_code") else None
        group = groups.get(code)
        if group is None:
            group = groups[code] = FailureGroup(code=code, example=item.error_message)
        group.count += 1
    return sorted(groups.values(), key=lambda g: (-g.count, g.code or 0))
