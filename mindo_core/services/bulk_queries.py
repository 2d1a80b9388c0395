"""Reading bulk sends (one, a filtered page, a page of recipients) and cancelling one.

Scoping: every read is the caller's organisation's. An unknown id, another organisation's bulk
and a string that is not a bulk id at all (not a UUID) all answer ``BulkNotFound``, alike.

Pages: ``page`` counts from 1; ``page_size`` is 1 to ``MAX_PAGE_SIZE`` (100; the edges default
to 20, as the documentation does). Anything else is ``InvalidRequest`` naming the field.

Cancelling: only a QUEUED, PROCESSING or PAUSED bulk can be cancelled; its recipients not sent
yet are cancelled at once (sends already on their way to Meta finish and are recorded).
Cancelling a bulk that is over is ``FailedPrecondition``.

Pausing: a QUEUED or PROCESSING bulk becomes PAUSED; the engine drops it at once (nothing new
starts, sends in flight finish and are recorded; what it had claimed goes back to pending).
Pausing a PAUSED bulk changes nothing. Resuming a PAUSED bulk hands it back to the engine,
which sends its pending recipients, each once; its estimate is planned again from then.
Pausing a bulk that is over, or resuming one that is not PAUSED, is ``FailedPrecondition``.
"""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Final

from mindo_core.bulks.model import (
    Bulk,
    BulkId,
    BulkRecipient,
    IllegalTransition,
    RecipientStatus,
    can_cancel,
    can_pause,
)
from mindo_core.bulks.timeline import TimelinePoint, timeline_of
from mindo_core.domain.accounts import PhoneNumber
from mindo_core.domain.clock import Clock
from mindo_core.domain.errors import BulkNotFound, FailedPrecondition, InvalidRequest
from mindo_core.domain.templates import StoredTemplate
from mindo_core.engine.bulk_context import BulkContexts
from mindo_core.ports.accounts import AccountStore
from mindo_core.ports.bulks import BulkFilter, BulkStore, Page
from mindo_core.ports.progress import ProgressBus
from mindo_core.ports.quota import QuotaLedger
from mindo_core.ports.templates import TemplateStore
from mindo_core.services.authenticate import Principal
from mindo_core.services.quota_replan import QuotaReplan
from mindo_core.services.submit_bulk import BulkWaker
from mindo_core.throughput.pacing import SendTiming

__all__ = ["MAX_PAGE_SIZE", "BulkQueries", "BulkView", "page_window", "parse_bulk_id"]

MAX_PAGE_SIZE: Final = 100
# Recipients read per query by an export (bounded memory, few queries).
EXPORT_BATCH: Final = 1000


@dataclass(frozen=True, kw_only=True)
class BulkView:
    """A bulk with what its documented answer shows of its template and number."""

    bulk: Bulk
    template: StoredTemplate
    phone_number: PhoneNumber


class BulkQueries:
    def __init__(
        self,
        *,
        accounts: AccountStore,
        templates: TemplateStore,
        bulks: BulkStore,
        quota: QuotaLedger,
        clock: Clock,
        progress: ProgressBus,
        waker: BulkWaker | None = None,
        timing: SendTiming | None = None,
    ) -> None:
        self._accounts = accounts
        self._templates = templates
        self._bulks = bulks
        self._clock = clock
        self._bus = progress
        self._waker = waker
        self._replan = QuotaReplan(
            bulks=bulks, quota=quota, clock=clock, progress=progress, timing=timing
        )

    async def get(self, principal: Principal, bulk_id: str) -> BulkView:
        bulk = await self._owned(principal, bulk_id)
        return await self.view(
            bulk, BulkContexts(accounts=self._accounts, templates=self._templates)
        )

    async def list(
        self, principal: Principal, filters: BulkFilter, *, page: int, page_size: int
    ) -> Page[BulkView]:
        offset, limit = page_window(page, page_size)
        found = await self._bulks.list_bulks(
            principal.organisation.id, filters, offset=offset, limit=limit
        )
        contexts = BulkContexts(accounts=self._accounts, templates=self._templates)
        views = [await self.view(bulk, contexts) for bulk in found.items]
        return Page(count=found.count, items=views)

    async def messages(
        self,
        principal: Principal,
        bulk_id: str,
        *,
        status: RecipientStatus | None,
        page: int,
        page_size: int,
    ) -> Page[BulkRecipient]:
        offset, limit = page_window(page, page_size)
        bulk = await self._owned(principal, bulk_id)
        return await self._bulks.list_bulk_recipients(
            principal.organisation.id, bulk.id, status=status, offset=offset, limit=limit
        )

    async def export(
        self, principal: Principal, bulk_id: str, *, status: RecipientStatus | None
    ) -> AsyncIterator[BulkRecipient]:
        """Every recipient of the bulk in position order, read ``EXPORT_BATCH`` at a time.

        A bulk's recipients are fixed at submission and listed by position, so consecutive
        windows neither skip nor repeat one while statuses change (a ``status`` filter may, as
        recipients move in and out of it during the export).
        """
        bulk = await self._owned(principal, bulk_id)
        offset = 0
        while True:
            batch = await self._bulks.list_bulk_recipients(
                principal.organisation.id, bulk.id, status=status, offset=offset, limit=EXPORT_BATCH
            )
            for recipient in batch.items:
                yield recipient
            if len(batch.items) < EXPORT_BATCH:
                return
            offset += EXPORT_BATCH

    async def timeline(self, principal: Principal, bulk_id: str) -> tuple[TimelinePoint, ...]:
        """The bulk's sent, delivered, read and failed counts over time (``bulks.timeline``)."""
        bulk = await self._owned(principal, bulk_id)
        times = await self._bulks.recipient_times(principal.organisation.id, bulk.id)
        return timeline_of(times)

    async def cancel(self, principal: Principal, bulk_id: str) -> BulkView:
        bulk = await self._owned(principal, bulk_id)
        if not can_cancel(bulk.status):
            raise _already_over(bulk)
        try:
            cancelled = await self._bulks.stop_bulk(
                bulk.id, now=self._clock.now(), reason=None, cancelled=True
            )
        except IllegalTransition:  # it ended between the read and the cancel
            raise _already_over(bulk) from None
        self._bus.publish(cancelled.id, cancelled)
        if self._waker is not None:
            self._waker.drop(cancelled.id)
        return await self.view(
            cancelled, BulkContexts(accounts=self._accounts, templates=self._templates)
        )

    async def pause(self, principal: Principal, bulk_id: str) -> BulkView:
        bulk = await self._owned(principal, bulk_id)
        if not can_pause(bulk.status) and bulk.status != "PAUSED":
            raise _cannot(bulk, "paused", "a QUEUED or PROCESSING")
        try:
            paused = await self._bulks.pause_bulk(bulk.id)
        except IllegalTransition:  # it ended between the read and the pause
            raise _cannot(bulk, "paused", "a QUEUED or PROCESSING") from None
        if self._waker is not None:
            self._waker.drop(paused.id)
        self._bus.publish(paused.id, paused)
        return await self.view(paused, self._contexts())

    async def resume(self, principal: Principal, bulk_id: str) -> BulkView:
        bulk = await self._owned(principal, bulk_id)
        if bulk.status != "PAUSED":
            raise _cannot(bulk, "resumed", "a PAUSED")
        try:
            resumed = await self._bulks.resume_bulk(bulk.id)
        except IllegalTransition:  # cancelled or stopped between the read and the resume
            raise _cannot(bulk, "resumed", "a PAUSED") from None
        view = await self.view(resumed, self._contexts())
        resumed = await self._replan.resumed(resumed, view.phone_number)
        if self._waker is not None:
            self._waker.wake()
        self._bus.publish(resumed.id, resumed)
        return BulkView(bulk=resumed, template=view.template, phone_number=view.phone_number)

    def _contexts(self) -> BulkContexts:
        return BulkContexts(accounts=self._accounts, templates=self._templates)

    async def current(self, principal: Principal, bulk_id: str) -> Bulk:
        """The bulk alone, scoped; ``BulkNotFound`` otherwise."""
        return await self._owned(principal, bulk_id)

    async def view(self, bulk: Bulk, contexts: BulkContexts) -> BulkView:
        context = await contexts.of(bulk)
        if context is None:  # its number or template left the store: nothing to show it with
            raise BulkNotFound(bulk.id)
        return BulkView(bulk=bulk, template=context.template, phone_number=context.phone_number)

    async def _owned(self, principal: Principal, bulk_id: str) -> Bulk:
        parsed = parse_bulk_id(bulk_id)
        bulk = (
            None
            if parsed is None
            else await self._bulks.get_bulk(parsed, principal.organisation.id)
        )
        if bulk is None:
            raise BulkNotFound(bulk_id[:64])
        return bulk


def parse_bulk_id(text: str) -> BulkId | None:
    """The canonical (lowercase, hyphenated) form of a UUID, or None when it is not one."""
    try:
        return BulkId(str(uuid.UUID(text.strip())))
    except ValueError:
        return None


def page_window(page: int, page_size: int) -> tuple[int, int]:
    """(offset, limit) of a 1-based page; ``InvalidRequest`` for a page out of range."""
    if page < 1:
        raise InvalidRequest.for_field("page", f"must be 1 or more, not {page}")
    if not 1 <= page_size <= MAX_PAGE_SIZE:
        raise InvalidRequest.for_field(
            "page_size", f"must be between 1 and {MAX_PAGE_SIZE}, not {page_size}"
        )
    return (page - 1) * page_size, page_size


def _already_over(bulk: Bulk) -> FailedPrecondition:
    return FailedPrecondition(
        f"Bulk send '{bulk.id}' is already {bulk.status}; only a QUEUED, PROCESSING or PAUSED "
        "bulk send can be cancelled"
    )


def _cannot(bulk: Bulk, done: str, which: str) -> FailedPrecondition:
    return FailedPrecondition(
        f"Bulk send '{bulk.id}' is {bulk.status}; only {which} bulk send can be {done}"
    )
