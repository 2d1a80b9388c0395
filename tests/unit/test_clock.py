"""The clock port's implementations: wall time for records, monotonic time for spans."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime

from mindo_core.domain.clock import FixedClock, SystemClock
from tests.bulk_fakes import LoopClock, run_virtual

START = datetime(2025, 3, 1, tzinfo=UTC)


def test_the_system_clocks_monotonic_time_never_goes_back() -> None:
    clock = SystemClock()
    readings = [clock.monotonic() for _ in range(1000)]
    assert readings == sorted(readings)
    assert clock.now().tzinfo is UTC


def test_a_fixed_clocks_wall_time_stands_still_while_its_monotonic_time_runs() -> None:
    clock = FixedClock(START)
    before = clock.monotonic()
    clock.advance(60)
    assert clock.now() == datetime(2025, 3, 1, 0, 1, tzinfo=UTC)
    assert clock.monotonic() >= before


def test_a_loop_clock_reads_the_virtual_loops_time() -> None:
    async def main() -> tuple[float, datetime]:
        clock = LoopClock(START)
        first = clock.monotonic()
        await asyncio.sleep(3600)
        return clock.monotonic() - first, clock.now()

    elapsed, now = run_virtual(main)
    assert elapsed == 3600
    assert now == datetime(2025, 3, 1, 1, tzinfo=UTC)
