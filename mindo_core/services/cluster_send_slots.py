"""``ClusterSendSlots``: single sends' slots where several processes share a PostgreSQL database.

Exactly one process paces a number at a time, so that its cap holds cluster-wide:

* the **holder** (the worker whose lease it is) paces it in memory, its bulks and single sends
  together (``LocalSendSlots``), and answers other processes' asks from the same pacing;
* a single send in **another process** asks the holder for a slot (``SlotAsks``); when no
  worker holds the number, it reserves its slot in the database instead (``NumberPacing``),
  where the next holder finds it and starts after it (``NumberOwnership.paced_by_others``).

A holder that does not answer within ``ask_timeout`` (its process stopping, the network) makes
the send fail as ``Unavailable``: nothing was sent, and a retry finds the number's next holder.
Meta's "too fast" slows the number in the process that sent; a holder elsewhere learns it from
its own sends.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable

from mindo_core.domain.accounts import PhoneNumber, PhoneNumberRowId
from mindo_core.domain.clock import Clock
from mindo_core.domain.errors import NumberAtCapacity, Unavailable
from mindo_core.ports.number_pacing import NumberPacing
from mindo_core.ports.slot_asks import SlotAnswer, SlotAsks
from mindo_core.services.local_send_slots import LocalSendSlots
from mindo_core.throughput.number_throughputs import NumberThroughputs

__all__ = ["DEFAULT_ASK_TIMEOUT_SECONDS", "ClusterSendSlots"]

DEFAULT_ASK_TIMEOUT_SECONDS = 0.5


class ClusterSendSlots:
    def __init__(
        self,
        *,
        throughputs: NumberThroughputs[PhoneNumberRowId],
        holds: Callable[[PhoneNumberRowId], bool],
        pacing: NumberPacing,
        asks: SlotAsks,
        clock: Clock,
        ask_timeout: float = DEFAULT_ASK_TIMEOUT_SECONDS,
    ) -> None:
        self._throughputs = throughputs
        self._local = LocalSendSlots(throughputs, clock)
        self._holds = holds
        self._pacing = pacing
        self._asks = asks
        self._clock = clock
        self._ask_timeout = ask_timeout
        asks.answer_with(self.answer)

    async def wait_for_slot(self, number: PhoneNumber, *, within: float) -> float:
        if self._holds(number.id):
            return await self._local.wait_for_slot(number, within=within)
        spacing = self._throughputs.spacing(number.throughput_level)
        paced = await self._pacing.reserve(number.id, spacing=spacing, within=within)
        wait = paced.wait
        if wait is None and paced.owned:
            answer = await self._ask(number, within)
            wait = answer.wait
            busy_for = answer.busy_for
        else:
            busy_for = paced.busy_for
        if wait is None:
            rate = self._throughputs.rate(number.throughput_level)
            raise NumberAtCapacity(retry_after_seconds=busy_for, rate=rate)
        # The wait counts from the answer, which came a little later still: never early.
        at = self._clock.monotonic() + wait
        if wait > 0:
            await asyncio.sleep(wait)
        return at

    async def _ask(self, number: PhoneNumber, within: float) -> SlotAnswer:
        try:
            async with asyncio.timeout(self._ask_timeout):
                return await self._asks.ask(number, within=within)
        except TimeoutError:
            raise Unavailable("The phone number's sender did not answer; retry") from None

    def too_fast(self, number: PhoneNumber, *, started_at: float) -> None:
        self._local.too_fast(number, started_at=started_at)

    def answer(self, number: PhoneNumberRowId, level: str, within: float) -> SlotAnswer | None:
        """Another process asks for a slot of ``number``: one of this process's, if it holds
        the number (the ask goes first, as a local single send does)."""
        if not self._holds(number):
            return None
        now = self._clock.monotonic()
        throughput = self._throughputs.of(number, level, now)
        at = throughput.claim(now, within=within)
        if at is None:
            return SlotAnswer(wait=None, busy_for=throughput.next_slot(now) - now)
        return SlotAnswer(wait=at - now)
