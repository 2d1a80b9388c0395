"""Send outcomes, written to the store in batches rather than one transaction per message.

A batch goes when it holds ``max_batch`` (200) outcomes or ``interval`` (50 ms) after the first
outcome that waits, whichever comes first; outcomes that arrive while a batch is being written
wait for the next one. ``flush`` writes everything at once (before deciding a bulk is over, and
on shutdown). Each write publishes the snapshots of the bulks it changed.

Durability is per batch: a recipient is durably marked started before its call to Meta
(``start_marks``), and its outcome is durable about ``interval`` after the answer (plus the
write under way). A crash in between leaves it in flight and started, and the restart settles it
(``unconfirmed`` by default, never resent). A write that fails keeps its batch, in order, for
the next attempt.
"""

from __future__ import annotations

import asyncio
import logging

from mindo_core.engine.to_the_end import to_the_end
from mindo_core.ports.bulks import BulkStore, RecipientOutcome
from mindo_core.ports.progress import ProgressBus

__all__ = ["OutcomeBuffer"]

logger = logging.getLogger("mindo.bulk_engine")

_RETRY_AFTER_FAILURE_S = 1.0


class OutcomeBuffer:
    def __init__(
        self,
        store: BulkStore,
        bus: ProgressBus,
        *,
        max_batch: int = 200,
        interval: float = 0.05,
        worker: str | None = None,
    ) -> None:
        if max_batch < 1 or interval <= 0:
            raise ValueError("max_batch must be at least 1 and interval positive")
        self._store = store
        self._bus = bus
        self._max_batch = max_batch
        self._interval = interval
        # Outcomes move only what this worker claimed (``BulkStore.record_outcomes``).
        self._worker = worker
        self._waiting: list[RecipientOutcome] = []
        self._some = asyncio.Event()
        self._full = asyncio.Event()
        self._writing = asyncio.Lock()

    def __len__(self) -> int:
        return len(self._waiting)

    async def _write_round(self) -> None:
        """What waits now; what arrives meanwhile waits for the next round. (Writing until
        nothing waits would, while sending, never stop: one transaction after another, holding
        SQLite's one writer nearly all the time, and the claims would wait for it.)"""
        async with self._writing:
            left = len(self._waiting)
            while left > 0 and self._waiting:
                count = min(left, self._max_batch)
                await self._write(count)
                left -= count
            if len(self._waiting) < self._max_batch:
                self._full.clear()
            if not self._waiting:
                self._some.clear()

    async def _write(self, count: int) -> None:
        """The first ``count`` outcomes; they stay first in line if the write fails."""
        batch = self._waiting[:count]
        del self._waiting[:count]
        writing = asyncio.ensure_future(self._store.record_outcomes(batch, worker=self._worker))
        try:
            await to_the_end(writing)
        finally:
            if not writing.done() or writing.cancelled() or writing.exception() is not None:
                self._waiting[:0] = batch
            else:
                for bulk in writing.result():
                    self._bus.publish(bulk.id, bulk)

    def add(self, outcome: RecipientOutcome) -> None:
        """Never waits."""
        self._waiting.append(outcome)
        self._some.set()
        if len(self._waiting) >= self._max_batch:
            self._full.set()

    async def flush(self) -> None:
        """Write every outcome added before this call (and any added meanwhile)."""
        async with self._writing:
            while self._waiting:
                await self._write(min(len(self._waiting), self._max_batch))
            self._full.clear()
            self._some.clear()

    async def run(self) -> None:
        """Write batches until cancelled; idle while there is nothing to write."""
        while True:
            await self._some.wait()
            try:
                async with asyncio.timeout(self._interval):
                    await self._full.wait()
            except TimeoutError:
                pass
            try:
                await self._write_round()
            except Exception:
                logger.exception("Could not record %d send outcomes; retrying", len(self))
                await asyncio.sleep(_RETRY_AFTER_FAILURE_S)
