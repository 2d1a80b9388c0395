"""What a bulk page shows beyond its counters: the chart's points (as the service summed them)
and the failed recipients grouped by Meta code (a counter per code as they stream by, never
the recipients themselves)."""

from __future__ import annotations

from collections import Counter
from collections.abc import AsyncIterable
from dataclasses import dataclass

from mindo_grpc._pb.mindo.v1 import mindo_pb2
from rest_bridge.dashboard.meta_advice import MetaAdvice, advice_for

SERIES = ("sent", "delivered", "read", "failed")


def chart(timeline: mindo_pb2.BulkTimeline) -> dict[str, object]:
    """The chart's points as the page's script draws them: Unix seconds and one list per
    series."""
    points = timeline.points
    return {
        "times": [p.at.seconds + p.at.nanos / 1e9 for p in points],
        "series": {name: [getattr(p, name) for p in points] for name in SERIES},
    }


@dataclass(frozen=True, kw_only=True)
class FailureGroup:
    code: int | None
    count: int
    # Meta's text of the first failure with this code, as an example.
    example: str

    @property
    def advice(self) -> MetaAdvice:
        return advice_for(self.code)


async def failures_by_code(items: AsyncIterable[mindo_pb2.BulkMessage]) -> list[FailureGroup]:
    """The failed recipients grouped by Meta code, the largest group first."""
    counts: Counter[int | None] = Counter()
    examples: dict[int | None, str] = {}
    async for item in items:
        code = item.error_code if item.HasField("error_code") else None
        counts[code] += 1
        examples.setdefault(code, item.error_message)
    groups = [FailureGroup(code=c, count=n, example=examples[c]) for c, n in counts.items()]
    return sorted(groups, key=lambda g: (-g.count, g.code or 0))
