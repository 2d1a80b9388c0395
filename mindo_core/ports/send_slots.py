"""The port single sends take their slot from: when may a send from this number start.

A slot is a start time under the number's throughput, shared with every other send from the
number (the bulks' first of all), so that together they never exceed Meta's limit.
"""

from __future__ import annotations

from typing import Protocol

from mindo_core.domain.accounts import PhoneNumber


class SendSlots(Protocol):
    async def wait_for_slot(self, number: PhoneNumber, *, within: float) -> float:
        """Take the number's next slot and return once it has come, with its time (the clock's
        ``monotonic``). Raises ``NumberAtCapacity`` (nothing taken) when no slot comes within
        ``within`` seconds."""
        ...

    def too_fast(self, number: PhoneNumber, *, started_at: float) -> None:
        """Meta answered "too fast" (130429 and the like) to the send started at
        ``started_at``: the number slows down for everything that sends from it."""
        ...
