"""The quality guard: the bulks a quality alarm concerns pause by themselves.

When Meta reports a number's or a template's quality dropping (``delivery.quality_alarms``),
the organisation's SCHEDULED, QUEUED and PROCESSING bulks on that number (or with that
template) become PAUSED with a ``pause_reason``, as a user's pause would (nothing new starts,
sends in flight finish and are recorded), unless the organisation's policy is "continue"
(``mindo orgs update --quality-guard``). They resume only when asked (ResumeBulk), which clears
the reason. Bulks already PAUSED keep their state and reason.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from typing import Final, Protocol

from mindo_core.bulks.model import Bulk, BulkId, BulkStatus, IllegalTransition
from mindo_core.domain.accounts import OrganisationId, PhoneNumberRowId
from mindo_core.domain.templates import TemplateId
from mindo_core.ports.bulks import BulkFilter, BulkStore
from mindo_core.ports.organisations import OrganisationStore
from mindo_core.ports.progress import ProgressBus

__all__ = ["BulkDropper", "QualityGuard"]

logger = logging.getLogger("mindo.quality_guard")

_GUARDED: Final[tuple[BulkStatus, ...]] = ("SCHEDULED", "QUEUED", "PROCESSING")
_PAGE: Final = 100


class BulkDropper(Protocol):
    """The part of the bulk engine the guard tells: send nothing more of this bulk."""

    def drop(self, bulk_id: BulkId) -> None: ...


class QualityGuard:
    def __init__(
        self,
        *,
        organisations: OrganisationStore,
        bulks: BulkStore,
        progress: ProgressBus,
        engine: BulkDropper,
    ) -> None:
        self._organisations = organisations
        self._bulks = bulks
        self._bus = progress
        self._engine = engine

    async def number_alarm(
        self, organisation_id: OrganisationId, number: PhoneNumberRowId, reason: str
    ) -> Sequence[Bulk]:
        """Pauses the organisation's bulks on ``number``; returns those it paused."""
        bulks = [b for b in await self._guarded(organisation_id) if b.phone_number_row_id == number]
        return await self._pause(organisation_id, bulks, reason)

    async def template_alarm(
        self, organisation_id: OrganisationId, template: TemplateId, reason: str
    ) -> Sequence[Bulk]:
        """Pauses the organisation's bulks of ``template``; returns those it paused."""
        bulks = await self._guarded(organisation_id, template)
        return await self._pause(organisation_id, bulks, reason)

    async def _pause(
        self, organisation_id: OrganisationId, bulks: Sequence[Bulk], reason: str
    ) -> Sequence[Bulk]:
        if not bulks:
            return ()
        organisation = await self._organisations.get_organisation(organisation_id)
        if organisation is not None and organisation.quality_policy == "continue":
            logger.warning("%s; %d bulk send(s) carry on (policy: continue)", reason, len(bulks))
            return ()
        paused: list[Bulk] = []
        for bulk in bulks:
            try:
                now_paused = await self._bulks.pause_bulk(bulk.id, reason=reason)
            except IllegalTransition:  # over meanwhile
                continue
            self._engine.drop(bulk.id)
            self._bus.publish(now_paused.id, now_paused)
            logger.warning("Bulk send %s paused: %s", bulk.id, reason)
            paused.append(now_paused)
        return paused

    async def _guarded(
        self, organisation_id: OrganisationId, template: TemplateId | None = None
    ) -> list[Bulk]:
        found: list[Bulk] = []
        for status in _GUARDED:
            filters = BulkFilter(status=status, template_id=template)
            offset = 0
            while True:
                page = await self._bulks.list_bulks(
                    organisation_id, filters, offset=offset, limit=_PAGE
                )
                found += page.items
                if len(page.items) < _PAGE:
                    break
                offset += _PAGE
        return found
