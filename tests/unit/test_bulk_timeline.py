"""A bulk's counts over time: cumulative points between its first and last event."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from mindo_core.bulks.timeline import MAX_POINTS, RecipientTimes, timeline_of

T0 = datetime(2026, 1, 1, 12, 0, tzinfo=UTC)


def at(seconds: float) -> datetime:
    return T0 + timedelta(seconds=seconds)


def test_points_are_cumulative_and_span_the_first_to_the_last_event() -> None:
    points = timeline_of(
        RecipientTimes(
            sent=(at(0), at(50), at(100)),
            delivered=(at(10), at(60)),
            read=(at(100),),
            failed=(at(30),),
        )
    )
    assert len(points) == MAX_POINTS
    assert points[0].at == at(0)
    assert points[-1].at == at(100)
    assert (points[0].sent, points[0].delivered, points[0].read, points[0].failed) == (1, 0, 0, 0)
    last = points[-1]
    assert (last.sent, last.delivered, last.read, last.failed) == (3, 2, 1, 1)
    assert points[-2].read == 0
    middle = [p for p in points if p.at <= at(55)][-1]
    assert (middle.sent, middle.delivered, middle.failed) == (2, 1, 1)
    for name in ("sent", "delivered", "read", "failed"):
        counts = [getattr(p, name) for p in points]
        assert counts == sorted(counts)


def test_nothing_happened_is_no_point_and_one_moment_is_one_point() -> None:
    assert timeline_of(RecipientTimes()) == ()
    (only,) = timeline_of(RecipientTimes(sent=(at(5), at(5)), failed=(at(5),)))
    assert (only.at, only.sent, only.failed) == (at(5), 2, 1)


def test_the_number_of_points_is_bounded_however_many_recipients() -> None:
    many = tuple(at(i / 10) for i in range(100_000))
    points = timeline_of(RecipientTimes(sent=many, delivered=many))
    assert len(points) == MAX_POINTS
    assert points[-1].sent == 100_000
