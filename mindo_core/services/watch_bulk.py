"""Watch a bulk send's progress live: the current snapshot, each change, the final one, the end.

The stream:

1. ``BulkNotFound`` at once for an unknown, foreign or malformed id (like ``BulkQueries.get``);
2. the current snapshot;
3. each change published on the progress bus, coalesced: at most one snapshot per
   ``min_interval`` (100 ms) per subscriber, always the newest (counters are cumulative, so a
   skipped snapshot loses nothing);
4. the final snapshot, once the bulk has a final status and nothing of it is still on its way
   to Meta (a stopped or cancelled bulk's last in-flight sends are recorded after the stop);
5. the end.

A watcher never slows the sending: the bus keeps one slot per subscriber, overwritten by each
publication. If nothing is published for ``refresh_interval`` (5 s), the snapshot is re-read
from the store, so a change that this process' bus did not carry still shows. Closing the
stream (the client went away) unsubscribes.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from dataclasses import replace

from mindo_core.bulks.model import Bulk
from mindo_core.domain.clock import Clock
from mindo_core.domain.errors import BulkNotFound
from mindo_core.ports.progress import ProgressBus, ProgressSubscription
from mindo_core.services.authenticate import Principal
from mindo_core.services.bulk_queries import BulkQueries, BulkView, parse_bulk_id

__all__ = ["WatchBulk", "is_settled"]

_FINAL = frozenset({"COMPLETED", "PARTIAL", "FAILED", "CANCELLED"})


def is_settled(bulk: Bulk) -> bool:
    """Over, and nothing of it still in flight: the engine will not change it any more."""
    return bulk.status in _FINAL and bulk.counters.pending == 0


class WatchBulk:
    def __init__(
        self,
        queries: BulkQueries,
        bus: ProgressBus,
        clock: Clock,
        *,
        min_interval: float = 0.1,
        refresh_interval: float = 5.0,
    ) -> None:
        self._queries = queries
        self._bus = bus
        self._clock = clock
        self._min_interval = min_interval
        self._refresh_interval = refresh_interval

    async def __call__(self, principal: Principal, bulk_id: str) -> AsyncIterator[BulkView]:
        parsed = parse_bulk_id(bulk_id)
        if parsed is None:
            raise BulkNotFound(bulk_id[:64])
        # Subscribed before the first read, so that no change can fall between the two.
        subscription = self._bus.subscribe(parsed)
        try:
            view = await self._queries.get(principal, bulk_id)
            # What was published before the read is not newer than it: showing it would step
            # back. A newer one dropped here shows at the next change or refresh.
            subscription.poll()
            yield view
            shown_at = self._clock.monotonic()
            while not is_settled(view.bulk):
                view = replace(
                    view, bulk=await self._coalesced(principal, subscription, view, shown_at)
                )
                yield view
                shown_at = self._clock.monotonic()
        finally:
            subscription.close()

    async def _coalesced(
        self,
        principal: Principal,
        subscription: ProgressSubscription,
        view: BulkView,
        shown_at: float,
    ) -> Bulk:
        """The next change, no sooner than ``min_interval`` after the last one shown, and the
        newest one by then."""
        snapshot = await self._next_change(principal, subscription, view.bulk)
        pause = shown_at + self._min_interval - self._clock.monotonic()
        if pause > 0:
            await asyncio.sleep(pause)
            snapshot = subscription.poll() or snapshot
        return snapshot

    async def _next_change(
        self, principal: Principal, subscription: ProgressSubscription, shown: Bulk
    ) -> Bulk:
        while True:
            try:
                async with asyncio.timeout(self._refresh_interval):
                    snapshot = await subscription.next()
            except TimeoutError:
                snapshot = await self._queries.current(principal, shown.id)
            if snapshot != shown:
                return snapshot
