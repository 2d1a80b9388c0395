"""The durable mark that a recipient's call to Meta starts, group-committed in small slices.

A claim makes recipients ``in_flight`` about ``claim_seconds`` of sending ahead; only the mark
says a call began. A send waits in ``started`` until its recipient's mark is durable
(``BulkStore.mark_calls_started``): a call never starts unmarked, so after a crash the
recipients in flight and unmarked were never sent and go back to pending, and the marked ones
are "outcome unknown".

Marks are asked a little ahead (``ask``): the number's runner asks for the recipients whose
slots come within the next ``EngineSettings.mark_lead`` (20 ms; up to 100 ms above 200/s), so
that a mark is durable by its slot, and it takes a slot only for a recipient whose mark is
durable (``answer``; else it waits for the write, ``written``). So the pacing applies to the
calls as they really start: a call that waited for its mark after its slot was taken would start
late by a varying write time, and late starts bunch up at Meta into a window its throughput
limit refuses (130429). The price: a crash can leave those few marked ahead and never called, as
unknown.

One write per slice: the marks asked while a write runs, or within ``slice_seconds`` (5 ms) of
the last write's start, go together in the next one. At 80 messages/s each mark gets its own
write; at 1,000/s about five share one, some 200 small transactions a second. A write that
fails, or finds the recipient no longer this worker's (a taker settled it), answers False:
that call does not start.
"""

from __future__ import annotations

import asyncio
import logging
import math
from collections.abc import Iterable

from mindo_core.domain.clock import Clock
from mindo_core.domain.messages import MessageId
from mindo_core.engine.to_the_end import to_the_end
from mindo_core.ports.bulks import BulkStore

__all__ = ["StartMarks"]

logger = logging.getLogger("mindo.bulk_engine")


class StartMarks:
    def __init__(
        self, store: BulkStore, clock: Clock, *, worker: str, slice_seconds: float = 0.005
    ) -> None:
        if slice_seconds < 0:
            raise ValueError("slice_seconds must not be negative")
        self._store = store
        self._clock = clock
        self._worker = worker
        self._slice = slice_seconds
        self._waiting: list[tuple[MessageId, asyncio.Future[bool]]] = []
        # Asked and not yet started (or forgotten): each one's answer.
        self._asked: dict[MessageId, asyncio.Future[bool]] = {}
        self._writer: asyncio.Task[None] | None = None
        self._last_write = -math.inf
        # Set when a write lands (and replaced by a fresh one for the next).
        self._written = asyncio.Event()

    def ask(self, message_ids: Iterable[MessageId]) -> None:
        """Mark these calls started soon (they start within a few ms); never waits."""
        for message_id in message_ids:
            if message_id in self._asked:
                continue
            future: asyncio.Future[bool] = asyncio.get_running_loop().create_future()
            self._asked[message_id] = future
            self._waiting.append((message_id, future))
        if self._waiting and (self._writer is None or self._writer.done()):
            self._writer = asyncio.create_task(self._write_while_waiting())

    def asked(self, message_id: MessageId) -> bool:
        """Whether the recipient's mark was asked (and not yet started or forgotten)."""
        return message_id in self._asked

    async def started(self, message_id: MessageId) -> bool:
        """Whether the recipient's call may start now: its mark is durable."""
        self.ask((message_id,))
        future = self._asked[message_id]
        try:
            return await asyncio.shield(future)
        finally:
            if self._asked.get(message_id) is future:
                del self._asked[message_id]

    def answer(self, message_id: MessageId) -> bool | None:
        """Whether the recipient's mark asked ahead is durable (True), was refused (False), or
        is still being written (None; also for one never asked)."""
        future = self._asked.get(message_id)
        if future is None or not future.done():
            return None
        return future.result()

    async def written(self, at_most: float) -> None:
        """Until the write under way (or the next one) has landed, ``at_most`` seconds at most."""
        try:
            async with asyncio.timeout(at_most):
                await self._written.wait()
        except TimeoutError:
            pass

    def forget(self, message_ids: Iterable[MessageId]) -> None:
        """Asked for and not sent after all (released): their answers are not kept."""
        for message_id in message_ids:
            self._asked.pop(message_id, None)

    def __len__(self) -> int:
        return len(self._asked)

    async def _write_while_waiting(self) -> None:
        while self._waiting:
            rest = self._last_write + self._slice - self._clock.monotonic()
            if rest > 0:
                await asyncio.sleep(rest)
            batch, self._waiting = self._waiting, []
            self._last_write = self._clock.monotonic()
            marked = await self._write([message_id for message_id, _ in batch])
            for message_id, future in batch:
                if not future.done():
                    future.set_result(message_id in marked)
            landed, self._written = self._written, asyncio.Event()
            landed.set()

    async def _write(self, message_ids: list[MessageId]) -> frozenset[MessageId]:
        writing = asyncio.ensure_future(
            self._store.mark_calls_started(message_ids, worker=self._worker, at=self._clock.now())
        )
        try:
            marked = await to_the_end(writing)
            return frozenset(marked)
        except Exception:
            logger.exception("Could not mark %d calls started: they do not start", len(message_ids))
            return frozenset()
