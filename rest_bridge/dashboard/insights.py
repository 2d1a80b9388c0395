"""What a bulk page shows beyond its counters: the chart's points (as the service summed them)
and the failed recipients grouped by Meta code (a counter per code as they stream by, never
the recipients themselves)."""

from __future__ import annotations

from collections.abc import AsyncIterable
from dataclasses import dataclass, field

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
