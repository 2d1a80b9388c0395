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

With ``follow_delivery`` the stream does not end when sending does: it goes on showing the
delivered, read and failed counters as Meta's status webhooks move them, until every message
Meta accepted is final, or ``follow_delivery_timeout`` (24 h unless asked otherwise, at most
7 days) has passed since sending ended; then it ends with the final snapshot (the newest state,
re-read). Final means read or failed: a delivered message is not final, as a read receipt may
still follow (a recipient who turned read receipts off leaves it delivered, so the bound is
what ends such a stream). Recipients never sent (cancelled, skipped) wait for nothing.

A watcher never slows the sending: the bus keeps one slot per subscriber, overwritten by each
publication. If nothing is published for ``refresh_interval`` (5 s), the snapshot is re-read
from the store, so a change that this process' bus did not carry still shows. Closing the
stream (the client went away) unsubscribes.
"""

from __future__ import annotations

import asyncio
import math
from collections.abc import AsyncIterator, Callable
from dataclasses import replace
from typing import Final

from mindo_core.bulks.model import Bulk
from mindo_core.domain.clock import Clock
from mindo_core.domain.errors import BulkNotFound, InvalidRequest
from mindo_core.ports.progress import ProgressBus, ProgressSubscription
from mindo_core.services.authenticate import Principal
from mindo_core.services.bulk_queries import BulkQueries, BulkView, parse_bulk_id

__all__ = [
    "DEFAULT_FOLLOW_DELIVERY_TIMEOUT",
    "MAX_FOLLOW_DELIVERY_TIMEOUT",
    "WatchBulk",
    "delivery_is_final",
    "is_settled",
]

_FINAL = frozenset({"COMPLETED", "PARTIAL", "FAILED", "CANCELLED"})
DEFAULT_FOLLOW_DELIVERY_TIMEOUT: Final = 24 * 3600.0
MAX_FOLLOW_DELIVERY_TIMEOUT: Final = 7 * 24 * 3600.0


def is_settled(bulk: Bulk) -> bool:
    """Over, and nothing of it still in flight: the engine will not change it any more."""
    return bulk.status in _FINAL and bulk.counters.pending == 0


def delivery_is_final(bulk: Bulk) -> bool:
    """Settled, and every message Meta accepted read (or failed since): no status can come."""
    return is_settled(bulk) and bulk.counters.sent == bulk.counters.read


def _checked_timeout(seconds: float | None) -> float:
    """The bound a client asked for (None or 0: the default), checked."""
    if not seconds:
        return DEFAULT_FOLLOW_DELIVERY_TIMEOUT
    if not 1 <= seconds <= MAX_FOLLOW_DELIVERY_TIMEOUT:
        raise InvalidRequest.for_field(
            "follow_delivery_timeout_seconds",
            f"must be between 1 and {MAX_FOLLOW_DELIVERY_TIMEOUT:.0f} seconds, not {seconds:g}",
        )
    return seconds


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

    async def __call__(
        self,
        principal: Principal,
        bulk_id: str,
        *,
        follow_delivery: bool = False,
        follow_delivery_timeout: float | None = None,
    ) -> AsyncIterator[BulkView]:
        """``follow_delivery_timeout`` in seconds: None or 0 is the default (24 h); outside
        1 s to 7 days it is ``InvalidRequest``, before anything is read."""
        bound = _checked_timeout(follow_delivery_timeout)
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
            last = view
            async for last in self._changes(principal, subscription, view, until=is_settled):
                yield last
            if follow_delivery:
                deadline = self._clock.monotonic() + bound
                delivery = self._changes(
                    principal, subscription, last, until=delivery_is_final, deadline=deadline
                )
                async for changed in delivery:
                    yield changed
        finally:
            subscription.close()

    async def _changes(
        self,
        principal: Principal,
        subscription: ProgressSubscription,
        view: BulkView,
        *,
        until: Callable[[Bulk], bool],
        deadline: float = math.inf,
    ) -> AsyncIterator[BulkView]:
        """Each change after ``view`` until ``until(bulk)`` holds; at ``deadline``, the bulk
        re-read (if it changed) and the end."""
        shown_at = self._clock.monotonic()
        while not until(view.bulk):
            remaining = deadline - shown_at
            try:
                async with asyncio.timeout(None if math.isinf(remaining) else remaining):
                    changed = await self._coalesced(principal, subscription, view, shown_at)
            except TimeoutError:
                changed = await self._queries.current(principal, view.bulk.id)
                if changed != view.bulk:
                    yield replace(view, bulk=changed)
                return
            view = replace(view, bulk=changed)
            yield view
            shown_at = self._clock.monotonic()

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
