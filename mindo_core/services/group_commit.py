"""``GroupCommit``: single sends' records written many to a transaction, each answer after its
own record is durable.

A send's record was a transaction of its own, synced to disk: at load, the sends queued behind
SQLite's one writer. Here a record waits while a batch is being written, and the next batch is
everything that arrived meanwhile (at most ``max_batch``): no timer, so an idle service writes a
lone record at once, and a busy one writes fewer, larger transactions. Each caller's ``add``
returns only once the transaction holding its record has committed.

A batch the store refuses whole (a wamid it has already: ``Conflict``) is written again one
record at a time, so each caller gets its own answer. A caller that stops waiting (its client
went away) does not take its record out: the message reached Meta and is recorded all the same.
"""

from __future__ import annotations

import asyncio
from collections.abc import Sequence

from mindo_core.domain.messages import MessageRecord, NewMessage
from mindo_core.ports.messages import MessageStore

MAX_BATCH = 500


class GroupCommit:
    def __init__(self, messages: MessageStore, *, max_batch: int = MAX_BATCH) -> None:
        self._messages = messages
        self._max_batch = max_batch
        self._waiting: list[tuple[NewMessage, asyncio.Future[MessageRecord]]] = []
        self._writer: asyncio.Task[None] | None = None

    async def add(self, message: NewMessage) -> MessageRecord:
        recorded: asyncio.Future[MessageRecord] = asyncio.get_running_loop().create_future()
        self._waiting.append((message, recorded))
        if self._writer is None:
            self._writer = asyncio.create_task(self._write_all())
        # Shielded: a caller cancelled meanwhile leaves its record to be written.
        return await asyncio.shield(recorded)

    async def _write_all(self) -> None:
        try:
            while self._waiting:
                batch = self._waiting[: self._max_batch]
                del self._waiting[: self._max_batch]
                await self._write(batch)
        finally:
            self._writer = None

    async def _write(
        self, batch: Sequence[tuple[NewMessage, asyncio.Future[MessageRecord]]]
    ) -> None:
        try:
            records = await self._messages.add_messages([message for message, _ in batch])
        except Exception:
            await self._write_one_by_one(batch)
            return
        for (_, recorded), record in zip(batch, records, strict=True):
            if not recorded.done():
                recorded.set_result(record)

    async def _write_one_by_one(
        self, batch: Sequence[tuple[NewMessage, asyncio.Future[MessageRecord]]]
    ) -> None:
        for message, recorded in batch:
            try:
                record = await self._messages.add_message(message)
            except Exception as error:
                if not recorded.done():
                    recorded.set_exception(error)
                    recorded.exception()  # retrieved: a caller gone does not log it
                continue
            if not recorded.done():
                recorded.set_result(record)
