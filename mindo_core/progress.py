"""The progress bus: who changed a bulk tells everyone watching it.

The engine publishes a bulk's snapshot after every change it makes (claims that start it, each
batch of outcomes, finish, stop), and so do cancellations (and, later, webhooks). WatchBulk
subscribes. The port is small on purpose so that several worker processes could share one bus
over PostgreSQL's LISTEN/NOTIFY; ``InProcessProgressBus`` serves one process.

Delivery is "latest wins", never a queue: each subscription holds only the newest snapshot it
has not taken yet, in one slot with an event. Publishing is O(subscribers of that bulk), never
waits and never grows memory; a slow subscriber simply skips intermediate snapshots, and
counters are cumulative, so nothing a client needs is lost by skipping.
"""

from __future__ import annotations

import asyncio
from typing import Protocol

from mindo_core.bulks import Bulk, BulkId

__all__ = ["InProcessProgressBus", "ProgressBus", "ProgressSubscription"]


class ProgressSubscription(Protocol):
    async def next(self) -> Bulk:
        """Wait for a snapshot newer than the last one taken, and take the newest."""
        ...

    def poll(self) -> Bulk | None:
        """The newest snapshot not taken yet, without waiting; None when there is none."""
        ...

    def close(self) -> None:
        """Stop receiving; idempotent."""
        ...


class ProgressBus(Protocol):
    def publish(self, bulk_id: BulkId, snapshot: Bulk) -> None:
        """Never blocks."""
        ...

    def subscribe(self, bulk_id: BulkId) -> ProgressSubscription: ...


class _Slot:
    """One subscriber: the newest snapshot it has not taken, and an event set while there is one."""

    def __init__(self, bus: InProcessProgressBus, bulk_id: BulkId) -> None:
        self._bus = bus
        self._bulk_id = bulk_id
        self._latest: Bulk | None = None
        self._ready = asyncio.Event()

    def offer(self, snapshot: Bulk) -> None:
        self._latest = snapshot
        self._ready.set()

    async def next(self) -> Bulk:
        while True:
            await self._ready.wait()
            taken = self.poll()
            if taken is not None:
                return taken

    def poll(self) -> Bulk | None:
        taken, self._latest = self._latest, None
        self._ready.clear()
        return taken

    def close(self) -> None:
        self._bus._remove(self._bulk_id, self)


class InProcessProgressBus:
    """The bus of one process. Not thread-safe: publish and subscribe from the event loop."""

    def __init__(self) -> None:
        self._slots: dict[BulkId, set[_Slot]] = {}

    def publish(self, bulk_id: BulkId, snapshot: Bulk) -> None:
        for slot in self._slots.get(bulk_id, ()):
            slot.offer(snapshot)

    def subscribe(self, bulk_id: BulkId) -> ProgressSubscription:
        slot = _Slot(self, bulk_id)
        self._slots.setdefault(bulk_id, set()).add(slot)
        return slot

    def subscriber_count(self, bulk_id: BulkId) -> int:
        return len(self._slots.get(bulk_id, ()))

    def _remove(self, bulk_id: BulkId, slot: _Slot) -> None:
        slots = self._slots.get(bulk_id)
        if slots is None:
            return
        slots.discard(slot)
        if not slots:
            del self._slots[bulk_id]
