"""The live re-plan of a sending bulk's time left (``throughput.live_estimate``): pure, no I/O."""

from __future__ import annotations

import pytest

from mindo_core.throughput.live_estimate import (
    LIVE_WINDOW_SECONDS,
    MIN_SETTLED,
    SendingNow,
    measured_rate,
    remaining_seconds,
    retry_tail_seconds,
)


def _steady(rate: float, *, until: float, since: float = 0.0) -> list[float]:
    """Settled at ``rate`` per second from ``since`` to ``until``."""
    count = int((until - since) * rate)
    return [since + (i + 1) / rate for i in range(count)]


def _state(**changes: object) -> SendingNow:
    values: dict[str, object] = {
        "now": 100.0,
        "remaining": 800,
        "settled_at": _steady(40.0, until=100.0),
        "sending_since": 0.0,
        "waits_until": (),
        "planned_rate": 80.0,
        "tail_seconds": 0.0,
    }
    values.update(changes)
    return SendingNow(**values)  # type: ignore[arg-type]


def test_the_measured_rate_replaces_the_plan_once_enough_is_measured() -> None:
    # Planned 80/s, really 40/s: 800 left take 20 s, not 10.
    assert remaining_seconds(_state()) == pytest.approx(20.0, rel=0.01)


def test_the_plan_stands_until_enough_is_settled() -> None:
    few = _steady(40.0, until=0.25)  # 10 settled: fewer than MIN_SETTLED
    assert len(few) < MIN_SETTLED
    state = _state(now=0.25, settled_at=few)
    assert remaining_seconds(state) == pytest.approx(800 / 80.0)


def test_only_the_recent_window_counts() -> None:
    # Fast at first (80/s), slow for the last window (20/s): the slow rate is what is left.
    fast = _steady(80.0, until=60.0)
    slow = _steady(20.0, since=60.0, until=100.0)
    rate = measured_rate([*fast, *slow], now=100.0, since=0.0)
    assert rate == pytest.approx(20.0, rel=0.02)
    assert remaining_seconds(_state(settled_at=[*fast, *slow])) == pytest.approx(40.0, rel=0.02)


def test_the_window_starts_no_earlier_than_the_sending() -> None:
    # Resumed at 95 s after a pause: five seconds at 40/s is 40/s, not 200 over twenty seconds.
    settled = _steady(40.0, since=95.0, until=100.0)
    rate = measured_rate(settled, now=100.0, since=95.0)
    assert rate == pytest.approx(40.0, rel=0.01)
    assert measured_rate(settled, now=100.0, since=0.0) == pytest.approx(
        len(settled) / LIVE_WINDOW_SECONDS
    )


def test_a_stall_lowers_the_measured_rate() -> None:
    # Nothing settled for the last ten seconds (slowed down after 130429, or every answer slow).
    settled = _steady(40.0, until=90.0)
    assert measured_rate(settled, now=100.0, since=0.0) == pytest.approx(20.0, rel=0.02)


def test_retries_waiting_beyond_the_rest_make_the_time_left_longer() -> None:
    none_waiting = remaining_seconds(_state(remaining=100))
    # 100 left at 40/s: 2.5 s; three of them may only go in 30 s.
    waiting = remaining_seconds(_state(remaining=100, waits_until=(110.0, 120.0, 130.0)))
    assert none_waiting == pytest.approx(2.5, rel=0.01)
    assert waiting == pytest.approx(30.0 + 1 / 40.0, rel=0.01)
    assert waiting > none_waiting


def test_waits_already_over_or_within_the_sending_change_nothing() -> None:
    base = remaining_seconds(_state())
    assert remaining_seconds(_state(waits_until=(50.0, 101.0, 105.0))) == pytest.approx(base)


def test_the_tail_is_added_and_nothing_left_is_zero() -> None:
    assert remaining_seconds(_state(tail_seconds=0.3)) == pytest.approx(
        remaining_seconds(_state()) + 0.3
    )
    assert remaining_seconds(_state(remaining=0, tail_seconds=0.3)) == 0.0


def test_a_plan_without_a_rate_is_refused() -> None:
    with pytest.raises(ValueError, match="rate"):
        remaining_seconds(_state(settled_at=(), planned_rate=0.0))


def test_more_remaining_means_more_time() -> None:
    times = [remaining_seconds(_state(remaining=n)) for n in (10, 100, 1000)]
    assert times == sorted(times)
    assert times[0] < times[-1]


def test_no_retry_seen_means_no_retry_tail() -> None:
    assert retry_tail_seconds(1000, 80.0, settled=500, chains=()) == 0.0
    assert retry_tail_seconds(0, 80.0, settled=500, chains=(12.0,)) == 0.0


def test_the_last_retried_recipient_is_expected_near_the_end() -> None:
    # 1 in 100 needed a 12 s chain; of 1,000 left (12.5 s at 80/s) about ten will, the last of
    # them about 100 recipients (1.25 s) before the end: the finish is ~10.75 s after it.
    tail = retry_tail_seconds(1000, 80.0, settled=100, chains=(12.0,))
    assert tail == pytest.approx(12.0 - 100 / 80.0, abs=0.3)


def test_the_tail_grows_with_the_share_retried_and_never_exceeds_the_longest_chain() -> None:
    tails = [retry_tail_seconds(200, 80.0, settled=1000, chains=(12.0,) * n) for n in (1, 10, 100)]
    assert tails == sorted(tails)
    assert 0.0 < tails[0] < tails[-1] <= 12.0


def test_few_recipients_left_are_unlikely_to_need_a_retry() -> None:
    few = retry_tail_seconds(5, 80.0, settled=1000, chains=(12.0,) * 10)
    many = retry_tail_seconds(5000, 80.0, settled=1000, chains=(12.0,) * 10)
    assert few < 1.0 < many


def test_retries_seen_so_far_lengthen_the_time_left() -> None:
    plain = remaining_seconds(_state())
    with_chains = remaining_seconds(_state(settled_count=400, retry_chains=(12.0, 1.0, 2.0)))
    assert with_chains > plain
