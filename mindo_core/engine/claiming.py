"""Claiming one number's recipients from the ``BulkStore``, a small batch at a time.

Each bulk's queue is filled in batches of ``claim_seconds`` of sending at the number's current
rate (1 to ``max_claim``), the next batch being claimed in the background once the queue holds
one batch or less: a claim has ``claim_seconds`` to arrive (under load a SQLite transaction
waits for the one writer, and for the busy event loop, tens of milliseconds), so that sending
never waits for the database. A claimed recipient's call starts only once it is durably marked
started (``start_marks``): what is claimed and not yet started when the process is killed goes
back to pending (at the next start, or by the worker that takes the number over) and is sent
later. Every claim is made as ``EngineSettings.worker_id``.

A marketing template (and a utility or authentication one when the organisation's opt-out
policy says so) is never sent to a recipient on the organisation's suppression list (they wrote
STOP, BAJA, …): each claimed batch is checked against it, and those on it are recorded
``opted_out`` with the reason ``OPTED_OUT`` without reaching Meta. A bulk with a send window sends a
recipient only while it is open in the recipient's local time: one claimed whose window
would be closed at its turn (counted from the lane's queue at the current rate) goes back to
pending until it opens.

A lane with nothing ready to send (``replenish``) claims, waits for what is on its way, or,
with nothing pending, in flight or set aside, writes the outcomes, asks the store once more
and finishes the bulk.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from datetime import datetime
from typing import Final

from mindo_core.bulks.send_window import next_opening
from mindo_core.engine.decisions import (
    EARLY_START_S,
    claim_size,
    expected_turns,
    step_when_dry,
)
from mindo_core.engine.lanes import Lane, NumberLanes
from mindo_core.engine.parts import EngineParts
from mindo_core.engine.settling import Settling
from mindo_core.phones.timezones import ZoneLookup
from mindo_core.ports.bulks import ClaimedRecipient

__all__ = ["OPTED_OUT", "Claiming"]

OPTED_OUT: Final = "opted_out: the recipient asked this organisation to stop marketing messages"

logger = logging.getLogger("mindo.bulk_engine")


class Claiming:
    def __init__(self, parts: EngineParts, number: NumberLanes, settling: Settling) -> None:
        self._parts = parts
        self._number = number
        self._settling = settling
        self._zones = ZoneLookup()

    def size(self, lane: Lane) -> int:
        scheduler = self._number.scheduler
        assert scheduler is not None
        settings = self._parts.settings
        return claim_size(
            rate=scheduler.current_rate(self._parts.clock.monotonic()),
            cap=lane.cap,
            claim_seconds=settings.claim_seconds,
            max_claim=settings.max_claim,
        )

    def start(self, lane: Lane) -> None:
        """Claim the lane's next batch in the background, unless a claim is under way."""
        if lane.claiming or lane.state != "active":
            return
        lane.claiming = True
        self._number.spawn(self._claim(lane, self.size(lane)))

    async def replenish(self, lane: Lane) -> None:
        """The lane has nothing ready to send: claim, wait, or finish it."""
        step = step_when_dry(
            claiming=lane.claiming,
            drained=lane.drained,
            in_flight=lane.in_flight,
            set_aside=bool(lane.aside),
        )
        if step == "claim":
            self.start(lane)
            self._number.hold(lane, lane.aside_until())  # the claim's end resumes it
            return
        if step == "wait":
            self._number.hold(lane, lane.aside_until())  # their answers resume it
            return
        await self._parts.outcomes.flush()  # a retry released meanwhile must be seen
        due = await self._parts.bulks.next_due_at(lane.id)
        if due is None:
            await self._settling.finish(lane)
        elif lane.state == "active":
            lane.drained = False
            # Past the early start, so that the claim then finds it due.
            due_at = self._monotonic_of(due)
            now = self._parts.clock.monotonic()
            retries = lane.pace.retries_at.values()
            if due_at > max(retries, default=now) + 1.0:  # quota or a send window, not a retry
                lane.pace.quota_due_at = due_at
            self._number.hold(lane, max(due_at, now) + 2 * EARLY_START_S)

    async def _claim(self, lane: Lane, size: int) -> None:
        parts = self._parts
        try:
            claimed = await parts.bulks.claim_recipients(
                lane.id, worker=parts.settings.worker_id, limit=size, now=parts.clock.now()
            )
        except Exception:
            logger.exception("Could not claim recipients of bulk send %s", lane.id)
            lane.claiming = False
            self._number.hold(lane, parts.clock.monotonic() + parts.settings.poll_interval)
            return
        lane.claiming = False
        sendable = await self._without_opted_out(lane, claimed)
        if sendable is None:  # released: claimed and checked again after a pause
            self._number.hold(lane, parts.clock.monotonic() + parts.settings.poll_interval)
            return
        sendable = self._inside_send_window(lane, sendable)
        lane.queue.extend(sendable)
        lane.drained = not claimed
        if claimed:
            lane.pace.quota_due_at = None
        if lane.state != "active":  # dropped or stopped meanwhile: these go back at once
            self._settling.release_unsent(lane)
            return
        self._number.resume(lane)
        if claimed and not lane.started:
            lane.started = True
            await self._settling.publish_current(lane.id)

    async def _without_opted_out(
        self, lane: Lane, claimed: Sequence[ClaimedRecipient]
    ) -> Sequence[ClaimedRecipient] | None:
        """The claimed recipients the lane may send to; the others are recorded failed. None
        when the list cannot be read: none is sent, they all go back to pending."""
        if not claimed:
            return claimed
        phones = [recipient.e164 for recipient in claimed]
        now = self._parts.clock.now()
        try:
            if not await self._suppresses(lane):
                return claimed
            opted_out = await self._parts.contacts.opted_out_among(
                lane.bulk.organisation_id, phones
            )
        except Exception:
            logger.exception("Could not read the suppression list for bulk send %s", lane.id)
            for recipient in claimed:
                self._settling.record(lane, recipient, "release", at=now, unsent=True)
            return None
        for recipient in claimed:
            if recipient.e164 in opted_out:
                self._settling.record(lane, recipient, "opt_out", at=now, message=OPTED_OUT)
        return [recipient for recipient in claimed if recipient.e164 not in opted_out]

    async def _suppresses(self, lane: Lane) -> bool:
        """Marketing templates always; the others as the organisation's policy says (read with
        each batch, so that a change applies to the batches claimed after it)."""
        if lane.messages.is_marketing:
            return True
        organisation_id = lane.bulk.organisation_id
        policy = await self._parts.opt_out_policies.opt_out_policy(organisation_id)
        return policy.suppresses(lane.messages.category)

    def _inside_send_window(
        self, lane: Lane, claimed: Sequence[ClaimedRecipient]
    ) -> Sequence[ClaimedRecipient]:
        """The claimed recipients whose send window will be open when their turn comes; the
        others go back to pending until it opens (``bulks.send_window``)."""
        window = lane.bulk.send_window
        if window is None or not claimed:
            return claimed
        scheduler = self._number.scheduler
        assert scheduler is not None
        now = self._parts.clock.now()
        rate = scheduler.current_rate(self._parts.clock.monotonic())
        turns = expected_turns(
            now, ahead=len(lane.queue), count=len(claimed), rate=rate, cap=lane.cap
        )
        kept: list[ClaimedRecipient] = []
        for recipient, turn in zip(claimed, turns, strict=True):
            opening = next_opening(window, self._zones.zones_of(recipient.e164), turn)
            if opening is None:
                kept.append(recipient)
            else:
                self._settling.record(
                    lane, recipient, "release", at=now, retry_at=opening, unsent=True
                )
        return kept

    def _monotonic_of(self, when: datetime) -> float:
        clock = self._parts.clock
        return clock.monotonic() + (when - clock.now()).total_seconds()
