"""What a send window adds to accepting a bulk: 100,000 recipients' zones, openings and the
windowed estimate, against normalising the same numbers (``phones.to_e164``, a stage every
bulk pays) in the same run.

    zones      a fresh ``ZoneLookup`` asked for every number (one lookup per first 9 digits)
    openings   ``send_window.openings`` at a fixed night-time instant (most recipients wait)
    estimate   ``send_window.windowed_seconds`` at 80 messages/s
    e164       ``phones.to_e164`` of the same numbers (the baseline)

Numbers are a mix of Argentine, Spanish, Mexican, Brazilian and US mobiles, different each.
Medians of 5 runs, wall time; the load average is printed first. Asserts nothing.
"""

from __future__ import annotations

import os
import statistics
import time
from collections.abc import Callable
from datetime import UTC, datetime

from mindo_core.bulks.send_window import SendWindow, openings, windowed_seconds
from mindo_core.phones.e164 import to_e164
from mindo_core.phones.timezones import ZoneLookup

COUNT = 100_000
RUNS = 5
NIGHT = datetime(2026, 12, 7, 3, 0, tzinfo=UTC)
_PREFIXES = ("+54911", "+3461", "+52155", "+55119", "+1212")


def _numbers() -> list[str]:
    return [f"{_PREFIXES[i % 5]}{7_000_000 + i:07d}"[:14] for i in range(COUNT)]


def _median(work: Callable[[], object]) -> float:
    times = []
    for _ in range(RUNS):
        started = time.perf_counter()
        work()
        times.append(time.perf_counter() - started)
    return statistics.median(times)


def run() -> None:
    print(f"load average: {' '.join(f'{x:.2f}' for x in os.getloadavg())}")
    numbers = _numbers()
    window = SendWindow.parse("09:00", "20:00")

    def zones() -> list[object]:
        lookup = ZoneLookup()
        return [lookup.zones_of(n) for n in numbers]

    def planned() -> float:
        lookup = ZoneLookup()
        openings(window, numbers, NIGHT, lookup)
        zone_sets = [lookup.zones_of(n) for n in numbers]
        return windowed_seconds(zone_sets, window, rate=80.0, start=NIGHT)

    lookup = ZoneLookup()
    zone_sets = [lookup.zones_of(n) for n in numbers]
    figures = {
        "zones": _median(zones),
        "openings": _median(lambda: openings(window, numbers, NIGHT, ZoneLookup())),
        "estimate": _median(lambda: windowed_seconds(zone_sets, window, rate=80.0, start=NIGHT)),
        "window, all": _median(planned),
        "e164": _median(lambda: [to_e164(n) for n in numbers]),
    }
    for name, seconds in figures.items():
        print(f"{name:>12}: {seconds:6.3f} s  ({seconds / COUNT * 1e6:5.2f} µs/recipient)")
    print(f"window / e164: {figures['window, all'] / figures['e164']:.2f}x")
