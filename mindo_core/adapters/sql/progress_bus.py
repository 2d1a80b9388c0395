"""The progress bus of many processes over one PostgreSQL database: LISTEN/NOTIFY.

A publication is delivered to this process' subscribers at once (the in-process bus) and
announced to the other processes on the ``mindo_bulk_progress`` channel; the payload is the
bulk id and its organisation's id ("<bulk id> <organisation id>"), so it is small and carries
nothing personal. A process that hears of a bulk some of its subscribers watch (that bulk, or
every bulk of its organisation) re-reads it from the store and hands that snapshot to them. "Latest
wins" holds on both sides: ids waiting to be announced or re-read are sets, so a bulk changed
many times in a burst is announced and re-read once, with its newest state. After a lost
connection every watched bulk is re-read (``notifications`` says how it reconnects);
WatchBulk's periodic re-read covers the gap.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable

from mindo_core.adapters.memory.progress_bus import InProcessProgressBus
from mindo_core.adapters.sql.notifications import PostgresNotifications
from mindo_core.bulks.model import Bulk, BulkId
from mindo_core.domain.accounts import OrganisationId
from mindo_core.ports.progress import OrganisationSubscription, ProgressSubscription

__all__ = ["CHANNEL", "PostgresProgressBus"]

CHANNEL = "mindo_bulk_progress"

logger = logging.getLogger("mindo.progress")

BulkReader = Callable[[BulkId], Awaitable[Bulk | None]]


class PostgresProgressBus:
    """``ProgressBus`` across processes. ``read`` is how a bulk is re-read (the store's
    unscoped ``get_bulk``). Made before ``notifications`` start; ``start()`` runs its re-reads
    and ``close()`` ends them."""

    def __init__(self, notifications: PostgresNotifications, read: BulkReader) -> None:
        self._notifications = notifications
        self._read = read
        self._local = InProcessProgressBus()
        self._to_reread: set[BulkId] = set()
        self._reread_wanted = asyncio.Event()
        self._rereads: asyncio.Task[None] | None = None
        notifications.on(CHANNEL, self._heard, self._reconnected)

    def start(self) -> None:
        self._rereads = asyncio.create_task(self._reread_forever(), name="mindo-progress-reread")

    async def close(self) -> None:
        rereads, self._rereads = self._rereads, None
        if rereads is not None:
            rereads.cancel()
            await asyncio.gather(rereads, return_exceptions=True)

    def publish(self, bulk_id: BulkId, snapshot: Bulk) -> None:
        self._local.publish(bulk_id, snapshot)
        self._notifications.notify(CHANNEL, f"{bulk_id} {snapshot.organisation_id}")

    def subscribe(self, bulk_id: BulkId) -> ProgressSubscription:
        return self._local.subscribe(bulk_id)

    def subscribe_organisation(self, organisation_id: OrganisationId) -> OrganisationSubscription:
        return self._local.subscribe_organisation(organisation_id)

    def _heard(self, payload: str) -> None:
        bulk, _, organisation = payload.partition(" ")
        bulk_id = BulkId(bulk)
        if self._local.subscriber_count(bulk_id) or (
            organisation.isdigit()
            and self._local.organisation_subscriber_count(OrganisationId(int(organisation)))
        ):
            self._reread({bulk_id})

    def _reconnected(self) -> None:
        self._reread(set(self._local.watched()))

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
