"""The progress bus of one process: "latest wins" slots, one per subscriber (``ports.progress``
says why)."""

from __future__ import annotations

import asyncio
from collections.abc import Sequence

from mindo_core.bulks.model import Bulk, BulkId
from mindo_core.domain.accounts import OrganisationId
from mindo_core.ports.progress import OrganisationSubscription, ProgressSubscription

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


class _OrganisationSlot:
    """One subscriber to an organisation: the newest snapshot of each bulk changed since its
    last take."""

    def __init__(self, bus: InProcessProgressBus, organisation_id: OrganisationId) -> None:
        self._bus = bus
        self._organisation_id = organisation_id
        self._changed: dict[BulkId, Bulk] = {}
        self._ready = asyncio.Event()

    def offer(self, snapshot: Bulk) -> None:
        self._changed[snapshot.id] = snapshot
        self._ready.set()

    async def next(self) -> Sequence[Bulk]:
        while True:
            await self._ready.wait()
            taken = self.poll()
            if taken:
                return taken

    def poll(self) -> Sequence[Bulk]:
        taken, self._changed = list(self._changed.values()), {}
        self._ready.clear()
        return taken

    def close(self) -> None:
        self._bus._remove_organisation(self._organisation_id, self)


class InProcessProgressBus:
    """The bus of one process. Not thread-safe: publish and subscribe from the event loop."""

    def __init__(self) -> None:
        self._slots: dict[BulkId, set[_Slot]] = {}
        self._organisations: dict[OrganisationId, set[_OrganisationSlot]] = {}

    def publish(self, bulk_id: BulkId, snapshot: Bulk) -> None:
        for slot in self._slots.get(bulk_id, ()):
            slot.offer(snapshot)
        for organisation_slot in self._organisations.get(snapshot.organisation_id, ()):
            organisation_slot.offer(snapshot)

    def subscribe_organisation(self, organisation_id: OrganisationId) -> OrganisationSubscription:
        slot = _OrganisationSlot(self, organisation_id)
        self._organisations.setdefault(organisation_id, set()).add(slot)
        return slot

    def organisation_subscriber_count(self, organisation_id: OrganisationId) -> int:
        return len(self._organisations.get(organisation_id, ()))

    def subscribe(self, bulk_id: BulkId) -> ProgressSubscription:
        slot = _Slot(self, bulk_id)
        self._slots.setdefault(bulk_id, set()).add(slot)
        return slot

    def subscriber_count(self, bulk_id: BulkId) -> int:
        return len(self._slots.get(bulk_id, ()))

    def watched(self) -> tuple[BulkId, ...]:
        """The bulks with at least one subscriber."""
        return tuple(self._slots)

    def _remove_organisation(
        self, organisation_id: OrganisationId, slot: _OrganisationSlot
    ) -> None:
        slots = self._organisations.get(organisation_id)
        if slots is None:
            return
        slots.discard(slot)
        if not slots:
            del self._organisations[organisation_id]

    def _remove(self, bulk_id: BulkId, slot: _Slot) -> None:
        slots = self._slots.get(bulk_id)
        if slots is None:
            return
        slots.discard(slot)
        if not slots:
            del self._slots[bulk_id]
