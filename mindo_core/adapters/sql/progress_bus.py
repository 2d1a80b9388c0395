"""The progress bus of many processes over one PostgreSQL database: LISTEN/NOTIFY.

A publication is delivered to this process' subscribers at once (the in-process bus) and
announced to the other processes with ``NOTIFY mindo_bulk_progress, '<bulk id>'``; the
payload is the id alone, so it is small and carries nothing personal. A process that hears of a
bulk some of its subscribers watch re-reads it from the store and hands that snapshot to them.
"Latest wins" holds on both sides: ids waiting to be announced or re-read are a set, so a
bulk changed many times in a burst is announced and re-read once with its newest state.

Two connections of its own, outside the store's pool, because a LISTEN belongs to a session:
one listens, one notifies. Announcements are fire-and-forget. If a connection drops, the bus
reconnects (every second until it can) and re-reads every watched bulk, since notifications
sent meanwhile are lost; WatchBulk's periodic re-read covers the gap. A transaction-mode pooler
(PgBouncer ``pool_mode=transaction``) breaks LISTEN: point these processes at PostgreSQL or
at a session-mode pool.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable

import psycopg

from mindo_core.adapters.memory.progress_bus import InProcessProgressBus
from mindo_core.adapters.sql.urls import libpq_url
from mindo_core.bulks.model import Bulk, BulkId
from mindo_core.ports.progress import ProgressSubscription

__all__ = ["CHANNEL", "PostgresProgressBus"]

CHANNEL = "mindo_bulk_progress"
RECONNECT_SECONDS = 1.0
_MAX_ID_LENGTH = 64  # a bulk id is a UUID; anything longer heard on the channel is not ours

logger = logging.getLogger("mindo.progress")

BulkReader = Callable[[BulkId], Awaitable[Bulk | None]]


class PostgresProgressBus:
    """``ProgressBus`` across processes. ``read`` is how a bulk is re-read (the store's
    unscoped ``get_bulk``). Start with ``start()``; ``close()`` ends its connections."""

    def __init__(self, database_url: str, read: BulkReader) -> None:
        self._conninfo = libpq_url(database_url)
        self._read = read
        self._local = InProcessProgressBus()
        self._to_announce: set[BulkId] = set()
        self._announce_wanted = asyncio.Event()
        self._to_reread: set[BulkId] = set()
        self._reread_wanted = asyncio.Event()
        self._own_backend_pid: int | None = None
        self._listening = asyncio.Event()
        self._tasks: list[asyncio.Task[None]] = []

    async def start(self) -> None:
        """Returns once the bus listens (or failed its first try and keeps retrying)."""
        self._tasks = [
            asyncio.create_task(self._listen_forever(), name="mindo-progress-listen"),
            asyncio.create_task(self._announce_forever(), name="mindo-progress-notify"),
            asyncio.create_task(self._reread_forever(), name="mindo-progress-reread"),
        ]
        await self._listening.wait()

    async def close(self) -> None:
        tasks, self._tasks = self._tasks, []
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)

    def publish(self, bulk_id: BulkId, snapshot: Bulk) -> None:
        self._local.publish(bulk_id, snapshot)
        self._to_announce.add(bulk_id)
        self._announce_wanted.set()

    def subscribe(self, bulk_id: BulkId) -> ProgressSubscription:
        return self._local.subscribe(bulk_id)

    # -- listening ---------------------------------------------------------------------------

    async def _listen_forever(self) -> None:
        reconnected = False
        while True:
            try:
                async with await psycopg.AsyncConnection.connect(
                    self._conninfo, autocommit=True
                ) as connection:
                    await connection.execute(f"LISTEN {CHANNEL}")
                    self._listening.set()
                    if reconnected:
                        self._reread(self._watched())  # what was announced meanwhile is lost
                    async for notice in connection.notifies():
                        self._heard(notice.payload, notice.pid)
            except psycopg.Error as error:
                logger.warning("Progress notifications: %s; reconnecting", _first_line(error))
            self._listening.set()  # a start that cannot connect does not wait forever
            reconnected = True
            await asyncio.sleep(RECONNECT_SECONDS)

    def _heard(self, payload: str, sender_pid: int) -> None:
        if sender_pid == self._own_backend_pid or len(payload) > _MAX_ID_LENGTH:
            return  # our own subscribers had it when it was published
        bulk_id = BulkId(payload)
        if self._local.subscriber_count(bulk_id):
            self._reread({bulk_id})

    def _watched(self) -> set[BulkId]:
        return set(self._local.watched())

    def _reread(self, bulk_ids: set[BulkId]) -> None:
        self._to_reread |= bulk_ids
        self._reread_wanted.set()

    async def _reread_forever(self) -> None:
        while True:
            await self._reread_wanted.wait()
            self._reread_wanted.clear()
            bulk_ids, self._to_reread = self._to_reread, set()
            for bulk_id in bulk_ids:
                try:
                    snapshot = await self._read(bulk_id)
                except Exception:
                    logger.exception("Could not re-read a bulk send announced by another process")
                    continue
                if snapshot is not None:
                    self._local.publish(bulk_id, snapshot)

    # -- announcing --------------------------------------------------------------------------

    async def _announce_forever(self) -> None:
        while True:
            try:
                async with await psycopg.AsyncConnection.connect(
                    self._conninfo, autocommit=True
                ) as connection:
                    self._own_backend_pid = connection.info.backend_pid
                    while True:
                        await self._announce_wanted.wait()
                        self._announce_wanted.clear()
                        bulk_ids, self._to_announce = self._to_announce, set()
                        await connection.execute(
                            "SELECT pg_notify(%s, id) FROM unnest(%s::text[]) AS id",
                            (CHANNEL, sorted(bulk_ids)),
                        )
            except psycopg.Error as error:
                logger.warning("Progress announcements: %s; reconnecting", _first_line(error))
            self._own_backend_pid = None
            await asyncio.sleep(RECONNECT_SECONDS)


def _first_line(error: Exception) -> str:
    # The driver's messages can name the server, never the password; one line is enough.
    return (str(error).splitlines() or [type(error).__name__])[0]
