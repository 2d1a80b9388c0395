"""Sending one recipient: its call to Meta through the number's scheduler, its answer to
``settling``, and the send capacity given back.

A send runs in a task of its own, started by the number's runner once the scheduler gave it a
slot (``call_start_lead`` ahead of its time) and the engine's ``SendCapacity`` a place; its
call to Meta starts once the outcome buffer wrote that it starts (a crash before that leaves a
recipient Meta never saw, put back to pending at the next start), at its slot. What it raised
becomes a ``SendOutcome`` (``bulk_messages.outcome_of``); an unexpected failure is retried like
a transient one, within the retry policy's bounds.
"""

from __future__ import annotations

import asyncio
import logging

from mindo_core.domain.errors import InvalidRequest, MetaError, MetaUnavailable
from mindo_core.engine.bulk_messages import outcome_of
from mindo_core.engine.decisions import EARLY_START_S
from mindo_core.engine.lanes import Lane, NumberLanes
from mindo_core.engine.parts import EngineParts
from mindo_core.engine.settling import Settling
from mindo_core.ports.bulks import ClaimedRecipient
from mindo_core.ports.meta import MetaGateway
from mindo_core.throughput.retry_policy import SendOutcome

__all__ = ["Sending", "call_meta"]

logger = logging.getLogger("mindo.bulk_engine")

# A call may leave this long after its slot (less than the rate windows' margin per second).
_LATEST_AFTER_SLOT_S = 0.005


class Sending:
    def __init__(self, parts: EngineParts, number: NumberLanes, settling: Settling) -> None:
        self._parts = parts
        self._number = number
        self._settling = settling

    def launch(self, lane: Lane, recipient: ClaimedRecipient, slot_at: float) -> None:
        lane.in_flight += 1
        ahead = slot_at > self._parts.clock.monotonic() + EARLY_START_S
        self._number.spawn(self._send(lane, recipient, slot_at, ahead=ahead))

    async def _send(
        self, lane: Lane, recipient: ClaimedRecipient, slot_at: float, *, ahead: bool
    ) -> None:
        try:
            if not await self._may_call(lane, recipient):
                return
            await self._until(slot_at)
            if not self._still_goes(lane, slot_at) or (ahead and self._too_late(slot_at)):
                self._release(lane, recipient)
                return
            if self._number.scheduler is not None:
                self._number.scheduler.take_recipient(recipient.e164.removeprefix("+"), slot_at)
            outcome, wamid = await call_meta(self._parts.meta, lane, recipient)
            self._settling.settle(lane, recipient, outcome, wamid, slot_at)
        except Exception:  # it stays in flight: settled at the next start or takeover
            logger.exception("Could not settle a send of bulk send %s", lane.id)
        finally:
            lane.in_flight -= 1
            self._parts.capacity.give_back()
            if lane.in_flight == 0:
                self._number.resume(lane)
            self._number.wake()

    async def _until(self, slot_at: float) -> None:
        """The send was taken ahead of its slot (``call_start_lead``): its call leaves then."""
        wait = slot_at - EARLY_START_S - self._parts.clock.monotonic()
        if wait > 0:
            await asyncio.sleep(wait)

    def _too_late(self, slot_at: float) -> bool:
        """A send taken ahead of its slot whose start was written too long after the slot: the
        slot is lost rather than the call made late. (Calls made late together, after the
        calls of later slots went on time, overfill Meta's one-second window: 130429.) It goes
        back to pending. A send taken at or after its slot (nothing was ready earlier) goes
        when its start is written, as it would without the lead."""
        late = self._parts.clock.monotonic() - slot_at > _LATEST_AFTER_SLOT_S
        if late:
            logger.debug("A call start of bulk send was written too late for its slot")
        return late

    def _still_goes(self, lane: Lane, slot_at: float) -> bool:
        """Not if, while it waited for its slot, its bulk was cancelled, paused or stopped, or
        Meta's 130429 paused the number past the slot."""
        scheduler = self._number.scheduler
        paused = scheduler is not None and scheduler.paused_until() > slot_at
        return lane.state == "active" and not paused

    async def _may_call(self, lane: Lane, recipient: ClaimedRecipient) -> bool:
        """Whether the call's start is durable. A recipient whose start was not written (its
        bulk paused or over meanwhile, or the write failed) is released, never called: pending
        again, or as its bulk's other unsent recipients went. (A release only moves a recipient
        still in flight.)"""
        try:
            if await self._parts.outcomes.started(recipient.message_id):
                return True
        except Exception:
            logger.exception("Could not mark a call of bulk send %s started", lane.id)
        self._release(lane, recipient)
        return False

    def _release(self, lane: Lane, recipient: ClaimedRecipient) -> None:
        self._settling.record(lane, recipient, "release", at=self._parts.clock.now(), unsent=True)
        lane.drained = False


async def call_meta(
    meta: MetaGateway, lane: Lane, recipient: ClaimedRecipient
) -> tuple[SendOutcome, str | None]:
    """The recipient's message sent from the lane's number: the outcome, and Meta's wamid when
    it was accepted."""
    try:
        payload = lane.messages.payload(recipient)
        result = await meta.send_template(
            phone_number_id=lane.phone_number_id,
            access_token=lane.access_token,
            payload=payload,
        )
    except (MetaError, MetaUnavailable, InvalidRequest) as error:
        return outcome_of(error), None
    except Exception as error:  # a bug or an unexpected transport failure: retried, bounded
        logger.exception("Unexpected failure sending to Meta")
        return SendOutcome.transient(title=f"unexpected failure: {type(error).__name__}"), None
    return SendOutcome.ok(), result.wamid
