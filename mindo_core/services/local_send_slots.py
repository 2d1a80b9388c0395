"""``LocalSendSlots``: single sends' slots from the process's own ``NumberThroughputs``.

The engine paces the number's bulks through the same objects, so in one process a single send
and a bulk never together exceed the number's cap, and the single send goes first: it takes the
next free slot (at most one slot's spacing away while a bulk sends at the cap) and the bulk's
next send moves back by one.
"""

from __future__ import annotations

import asyncio

from mindo_core.domain.accounts import PhoneNumber, PhoneNumberRowId
from mindo_core.domain.clock import Clock
from mindo_core.domain.errors import NumberAtCapacity
from mindo_core.throughput.number_throughputs import NumberThroughputs

__all__ = ["LocalSendSlots"]


class LocalSendSlots:
    def __init__(self, throughputs: NumberThroughputs[PhoneNumberRowId], clock: Clock) -> None:
        self._throughputs = throughputs
        self._clock = clock

    async def wait_for_slot(self, number: PhoneNumber, *, within: float) -> float:
        now = self._clock.monotonic()
        throughput = self._throughputs.of(number.id, number.throughput_level, now)
        at = throughput.claim(now, within=within)
        if at is None:
            raise NumberAtCapacity(
                retry_after_seconds=throughput.next_slot(now) - now,
                rate=throughput.current_rate(now),
            )
        if at > now:
            await asyncio.sleep(at - now)
        return at

    def too_fast(self, number: PhoneNumber, *, started_at: float) -> None:
        now = self._clock.monotonic()
        self._throughputs.of(number.id, number.throughput_level, now).slow_down(
            now, sent_at=started_at
        )
