"""Settling one number's sends: each answer becomes an outcome in the ``OutcomeBuffer`` (accepted,
refused, or released to be retried), and a bulk ends here, finished or stopped.

Answers. Every answer goes through ``scheduler.report`` and ``decisions.record_for``: accepted
(wamid), refused for good (Meta's code and text), released with a retry time, or the bulk is
stopped. A stopping code stops the bulk, and, unless it is about the template (132015,
132016), every bulk of this number, since they share the number, its account and its token.

Recipients claimed but not sent (set aside, or queued when the bulk was cancelled, stopped or
the engine shuts down) are released: pending again, or cancelled/skipped if their bulk is over.
Progress is published on the bus when a bulk first claims (PROCESSING), finishes or stops, and
with its re-planned estimate (``estimating``) every few seconds while it sends.
"""

from __future__ import annotations

import logging
from datetime import datetime, timedelta

from mindo_core.bulks.model import BulkId, IllegalTransition
from mindo_core.engine.decisions import (
    RecordKind,
    needs_finishing,
    record_for,
    stops_every_bulk_of_the_number,
)
from mindo_core.engine.estimating import Estimating
from mindo_core.engine.lanes import Lane, NumberLanes
from mindo_core.engine.parts import EngineParts
from mindo_core.ports.bulks import ClaimedRecipient, RecipientOutcome
from mindo_core.throughput.retry_policy import RetryDecision, SendOutcome

__all__ = ["Settling"]

logger = logging.getLogger("mindo.bulk_engine")


class Settling:
    def __init__(self, parts: EngineParts, number: NumberLanes, estimating: Estimating) -> None:
        self._parts = parts
        self._number = number
        self._estimating = estimating

    def settle(
        self,
        lane: Lane,
        recipient: ClaimedRecipient,
        outcome: SendOutcome,
        wamid: str | None,
        slot_at: float,
    ) -> None:
        decision = self._report(lane, recipient, outcome, slot_at)
        record = record_for(decision, outcome)
        at = self._parts.clock.now()
        now = self._parts.clock.monotonic()
        if record.retry_in is not None:
            lane.pace.waiting(recipient.message_id, now + record.retry_in, now)
            self._release_for_retry(lane, recipient, at=at, retry_in=record.retry_in)
            self._estimating.after_answer(lane)
            return
        lane.pace.settled(recipient.message_id, now)
        self._estimating.after_answer(lane)
        self.record(
            lane,
            recipient,
            record.kind,
            at=at,
            wamid=wamid if record.kind == "accept" else None,
            error_code=record.error_code,
            message=record.message,
        )
        if record.stops:
            self._stop_lanes(lane, decision)

    def record(
        self,
        lane: Lane,
        recipient: ClaimedRecipient,
        kind: RecordKind,
        *,
        at: datetime,
        wamid: str | None = None,
        error_code: int | None = None,
        message: str | None = None,
        retry_at: datetime | None = None,
        unsent: bool = False,
    ) -> None:
        self._parts.outcomes.add(
            RecipientOutcome(
                message_id=recipient.message_id,
                bulk_id=lane.id,
                kind=kind,
                at=at,
                wamid=wamid,
                error_code=error_code,
                error_message=message,
                retry_at=retry_at,
                unsent=unsent,
            )
        )

    def not_started(self, lane: Lane, recipient: ClaimedRecipient) -> None:
        """Its call's mark was refused (a failed write, or the claim is no longer this
        worker's): back to pending, uncalled."""
        self._parts.marks.forget((recipient.message_id,))
        self.record(lane, recipient, "release", at=self._parts.clock.now(), unsent=True)
        lane.drained = False
        self._number.resume(lane)

    def release_unsent(self, lane: Lane) -> None:
        at = self._parts.clock.now()
        unsent = lane.unsent()
        self._parts.marks.forget(recipient.message_id for recipient in unsent)
        for recipient in unsent:
            self.record(lane, recipient, "release", at=at, unsent=True)

    def drop(self, lane: Lane) -> None:
        """The lane is over: what it claimed and did not send goes back."""
        self._number.remove(lane)
        self.release_unsent(lane)

    async def finish(self, lane: Lane) -> None:
        bulks = self._parts.bulks
        bulk = await bulks.get_bulk(lane.id)
        if bulk is not None and needs_finishing(bulk):
            bulk = await bulks.finish_bulk(
                lane.id, self._parts.clock.now(), worker=self._parts.settings.worker_id
            )
        if bulk is not None:
            self._parts.progress.publish(bulk.id, bulk)
        self.drop(lane)

    async def stop_in_store(self, bulk_id: BulkId, reason: str) -> None:
        bulks = self._parts.bulks
        try:
            bulk = await bulks.stop_bulk(
                bulk_id, now=self._parts.clock.now(), reason=reason, cancelled=False
            )
        except IllegalTransition:  # over already (cancelled meanwhile)
            found = await bulks.get_bulk(bulk_id)
            if found is None:
                return
            bulk = found
        self._parts.progress.publish(bulk.id, bulk)

    async def publish_current(self, bulk_id: BulkId) -> None:
        bulk = await self._parts.bulks.get_bulk(bulk_id)
        if bulk is not None:
            self._parts.progress.publish(bulk.id, bulk)

    def _report(
        self, lane: Lane, recipient: ClaimedRecipient, outcome: SendOutcome, slot_at: float
    ) -> RetryDecision:
        scheduler = self._number.scheduler
        assert scheduler is not None  # a send is only started through it
        return scheduler.report(
            bulk_id=lane.id,
            recipient=recipient.e164.removeprefix("+"),
            outcome=outcome,
            attempt=recipient.attempts,
            sent_at=slot_at,
            now=self._parts.clock.monotonic(),
        )

    def _release_for_retry(
        self, lane: Lane, recipient: ClaimedRecipient, *, at: datetime, retry_in: float
    ) -> None:
        retry_at = at + timedelta(seconds=retry_in)
        self.record(lane, recipient, "release", at=at, retry_at=retry_at)
        lane.drained = False
        self._number.resume(lane, at_latest=self._parts.clock.monotonic() + retry_in)

    def _stop_lanes(self, cause: Lane, decision: RetryDecision) -> None:
        concerned = [cause]
        if stops_every_bulk_of_the_number(decision.meta_code):
            concerned = list(self._number.lanes.values())
        for lane in concerned:
            if lane.state != "active":
                continue
            lane.state = "stopping"
            self._number.spawn(self._stop_lane(lane, decision.reason))

    async def _stop_lane(self, lane: Lane, reason: str) -> None:
        if self._number.scheduler is not None:
            self._number.scheduler.remove_bulk(lane.id)
        try:
            # Stopped first, so that what it had claimed but not sent is released as skipped.
            await self.stop_in_store(lane.id, reason)
        except Exception:
            logger.exception("Could not stop bulk send %s (%s)", lane.id, reason)
        self.drop(lane)
