"""The engine's one writer of what its sends did: call starts and outcomes, together.

A send asks ``started`` before its call to Meta and waits: the call may start once the store
holds, durably, that it is about to (``BulkStore.record_calls``). A start asked is written at
once; the starts asked while that write is under way go together in the next one. Outcomes go
when ``max_batch`` (200) wait or ``interval`` (50 ms) after the first, whichever comes first,
in the same transaction as the starts then waiting. So SQLite's one writer is never fought
over by two of ours, and a start does not wait for outcomes that are not due: a transaction of
starts alone is one small UPDATE, one with outcomes also moves counters and takes the bulks'
rows. ``flush`` writes every outcome at
once (before deciding a bulk is over, and on shutdown). Each write publishes the snapshots of
the bulks it changed.

A start written for nothing (the recipient was settled or taken by another worker meanwhile, or
its bulk paused or over) says the call must not be made; a write that fails fails the starts it
carried (the caller releases those) and keeps its outcomes, in order, for the next attempt.

Durability: a recipient's call start is durable before its call, and its outcome about
``interval`` after the answer (plus the write under way). A crash in between leaves it in
flight, started, and the restart settles it (``unconfirmed`` by default, never resent).
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Sequence

from mindo_core.bulks.model import Bulk
from mindo_core.domain.clock import Clock
from mindo_core.domain.messages import MessageId
from mindo_core.ports.bulks import BulkStore, RecipientOutcome, RecordedCalls
from mindo_core.ports.progress import ProgressBus

__all__ = ["OutcomeBuffer"]

logger = logging.getLogger("mindo.bulk_engine")

_RETRY_AFTER_FAILURE_S = 1.0
# The start lead follows the longest recent wait for a start, with this margin, decaying by
# this factor per write (about a second at the rates where it matters), up to this bound.
_LEAD_MARGIN = 1.25
_LEAD_DECAY = 0.98
_LONGEST_LEAD_S = 0.25

# A call waiting for its start: the recipient, the answer, when it asked (loop time).
_Start = tuple[MessageId, "asyncio.Future[bool]", float]


class OutcomeBuffer:
    def __init__(
        self,
        store: BulkStore,
        bus: ProgressBus,
        *,
        clock: Clock | None = None,
        start_lead: float = 0.05,
        max_batch: int = 200,
        interval: float = 0.05,
        worker: str | None = None,
    ) -> None:
        if max_batch < 1 or interval <= 0:
            raise ValueError("max_batch must be at least 1 and interval positive")
        self._store = store
        self._bus = bus
        self._clock = clock
        self._max_batch = max_batch
        self._interval = interval
        # Outcomes and starts touch only what this worker claimed (``BulkStore.record_calls``).
        self._worker = worker
        self._waiting: list[RecipientOutcome] = []
        self._starts: list[_Start] = []
        self._some = asyncio.Event()
        self._urgent = asyncio.Event()  # a batch is full, or a call waits for its start
        self._due_at: float | None = None  # loop time the oldest waiting outcome must go by
        self._shortest_lead = start_lead
        self._longest_wait = 0.0  # decaying peak of the waits for a start, seconds
        self._writing = asyncio.Lock()

    def __len__(self) -> int:
        return len(self._waiting)

    @property
    def start_lead(self) -> float:
        """How long before its slot a send should ask for its start, so that the start is
        durable when the slot comes: ``start_lead`` as given, more while writes are slow (a
        busy machine, SQLite's lock held by claims), at most 250 ms. (The longer the lead, the
        more recipients a kill leaves "started" that Meta never saw: about lead x rate.)"""
        wanted = self._longest_wait * _LEAD_MARGIN
        return min(max(self._shortest_lead, wanted), max(self._shortest_lead, _LONGEST_LEAD_S))

    async def started(self, message_id: MessageId) -> bool:
        """True once the call's start is durable; False: the call must not be made. Raises
        what the write raised."""
        if self._clock is None:
            raise RuntimeError("an outcome buffer without a clock writes no call starts")
        loop = asyncio.get_running_loop()
        future: asyncio.Future[bool] = loop.create_future()
        self._starts.append((message_id, future, loop.time()))
        self._some.set()
        self._urgent.set()
        return await future

    def add(self, outcome: RecipientOutcome) -> None:
        """Never waits."""
        if self._due_at is None:
            self._due_at = asyncio.get_running_loop().time() + self._interval
        self._waiting.append(outcome)
        self._some.set()
        if len(self._waiting) >= self._max_batch:
            self._urgent.set()

    async def flush(self) -> None:
        """Write every outcome added before this call (and any added meanwhile)."""
        async with self._writing:
            while self._waiting or self._starts:
                await self._write(min(len(self._waiting), self._max_batch))
            self._settle_events()

    async def run(self) -> None:
        """Write until cancelled; idle while there is nothing to write. Starts still waiting
        then are cancelled, never left hanging."""
        try:
            while True:
                await self._some.wait()
                try:
                    async with asyncio.timeout_at(self._due_at):
                        await self._urgent.wait()
                except TimeoutError:
                    pass
                try:
                    await self._write_round()
                except Exception:
                    logger.exception("Could not record %d send outcomes; retrying", len(self))
                    await asyncio.sleep(_RETRY_AFTER_FAILURE_S)
        finally:
            starts, self._starts = self._starts, []
            for _, future, _ in starts:
                future.cancel()

    async def _write_round(self) -> None:
        """What waits now; what arrives meanwhile waits for the next round. (Writing until
        nothing waits would, while sending, never stop: one transaction after another, holding
        SQLite's one writer nearly all the time, and the claims would wait for it.)"""
        async with self._writing:
            due = self._due_at is not None and asyncio.get_running_loop().time() >= self._due_at
            left = len(self._waiting) if due or len(self._waiting) >= self._max_batch else 0
            await self._write(min(left, self._max_batch))  # the starts go in the first
            left -= self._max_batch
            while left > 0 and self._waiting:
                count = min(left, self._max_batch)
                await self._write(count)
                left -= count
            if due and self._waiting:  # arrived meanwhile: due an interval from now
                self._due_at = asyncio.get_running_loop().time() + self._interval
            self._settle_events()

    def _settle_events(self) -> None:
        if not self._waiting:
            self._due_at = None
        if len(self._waiting) < self._max_batch and not self._starts:
            self._urgent.clear()
        if not self._waiting and not self._starts:
            self._some.clear()

    async def _write(self, count: int) -> None:
        """The first ``count`` outcomes and every start that waits. The outcomes stay first in
        line if the write fails; the starts fail with it."""
        if count <= 0 and not self._starts:
            return
        batch = self._waiting[:count]
        del self._waiting[:count]
        starts, self._starts = self._starts, []
        # A transaction cut halfway by a cancellation (the engine stopping) can leave SQLite's
        # write lock with a connection nobody returns, and every later write then fails
        # ("database is locked"): the write runs to its end, and the cancellation follows it.
        writing = asyncio.ensure_future(self._record(batch, starts))
        try:
            await asyncio.shield(writing)
        except asyncio.CancelledError:
            await asyncio.wait([writing])
            raise
        finally:
            failed = not writing.done() or writing.cancelled() or writing.exception() is not None
            if failed:
                self._waiting[:0] = batch
                _fail(starts, writing)
            else:
                recorded = writing.result()
                for message_id, future, _ in starts:
                    if not future.done():
                        future.set_result(message_id in recorded.started)
                self._note_wait(starts)
                for bulk in recorded.bulks:
                    self._bus.publish(bulk.id, bulk)

    def _note_wait(self, starts: Sequence[_Start]) -> None:
        waited = 0.0
        if starts:
            waited = asyncio.get_running_loop().time() - min(asked for _, _, asked in starts)
        self._longest_wait = max(waited, self._longest_wait * _LEAD_DECAY)

    def _record(
        self, batch: Sequence[RecipientOutcome], starts: Sequence[_Start]
    ) -> Awaitable[RecordedCalls]:
        if not starts or self._clock is None:
            return _outcomes_only(self._store.record_outcomes(batch, worker=self._worker))
        return self._store.record_calls(
            started=[message_id for message_id, _, _ in starts],
            outcomes=batch,
            worker=self._worker,
            now=self._clock.now(),
        )


async def _outcomes_only(recording: Awaitable[Sequence[Bulk]]) -> RecordedCalls:
    return RecordedCalls(started=frozenset(), bulks=await recording)


def _fail(starts: Sequence[_Start], writing: asyncio.Future[RecordedCalls]) -> None:
    error: BaseException = asyncio.CancelledError()
    if writing.done() and not writing.cancelled() and writing.exception() is not None:
        error = writing.exception() or error
    for _, future, _ in starts:
        if future.done():
            continue
        if isinstance(error, asyncio.CancelledError):
            future.cancel()
        else:
            future.set_exception(error)
