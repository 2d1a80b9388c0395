"""Sending one recipient: its call to Meta through the number's scheduler, its answer to
``settling``, and the send capacity given back.

A send runs in a task of its own, started by the number's runner once the scheduler gave it a
slot and the engine's ``SendCapacity`` a place. Its call starts only once ``StartMarks`` has
durably marked it started (a mark refused: the recipient goes back, uncalled). What it raised
becomes a ``SendOutcome`` (``bulk_messages.outcome_of``); an unexpected failure is retried like
a transient one, within the retry policy's bounds."""

from __future__ import annotations

import logging

from mindo_core.domain.errors import InvalidRequest, MetaError, MetaUnavailable
from mindo_core.engine.bulk_messages import outcome_of
from mindo_core.engine.lanes import Lane, NumberLanes
from mindo_core.engine.parts import EngineParts
from mindo_core.engine.settling import Settling
from mindo_core.ports.bulks import ClaimedRecipient
from mindo_core.ports.meta import MetaGateway
from mindo_core.throughput.retry_policy import SendOutcome

__all__ = ["Sending", "call_meta"]

logger = logging.getLogger("mindo.bulk_engine")


class Sending:
    def __init__(self, parts: EngineParts, number: NumberLanes, settling: Settling) -> None:
        self._parts = parts
        self._number = number
        self._settling = settling

    def launch(self, lane: Lane, recipient: ClaimedRecipient, slot_at: float) -> None:
        lane.in_flight += 1
        self._number.spawn(self._send(lane, recipient, slot_at))

    async def _send(self, lane: Lane, recipient: ClaimedRecipient, slot_at: float) -> None:
        try:
            marked = await self._parts.marks.started(recipient.message_id)
            if not marked or lane.state != "active":  # cancelled or stopped while marking
                self._settling.not_started(lane, recipient)
                return
            scheduler = self._number.scheduler
            if scheduler is not None:  # counted when it goes, however late (its mark, the loop)
                scheduler.started_late(slot_at, self._parts.clock.monotonic())
            resend_unknown = self._parts.settings.crash_policy == "resend"
            outcome, wamid = await call_meta(
                self._parts.meta, lane, recipient, resend_unknown=resend_unknown
            )
            self._settling.settle(lane, recipient, outcome, wamid, slot_at)
        except Exception:  # it stays in flight: settled at the next start or takeover
            logger.exception("Could not settle a send of bulk send %s", lane.id)
        finally:
            lane.in_flight -= 1
            self._parts.capacity.give_back()
            if lane.in_flight == 0:
                self._number.resume(lane)
            self._number.wake()


async def call_meta(
    meta: MetaGateway, lane: Lane, recipient: ClaimedRecipient, *, resend_unknown: bool = False
) -> tuple[SendOutcome, str | None]:
    """The recipient's message sent from the lane's number: the outcome, and Meta's wamid when
    it was accepted (``resend_unknown``: see ``outcome_of``)."""
    try:
        payload = lane.messages.payload(recipient)
        result = await meta.send_template(
            phone_number_id=lane.phone_number_id,
            access_token=lane.access_token,
            payload=payload,
        )
    except (MetaError, MetaUnavailable, InvalidRequest) as error:
        return outcome_of(error, resend_unknown=resend_unknown), None
    except Exception as error:  # a bug or an unexpected transport failure: retried, bounded
        logger.exception("Unexpected failure sending to Meta")
        return SendOutcome.transient(title=f"unexpected failure: {type(error).__name__}"), None
    return SendOutcome.ok(), result.wamid
