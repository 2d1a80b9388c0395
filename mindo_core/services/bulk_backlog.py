"""How much bulk work is waiting, for an operator's metrics."""

from __future__ import annotations

from mindo_core.ports.bulks import BulkStore


class BulkBacklog:
    def __init__(self, *, bulks: BulkStore) -> None:
        self._bulks = bulks

    async def pending_recipients(self) -> int:
        """Recipients not sent yet of the bulks that run (QUEUED or PROCESSING; not PAUSED)."""
        return sum(bulk.counters.pending for bulk in await self._bulks.bulks_to_run())
