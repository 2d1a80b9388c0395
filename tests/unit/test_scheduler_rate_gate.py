"""``RateGate`` and ``NumberGate``: never more than the cap in any one-second window, and close to
the cap in use."""

from __future__ import annotations

import bisect

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from mindo_core.throughput.rate_gate import NumberGate, RateGate

caps = st.integers(min_value=1, max_value=1000)
# An arrival pattern: bursts of requests arriving together, separated by gaps.
arrivals = st.lists(
    st.tuples(
        st.integers(min_value=1, max_value=300),
        st.floats(min_value=0.0, max_value=1.5, allow_nan=False),
    ),
    min_size=1,
    max_size=12,
)


def most_in_any_window(starts: list[float], length: float = 1.0) -> int:
    """The most starts any half-open window [t, t + length) holds (``starts`` sorted)."""
    most = 0
    for i, start in enumerate(starts):
        most = max(most, bisect.bisect_left(starts, start + length) - i)
    return most


def serve(gate: RateGate, pattern: list[tuple[int, float]]) -> list[float]:
    """Every request reserves a slot when it arrives; return the slots."""
    now = 0.0
    slots: list[float] = []
    for burst, gap in pattern:
        slots.extend(gate.reserve(now) for _ in range(burst))
        now += gap
    return slots


def saturate(gate: RateGate, seconds: float) -> list[float]:
    """Ask for a slot as soon as the last one is granted, for ``seconds``."""
    slots: list[float] = []
    now = 0.0
    while (now := gate.reserve(now)) < seconds:
        slots.append(now)
    return slots


@settings(deadline=None)
@given(cap=caps, pattern=arrivals, smooth=st.booleans())
def test_no_one_second_window_ever_holds_more_than_the_cap(
    cap: int, pattern: list[tuple[int, float]], smooth: bool
) -> None:
    slots = serve(RateGate(cap, smooth=smooth), pattern)
    assert slots == sorted(slots)
    assert most_in_any_window(slots) <= cap


@settings(deadline=None)
@given(cap=caps, pattern=arrivals)
def test_a_slot_is_never_before_its_request(cap: int, pattern: list[tuple[int, float]]) -> None:
    gate = RateGate(cap)
    now = 0.0
    for burst, gap in pattern:
        for _ in range(burst):
            assert gate.reserve(now) >= now
        now += gap


@settings(max_examples=40, deadline=None)
@given(cap=caps, smooth=st.booleans())
def test_steady_state_reaches_at_least_97_percent_of_the_cap(cap: int, smooth: bool) -> None:
    slots = saturate(RateGate(cap, smooth=smooth), seconds=10.0)
    assert len(slots) >= 0.97 * cap * 10


def test_the_sliding_gate_lets_a_full_second_go_at_once_then_waits_a_window() -> None:
    gate = RateGate(80)
    slots = [gate.reserve(0.0) for _ in range(81)]
    assert slots[:80] == [0.0] * 80
    assert slots[80] == pytest.approx(1.001)


def test_a_smooth_gate_spaces_sends_evenly() -> None:
    gate = RateGate(4, smooth=True, margin_seconds=0.0)
    assert [gate.reserve(0.0) for _ in range(4)] == pytest.approx([0.0, 0.25, 0.5, 0.75])


def test_below_one_message_per_second_the_gate_spaces_sends() -> None:
    gate = RateGate(1 / 1.2, margin_seconds=0.0)
    assert [gate.reserve(0.0) for _ in range(3)] == pytest.approx([0.0, 1.2, 2.4])


def test_the_margin_stretches_every_window() -> None:
    gate = RateGate(2, margin_seconds=0.05)
    assert [gate.reserve(0.0) for _ in range(3)] == pytest.approx([0.0, 0.0, 1.05])


def test_a_tolerant_gate_keeps_its_schedule_when_a_send_goes_a_little_late() -> None:
    gate = RateGate(10, smooth=True, margin_seconds=0.0, tolerance_seconds=0.05)
    gate.take(0.0)
    assert gate.next_slot(0.0) == pytest.approx(0.1)
    gate.take(0.14)  # due at 0.1, went 40 ms late
    assert gate.next_slot(0.14) == pytest.approx(0.2)
    gate.take(0.5)  # far later than the tolerance: the schedule starts over from here
    assert gate.next_slot(0.5) == pytest.approx(0.6)


def test_a_strict_gate_counts_from_when_a_late_send_went() -> None:
    gate = RateGate(10, smooth=True, margin_seconds=0.0)
    gate.take(0.0)
    gate.take(0.13)
    assert gate.next_slot(0.13) == pytest.approx(0.23)


def test_an_idle_gate_lets_a_send_go_at_once() -> None:
    gate = RateGate(1)
    gate.reserve(0.0)
    assert gate.next_slot(5.0) == 5.0


def test_looking_does_not_reserve() -> None:
    gate = RateGate(1)
    gate.reserve(0.0)
    assert gate.next_slot(0.5) == gate.next_slot(0.5) == pytest.approx(1.001)


# --------------------------------------------------------------------------------------------
# Changing the cap at run time

changes = st.lists(
    st.tuples(
        st.integers(min_value=1, max_value=200),  # requests arriving together
        st.floats(min_value=0.0, max_value=1.2, allow_nan=False),  # then a gap
        st.one_of(st.none(), st.integers(min_value=1, max_value=300)),  # then maybe a new cap
    ),
    min_size=1,
    max_size=15,
)


@settings(deadline=None)
@given(first_cap=st.integers(min_value=1, max_value=300), events=changes)
def test_a_new_cap_holds_from_the_very_next_slot(
    first_cap: int, events: list[tuple[int, float, int | None]]
) -> None:
    gate = RateGate(first_cap)
    granted: list[tuple[float, int]] = []  # (slot, cap in force when it was granted)
    now = 0.0
    for burst, gap, new_cap in events:
        granted.extend((gate.reserve(now), int(gate.rate)) for _ in range(burst))
        now += gap
        if new_cap is not None:
            gate.set_rate(new_cap)
    slots = [slot for slot, _ in granted]
    for k, (slot, cap) in enumerate(granted):
        # The second before this send, this send included, holds no more than its cap.
        first_in_window = bisect.bisect_right(slots, slot - 1.0)
        assert k + 1 - first_in_window <= cap


def test_lowering_the_cap_delays_the_next_send_at_once() -> None:
    gate = RateGate(80)
    for _ in range(40):
        gate.reserve(0.0)
    assert gate.next_slot(0.1) == 0.1
    gate.set_rate(40)
    assert gate.next_slot(0.1) == pytest.approx(1.001)


def test_raising_the_cap_opens_more_slots_at_once() -> None:
    gate = RateGate(40)
    for _ in range(40):
        gate.reserve(0.0)
    gate.set_rate(80)
    assert gate.next_slot(0.1) == 0.1


# --------------------------------------------------------------------------------------------
# Refusals


def test_a_send_recorded_before_its_slot_is_refused() -> None:
    gate = RateGate(1)
    gate.take(0.0)
    with pytest.raises(ValueError, match="before the gate's next slot"):
        gate.take(0.5)


@pytest.mark.parametrize("rate", [0.0, -1.0, float("inf"), float("nan")])
def test_a_rate_must_be_positive_and_finite(rate: float) -> None:
    with pytest.raises(ValueError, match="positive"):
        RateGate(rate)


def test_the_margin_and_the_tolerance_cannot_be_negative() -> None:
    with pytest.raises(ValueError, match="negative"):
        RateGate(1, margin_seconds=-0.001)
    with pytest.raises(ValueError, match="negative"):
        RateGate(1, tolerance_seconds=-0.001)


# --------------------------------------------------------------------------------------------
# NumberGate: the limit never moves; late starts are made up within it.

# Each start goes this much after the slot it was given (the event loop was busy).
lateness = st.lists(st.floats(min_value=0.0, max_value=0.2, allow_nan=False), min_size=1)


def send_late(gate: NumberGate | RateGate, delays: list[float], count: int) -> list[float]:
    """``count`` starts, each going the next delay (cycled) after the slot the gate gave it."""
    starts: list[float] = []
    now = 0.0
    for i in range(count):
        now = gate.next_slot(now) + delays[i % len(delays)]
        gate.take(now)
        starts.append(now)
    return starts


@settings(deadline=None)
@given(cap=st.integers(min_value=1, max_value=1000), delays=lateness, spread=st.booleans())
def test_a_number_gate_never_lets_more_than_the_cap_into_any_second_however_late(
    cap: int, delays: list[float], spread: bool
) -> None:
    starts = send_late(NumberGate(cap, spread=spread), delays, count=3 * cap + 5)

    assert starts == sorted(starts)
    assert most_in_any_window(starts) <= cap


def test_a_number_gate_makes_up_starts_that_went_a_little_late() -> None:
    # Every start 0.4 ms late at 1,000/s: a strict schedule loses 28 % of the rate.
    gate = NumberGate(1000, margin_seconds=0.02)
    strict = RateGate(1000, smooth=True, margin_seconds=0.02)

    made_up = send_late(gate, [0.0004], count=5_000)
    lost = send_late(strict, [0.0004], count=5_000)

    assert 4_999 / (made_up[-1] - made_up[0]) == pytest.approx(1000 / 1.02, rel=0.002)
    assert 4_999 / (lost[-1] - lost[0]) == pytest.approx(1 / (1.02e-3 + 0.0004), rel=0.002)


def test_after_a_stall_a_number_gate_catches_up_at_most_its_tolerance_at_once() -> None:
    gate = NumberGate(1000, margin_seconds=0.0, catch_up_seconds=0.05)
    for i in range(100):
        gate.reserve(i / 1000)

    # A 0.3 s stall: the schedule is not kept, the next starts are spaced again.
    after = [gate.reserve(0.4) for _ in range(10)]

    assert after == pytest.approx([0.4 + i / 1000 for i in range(10)])


def test_without_spreading_a_number_gate_lets_a_whole_second_go_at_once() -> None:
    gate = NumberGate(80, spread=False, margin_seconds=0.0)

    starts = [gate.reserve(0.0) for _ in range(81)]

    assert starts[:80] == [0.0] * 80
    assert starts[80] == pytest.approx(1.0)


def test_a_rate_that_drops_and_comes_back_within_a_second_keeps_the_limit() -> None:
    # Meta lowers the number's throughput, then raises it again, 0.2 s apart.
    gate = NumberGate(1000, spread=False, margin_seconds=0.0)
    starts = [gate.reserve(0.0) for _ in range(1000)]
    gate.set_rate(500)
    gate.set_rate(1000)
    while (at := gate.next_slot(0.2)) < 1.5:
        gate.take(at)
        starts.append(at)

    assert most_in_any_window(starts) <= 1000
    assert starts[1000] == pytest.approx(1.0)


@settings(deadline=None)
@given(
    rates=st.lists(st.integers(min_value=1, max_value=300), min_size=2, max_size=6),
    spread=st.booleans(),
)
def test_no_second_holds_more_than_the_highest_rate_whatever_the_changes(
    rates: list[int], spread: bool
) -> None:
    gate = NumberGate(rates[0], spread=spread)
    starts: list[float] = []
    now = 0.0
    for rate in rates:
        gate.set_rate(rate)
        for _ in range(rate):
            now = gate.reserve(now)
            starts.append(now)

    assert most_in_any_window(starts) <= max(rates)


# --------------------------------------------------------------------------------------------
# Starts that went later than their slots: the limit counts them when they went.


def test_sends_written_late_together_still_keep_every_second_within_the_cap() -> None:
    # 30 sends scheduled over 30 ms, then the process is descheduled: all go out at 30 ms.
    gate = NumberGate(1000, margin_seconds=0.02)
    scheduled = [gate.reserve(i / 1000) for i in range(30)]
    for slot in scheduled:
        gate.started_late(slot, 0.030)
    starts = [0.030] * len(scheduled)
    now = 0.030
    for _ in range(2_000):
        now = gate.reserve(now)
        starts.append(now)

    assert most_in_any_window(sorted(starts)) <= 1000


def test_a_start_late_by_less_than_a_quarter_of_the_margin_moves_nothing() -> None:
    gate = NumberGate(1000, margin_seconds=0.02)
    slots = [gate.reserve(0.0) for _ in range(1000)]

    gate.started_late(slots[0], slots[0] + 0.004)  # the margin (20 ms a second) absorbs it

    assert gate.next_slot(0.0) == pytest.approx(1.02)
    gate.started_late(slots[0], slots[0] + 0.010)
    # Counted at 10 ms, the first is no longer the oldest of the last thousand: the second is.
    assert gate.next_slot(0.0) == pytest.approx(slots[1] + 1.02)


def test_a_late_start_the_gate_no_longer_remembers_changes_nothing() -> None:
    gate = RateGate(2, smooth=True, margin_seconds=0.0)  # it keeps its last start only
    first, _, _ = (gate.reserve(0.0) for _ in range(3))
    before = gate.next_slot(0.0)

    gate.started_late(first, 0.4)

    assert gate.next_slot(0.0) == before == 1.5
