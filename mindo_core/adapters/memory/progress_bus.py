"""The progress bus of one process: "latest wins" slots, one per subscriber (``ports.progress``
says why)."""

from __future__ import annotations

import asyncio

from mindo_core.bulks.model import Bulk, BulkId
from mindo_core.ports.progress import ProgressSubscription

__all__ = ["InProcessProgressBus"]


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

    def watched(self) -> tuple[BulkId, ...]:
        """The bulks with at least one subscriber."""
        return tuple(self._slots)

    def _remove(self, bulk_id: BulkId, slot: _Slot) -> None:
        slots = self._slots.get(bulk_id)
        if slots is None:
            return
        slots.discard(slot)
        if not slots:
            del self._slots[bulk_id]
