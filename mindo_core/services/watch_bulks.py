"""Watch every bulk send of an organisation live (WatchBulks): what a dashboard shows.

The stream is one initial message with the organisation's bulks not over yet (SCHEDULED,
QUEUED, PROCESSING, PAUSED), oldest first, then one message per change with the bulks that
changed since the last message, each in its newest state: a bulk submitted, sending, paused,
ended, or moved later by a status webhook. Changes come from the progress bus (across processes
on PostgreSQL) and are coalesced, at most one message per ``min_interval`` (250 ms). If nothing
is published for ``refresh_interval`` (5 s), the bulks shown as not settled are re-read and the
organisation's active bulks listed again, so a change that this process' bus did not carry
(another process on SQLite, a lost LISTEN connection) still shows. The stream never ends by
itself; closing it unsubscribes.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable, Iterable, Sequence
from dataclasses import dataclass
from typing import Final

from mindo_core.bulks.model import Bulk, BulkId, BulkStatus
from mindo_core.domain.accounts import OrganisationId
from mindo_core.domain.clock import Clock
from mindo_core.engine.bulk_context import BulkContexts
from mindo_core.ports.accounts import AccountStore
from mindo_core.ports.bulks import BulkFilter, BulkStore
from mindo_core.ports.progress import OrganisationSubscription, ProgressBus
from mindo_core.ports.templates import TemplateStore
from mindo_core.services.authenticate import Principal
from mindo_core.services.bulk_queries import BulkView
from mindo_core.services.watch_bulk import is_settled

__all__ = ["ACTIVE_STATUSES", "BulksChange", "WatchBulks"]

ACTIVE_STATUSES: Final[tuple[BulkStatus, ...]] = ("SCHEDULED", "QUEUED", "PROCESSING", "PAUSED")
_LIST_PAGE: Final = 500


@dataclass(frozen=True, kw_only=True)
class BulksChange:
    initial: bool
    views: Sequence[BulkView]


class WatchBulks:
    def __init__(
        self,
        *,
        accounts: AccountStore,
        templates: TemplateStore,
        bulks: BulkStore,
        progress: ProgressBus,
        clock: Clock,
        min_interval: float = 0.25,
        refresh_interval: float = 5.0,
    ) -> None:
        self._accounts = accounts
        self._templates = templates
        self._bulks = bulks
        self._bus = progress
        self._clock = clock
        self._min_interval = min_interval
        self._refresh_interval = refresh_interval

    async def __call__(self, principal: Principal) -> AsyncIterator[BulksChange]:
        organisation_id = principal.organisation.id
        # Subscribed before the listing, so that no change can fall between the two.
        subscription = self._bus.subscribe_organisation(organisation_id)
        try:
            stream = _Stream(organisation_id, self._contexts, self._clock)
            active = await self._active(organisation_id)
            yield BulksChange(initial=True, views=await stream.shown(active))
            while True:
                changed = await self._next_changes(stream, subscription)
                views = await stream.shown(changed)
                if views:
                    yield BulksChange(initial=False, views=views)
        finally:
            subscription.close()

    async def _next_changes(
        self, stream: _Stream, subscription: OrganisationSubscription
    ) -> Sequence[Bulk]:
        """What changed, no sooner than ``min_interval`` after the last message."""
        pause = stream.shown_at + self._min_interval - self._clock.monotonic()
        if pause > 0:
            await asyncio.sleep(pause)
        changed = list(subscription.poll())
        while not changed:
            try:
                async with asyncio.timeout(self._refresh_interval):
                    changed = list(await subscription.next())
            except TimeoutError:
                changed = await self._refreshed(stream)
        return changed

    async def _refreshed(self, stream: _Stream) -> list[Bulk]:
        organisation_id = stream.organisation_id
        stream.forget_contexts()  # a template's status may have changed since
        found: dict[BulkId, Bulk] = {}
        for bulk_id in stream.unsettled():
            bulk = await self._bulks.get_bulk(bulk_id, organisation_id)
            if bulk is not None:
                found[bulk.id] = bulk
        for bulk in await self._active(organisation_id):
            found[bulk.id] = bulk
        return [bulk for bulk in found.values() if stream.is_news(bulk)]

    async def _active(self, organisation_id: OrganisationId) -> list[Bulk]:
        """The organisation's bulks not over yet, oldest first."""
        found: list[Bulk] = []
        for status in ACTIVE_STATUSES:
            offset = 0
            while True:
                page = await self._bulks.list_bulks(
                    organisation_id, BulkFilter(status=status), offset=offset, limit=_LIST_PAGE
                )
                found.extend(page.items)
                offset += len(page.items)
                if len(page.items) < _LIST_PAGE:
                    break
        return sorted(found, key=lambda bulk: (bulk.created_at, bulk.id))

    def _contexts(self) -> BulkContexts:
        return BulkContexts(accounts=self._accounts, templates=self._templates)


class _Stream:
    """What one stream has shown: the last snapshot of each bulk not settled yet (what a
    refresh re-reads), and the template and number of each bulk (read once per refresh)."""

    def __init__(
        self,
        organisation_id: OrganisationId,
        contexts: Callable[[], BulkContexts],
        clock: Clock,
    ) -> None:
        self.organisation_id = organisation_id
        self._new_contexts = contexts
        self._contexts = contexts()
        self._clock = clock
        self._last: dict[BulkId, Bulk] = {}
        self.shown_at = 0.0

    def forget_contexts(self) -> None:
        self._contexts = self._new_contexts()

    def unsettled(self) -> Iterable[BulkId]:
        return tuple(self._last)

    def is_news(self, bulk: Bulk) -> bool:
        return self._last.get(bulk.id) != bulk

    async def shown(self, bulks: Sequence[Bulk]) -> list[BulkView]:
        """The views of ``bulks`` that are news, remembered as shown."""
        views: list[BulkView] = []
        for bulk in bulks:
            if not self.is_news(bulk):
                continue
            view = await self._view(bulk)
            if view is None:  # its number or template left the store: nothing to show it with
                continue
            views.append(view)
            if is_settled(bulk):
                self._last.pop(bulk.id, None)
            else:
                self._last[bulk.id] = bulk
        self.shown_at = self._clock.monotonic()
        return views

    async def _view(self, bulk: Bulk) -> BulkView | None:
        context = await self._contexts.of(bulk)
        if context is None:  # a template or number new since the contexts were read
            self.forget_contexts()
            context = await self._contexts.of(bulk)
        if context is None:
            return None
        return BulkView(bulk=bulk, template=context.template, phone_number=context.phone_number)
