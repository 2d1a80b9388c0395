"""``ProcessQuotaLedger``: the ``QuotaLedger`` port for one process alone (the memory stores and
SQLite, where one service process decides for the database).

The book is read from the bulk store (window and bulks' pending recipients) and the reservations
live in this process's memory, so they die with it: nothing to expire. Decisions and holds on
an organisation take its lock in this process, one after another.

A full reading of the book is reused by the decisions that follow while it is younger than the
refresh interval and the organisation's book version (``versions``: on SQLite a row every
change to what bulks owe moves, ``sql.quota_book_versions``) is the one read before it
(``book_reading`` says why that never under-counts). Without ``versions`` (the memory stores)
every decision reads the whole book. A hold (a bulk's acceptance) always reads it whole, and
drops the reading: what it stores is owed from then on. A reservation whose message is recorded
stays counted until a decision's reading begun after its release (that reading has the message
in its window); ``read`` (business-accounts) always reads the whole book.
"""

from __future__ import annotations

import asyncio
import itertools
from collections import defaultdict
from collections.abc import AsyncIterator, Callable, Collection, Sequence
from contextlib import asynccontextmanager
from datetime import datetime, timedelta
from typing import Protocol

from mindo_core.adapters.book_reading import DEFAULT_REFRESH_SECONDS, BookReading
from mindo_core.domain.accounts import OrganisationId
from mindo_core.ports.bulks import BulkStore
from mindo_core.ports.quota import QuotaBook, ReservationId

__all__ = ["BookVersions", "ProcessQuotaLedger"]


class BookVersions(Protocol):
    async def version(self, organisation_id: OrganisationId) -> int:
        """The organisation's book version: it moves, in the same transaction, with every
        change that adds to what its bulks owe outside a reservation."""
        ...


class ProcessQuotaLedger:
    def __init__(
        self,
        bulks: BulkStore,
        *,
        versions: BookVersions | None = None,
        refresh_seconds: float = DEFAULT_REFRESH_SECONDS,
    ) -> None:
        self._bulks = bulks
        self._versions = versions
        self._refresh = timedelta(seconds=refresh_seconds)
        # Per organisation: reservation → its wa_id, while its send is in flight.
        self._held: dict[OrganisationId, dict[ReservationId, str]] = {}
        # Per organisation: reservations released as recorded, still counted (see above).
        self._recorded: dict[OrganisationId, dict[ReservationId, str]] = {}
        self._readings: dict[OrganisationId, BookReading] = {}
        self._ids = itertools.count(1)
        self._locks: defaultdict[OrganisationId, asyncio.Lock] = defaultdict(asyncio.Lock)

    async def read(self, organisation_id: OrganisationId, *, since: datetime) -> QuotaBook:
        reading = await self._full_reading(organisation_id, since, version=None)
        return reading.book(self._reserved(organisation_id))

    async def decide(
        self,
        organisation_id: OrganisationId,
        *,
        since: datetime,
        decision: Callable[[QuotaBook], Sequence[str]],
    ) -> list[ReservationId]:
        async with self._locks[organisation_id]:
            reading = await self._reading(organisation_id, since)
            reserved = decision(reading.book(self._reserved(organisation_id)))
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
            # What the block stores is owed from then on: the next decision reads it (no other
            # decision comes before, the lock is held).
            self._readings.pop(organisation_id, None)
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
            wa_id = held.pop(reservation, None)
            # Kept even with no reading reused: one may be under way, begun before the record.
            if wa_id is not None and recorded:
                self._recorded.setdefault(organisation_id, {})[reservation] = wa_id
        if not held:
            del self._held[organisation_id]

    async def _reading(self, organisation_id: OrganisationId, since: datetime) -> BookReading:
        """The organisation's reading for a decision: the last one while fresh, else a new
        one (under the organisation's lock)."""
        version = None if self._versions is None else await self._versions.version(organisation_id)
        kept = self._readings.get(organisation_id)
        if kept is not None and kept.reusable(
            age=since - kept.since, version=version, refresh=self._refresh
        ):
            return kept
        recorded_before = set(self._recorded.get(organisation_id, {}))
        reading = await self._full_reading(organisation_id, since, version)
        if version is None:
            self._readings.pop(organisation_id, None)
        else:
            self._readings[organisation_id] = reading
        # Recorded before this reading began: their messages are in its window.
        self._forget_recorded(organisation_id, recorded_before)
        return reading

    async def _full_reading(
        self, organisation_id: OrganisationId, since: datetime, version: int | None
    ) -> BookReading:
        window = await self._bulks.recipient_window(organisation_id, since)
        promised = await self._bulks.promised_recipients(organisation_id)
        return BookReading.of(since=since, version=version, window=window, promised=promised)

    def _reserved(self, organisation_id: OrganisationId) -> list[str]:
        """The wa_ids of reservations still counted: in flight, or recorded after the reading."""
        held = list(self._held.get(organisation_id, {}).values())
        held.extend(self._recorded.get(organisation_id, {}).values())
        return held

    def _forget_recorded(
        self, organisation_id: OrganisationId, reservations: set[ReservationId]
    ) -> None:
        recorded = self._recorded.get(organisation_id)
        if recorded is None:
            return
        for reservation in reservations:
            recorded.pop(reservation, None)
        if not recorded:
            del self._recorded[organisation_id]
