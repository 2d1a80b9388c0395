"""``ProcessQuotaLedger``: the ``QuotaLedger`` port for one process alone (the memory stores and
SQLite, where one service process decides for the database).

The book is read from the bulk store (window and bulks' pending recipients) and the reservations
live in this process's memory, so they die with it: nothing to expire. Decisions and holds on
an organisation take its lock in this process, one after another.
"""

from __future__ import annotations

import asyncio
import itertools
from collections import defaultdict
from collections.abc import AsyncIterator, Callable, Collection, Sequence
from contextlib import asynccontextmanager
from datetime import datetime

from mindo_core.domain.accounts import OrganisationId
from mindo_core.ports.bulks import BulkStore
from mindo_core.ports.quota import QuotaBook, ReservationId

__all__ = ["ProcessQuotaLedger"]


class ProcessQuotaLedger:
    def __init__(self, bulks: BulkStore) -> None:
        self._bulks = bulks
        # Per organisation: reservation → its wa_id.
        self._held: dict[OrganisationId, dict[ReservationId, str]] = {}
        self._ids = itertools.count(1)
        self._locks: defaultdict[OrganisationId, asyncio.Lock] = defaultdict(asyncio.Lock)

    async def read(self, organisation_id: OrganisationId, *, since: datetime) -> QuotaBook:
        window = await self._bulks.recipient_window(organisation_id, since)
        owed = set(await self._bulks.promised_recipients(organisation_id))
        owed.update(self._held.get(organisation_id, {}).values())
        return QuotaBook(window=window, owed=owed)

    async def decide(
        self,
        organisation_id: OrganisationId,
        *,
        since: datetime,
        decision: Callable[[QuotaBook], Sequence[str]],
    ) -> list[ReservationId]:
        async with self._locks[organisation_id]:
            reserved = decision(await self.read(organisation_id, since=since))
        held = self._held.setdefault(organisation_id, {})
        ids = [ReservationId(str(next(self._ids))) for _ in reserved]
        held.update(zip(ids, reserved, strict=True))
        if not held:
            del self._held[organisation_id]
        return ids

    @asynccontextmanager
    async def holding(
        self, organisation_id: OrganisationId, *, since: datetime
    ) -> AsyncIterator[QuotaBook]:
        async with self._locks[organisation_id]:
            yield await self.read(organisation_id, since=since)

    async def release(
        self,
        organisation_id: OrganisationId,
        reservations: Collection[ReservationId],
        *,
        recorded: bool,
    ) -> None:
        held = self._held.get(organisation_id)
        if held is None:
            return
        for reservation in reservations:
            held.pop(reservation, None)
        if not held:
            del self._held[organisation_id]
