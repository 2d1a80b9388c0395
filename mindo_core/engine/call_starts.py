"""Call starts, group-committed: a recipient's call to Meta starts only once the store holds,
durably, that it is about to start.

A claimed recipient is not yet a call: killed before its call started, the next start puts it
back to pending, and only a recipient whose start was written can be "outcome unknown". Each
send asks ``started`` ``EngineSettings.call_start_lead`` before its slot and waits; a write
starts as soon as one is asked, and the marks asked while it is under way go together in the
next one, so that the store sees one small transaction per slice of time rather than one per
send. A mark written for nothing (the recipient was
settled or taken by another worker meanwhile, or its bulk paused or over) says the call must
not be made; a write that fails fails the marks it carried. The caller releases those.
"""

from __future__ import annotations

import asyncio
import logging

from mindo_core.domain.clock import Clock
from mindo_core.domain.messages import MessageId
from mindo_core.ports.bulks import BulkStore

__all__ = ["CallStarts"]

logger = logging.getLogger("mindo.bulk_engine")


class CallStarts:
    def __init__(self, store: BulkStore, clock: Clock, *, worker: str) -> None:
        self._store = store
        self._clock = clock
        self._worker = worker
        self._waiting: list[tuple[MessageId, asyncio.Future[bool]]] = []
        self._some = asyncio.Event()

    async def started(self, message_id: MessageId) -> bool:
        """True once the call's start is durable; False: the call must not be made. Raises
        what the write raised."""
        future: asyncio.Future[bool] = asyncio.get_running_loop().create_future()
        self._waiting.append((message_id, future))
        self._some.set()
        return await future

    async def run(self) -> None:
        """Write marks until cancelled; what waits then is cancelled, never left hanging."""
        try:
            while True:
                await self._some.wait()
                await self._write_waiting()
        finally:
            self._cancel(self._waiting)
            self._waiting = []

    async def _write_waiting(self) -> None:
        batch, self._waiting = self._waiting, []
        self._some.clear()
        if not batch:
            return
        try:
            marked = await self._store.mark_calls_started(
                [message_id for message_id, _ in batch],
                worker=self._worker,
                now=self._clock.now(),
            )
        except asyncio.CancelledError:
            self._cancel(batch)
            raise
        except Exception as error:
            logger.exception("Could not mark %d calls to Meta as started", len(batch))
            for _, future in batch:
                if not future.done():
                    future.set_exception(error)
            return
        for message_id, future in batch:
            if not future.done():
                future.set_result(message_id in marked)

    @staticmethod
    def _cancel(batch: list[tuple[MessageId, asyncio.Future[bool]]]) -> None:
        for _, future in batch:
            future.cancel()
