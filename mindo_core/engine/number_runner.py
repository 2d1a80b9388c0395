"""One phone number's sending: the bulks assigned to it, one ``NumberScheduler``, one loop.

The loop is the one ``scheduler.NumberScheduler`` describes. Per turn: ask the scheduler which
bulk sends next and when; sleep until then (a change wakes it early: a bulk assigned or
dropped, a send finished, a claim arrived); take that bulk's next recipient from its local
queue; if the pair rate holds that recipient back, set it aside until it may go; otherwise
commit the slot and send it (``sending``) once its mark of a call started is durable
(``start_marks``, asked ahead). A send may start up to 1 ms before its slot
(``decisions.EARLY_START_S``), never later because of a timer's lateness.

The runner keeps the lanes in step with the bulks the supervisor assigns (``admission`` reads
what a new one needs), and re-reads the number when told it changed. Its queues are filled by
``claiming``; answers, finishes and stops go through ``settling``. Time is the clock port's
``monotonic``.
"""

from __future__ import annotations

import asyncio
import logging
import math
from collections.abc import Sequence

from mindo_core.bulks.model import Bulk, BulkId
from mindo_core.domain.accounts import PhoneNumber, PhoneNumberRowId
from mindo_core.engine.admission import Unrunnable, admit
from mindo_core.engine.bulk_context import BulkContexts
from mindo_core.engine.claiming import Claiming
from mindo_core.engine.decisions import EARLY_START_S, rate_cap
from mindo_core.engine.estimating import Estimating
from mindo_core.engine.lanes import Lane, NumberLanes
from mindo_core.engine.live_pace import LivePace
from mindo_core.engine.parts import EngineParts
from mindo_core.engine.sending import Sending
from mindo_core.engine.settling import Settling
from mindo_core.ports.bulks import ClaimedRecipient
from mindo_core.throughput.scheduler import NumberScheduler, Slot

__all__ = ["NumberRunner"]

logger = logging.getLogger("mindo.bulk_engine")


class NumberRunner:
    def __init__(self, number_id: PhoneNumberRowId, parts: EngineParts) -> None:
        self.number_id = number_id
        self._parts = parts
        self._settings = parts.settings
        self._number = NumberLanes()
        self._estimating = Estimating(parts, self._number)
        self._settling = Settling(parts, self._number, self._estimating)
        self._claiming = Claiming(parts, self._number, self._settling)
        self._sending = Sending(parts, self._number, self._settling)
        self._closing = False
        self._loop_task: asyncio.Task[None] | None = None
        # The number changed in the store (throughput, tier): re-read it at the next turn.
        self._number_changed = False

    # -- the supervisor's side -------------------------------------------------------------------

    def assign(self, bulks: Sequence[Bulk]) -> None:
        """The bulks of this number that are to run (QUEUED or PROCESSING), as last read."""
        self._number.assigned = {bulk.id: bulk for bulk in bulks}
        self.wake()

    def wake(self) -> None:
        self._number.wake()

    def refresh_number(self) -> None:
        """The number's throughput level or messaging tier changed in the store: the loop
        re-reads it and applies both before its next send. Never waits."""
        self._number_changed = True
        self.wake()

    def drop(self, bulk_id: BulkId) -> None:
        """The bulk is over (cancelled): nothing more of it is sent from now on."""
        self._number.assigned.pop(bulk_id, None)
        lane = self._number.lanes.get(bulk_id)
        if lane is not None and lane.state == "active":
            self._settling.drop(lane)

    @property
    def idle(self) -> bool:
        number = self._number
        return not (number.assigned or number.lanes or number.tasks)

    def start(self) -> None:
        self._loop_task = asyncio.create_task(self._run(), name=f"mindo-number-{self.number_id}")

    async def close(self) -> None:
        """Stop claiming; release what is claimed but unsent; let sends in flight finish for
        ``stop_grace_seconds``, then cancel them (their recipients stay in flight, and the next
        start settles them)."""
        self._closing = True
        self.wake()
        if self._loop_task is not None:
            # Its turn ends first: a claim under way lands in a queue, and is released below.
            await self._loop_task
        await self._estimating.close()
        for lane in self._number.lanes.values():
            lane.state = "gone"  # a claim still under way releases what it gets
            self._settling.release_unsent(lane)
        tasks = self._number.tasks
        if tasks:
            await asyncio.wait(set(tasks), timeout=self._settings.stop_grace_seconds)
        for task in set(tasks):
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)

    # -- one turn --------------------------------------------------------------------------------

    async def _run(self) -> None:
        while not self._closing:
            try:
                await self._turn()
            except Exception:
                logger.exception("Sending from number row %s failed; going on", self.number_id)
                await self._number.rest(self._settings.poll_interval)

    async def _turn(self) -> None:
        await self._follow_assignment()
        if self._number_changed:
            await self._apply_number_change()
        scheduler = self._number.scheduler
        if scheduler is None or not self._number.lanes:
            await self._number.rest(self._settings.poll_interval)
            return
        now = self._parts.clock.monotonic()
        if not self._parts.tenure.holds(self.number_id, now):
            # The lease ran out unrenewed: not one more send (the supervisor closes us).
            await self._number.rest(self._settings.poll_interval)
            return
        slot = scheduler.next_send(now)
        if slot is None:
            await self._number.rest(self._settings.poll_interval)
            return
        if slot.at > now + EARLY_START_S:
            await self._number.rest(slot.at - now - EARLY_START_S)
            return
        await self._take(scheduler, slot, now)

    async def _take(
        self, scheduler: NumberScheduler[BulkId], slot: Slot[BulkId], now: float
    ) -> None:
        """The slot is due: send its bulk's next recipient, or find out why there is none."""
        lane = self._number.lanes[slot.bulk_id]
        recipient = lane.next_ready(now + EARLY_START_S)
        if recipient is None:
            await self._claiming.replenish(lane)
            return
        lane.held_until = None
        if not lane.drained and len(lane.queue) <= self._claiming.size(lane):
            self._claiming.start(lane)  # the next batch arrives before this one runs out
        wa_id = recipient.e164.removeprefix("+")
        ready_at = scheduler.recipient_ready_at(wa_id, now)
        if ready_at > now + EARLY_START_S:
            lane.set_aside(recipient, ready_at)
            return
        self._ask_marks(scheduler, lane, recipient, now)
        marked = self._parts.marks.answer(recipient.message_id)
        if marked is None:  # the slot is taken once the call may start: it starts on time
            lane.queue.appendleft(recipient)
            await self._parts.marks.written(self._settings.poll_interval)
            return
        if not marked:
            self._settling.not_started(lane, recipient)
            return
        capacity = self._parts.capacity
        if not capacity.try_take():
            lane.queue.appendleft(recipient)
            await capacity.freed(self._settings.poll_interval)
            return
        scheduler.take(slot, recipient=wa_id)
        self._report(scheduler, lane, slot.at)
        self._sending.launch(lane, recipient, slot.at)

    def _ask_marks(
        self,
        scheduler: NumberScheduler[BulkId],
        lane: Lane,
        recipient: ClaimedRecipient,
        now: float,
    ) -> None:
        """This recipient and the lane's next ones, those due within the marks' lead, are
        marked started ahead, in their order (``start_marks``): their calls start on time.

        The queue's asked recipients always come first (a claim appends unasked ones, a send
        takes from the front, one put back was asked), so only those after the last one asked
        within the lead are new: looked for from the lead's far end, not the whole lead (up to
        100 at 1,000/s) again at every send."""
        rate = scheduler.current_rate(now)
        lead = self._settings.mark_lead(rate)
        queue, marks = lane.queue, self._parts.marks
        end = min(len(queue), math.ceil(rate * lead))
        start = end
        while start > 0 and not marks.asked(queue[start - 1].message_id):
            start -= 1
        marks.ask([recipient.message_id, *(queue[k].message_id for k in range(start, end))])

    def _report(self, scheduler: NumberScheduler[BulkId], lane: Lane, slot_at: float) -> None:
        telemetry = self._parts.telemetry
        if telemetry is None:
            return
        now = self._parts.clock.monotonic()
        telemetry.send_started(
            phone_number_id=lane.phone_number_id,
            late_seconds=max(0.0, now - slot_at),
            rate=scheduler.current_rate(now),
            cap=scheduler.configured_rate,
        )

    # -- lanes -----------------------------------------------------------------------------------

    async def _follow_assignment(self) -> None:
        number = self._number
        if number.assigned.keys() == number.lanes.keys():
            return  # every turn asks; nearly always nothing changed
        for bulk_id in [b for b in number.lanes if b not in number.assigned]:
            lane = number.lanes[bulk_id]
            if lane.state == "active":  # over elsewhere (cancelled): what it claimed goes too
                self._settling.drop(lane)
        new = [b for b in number.assigned.values() if b.id not in number.lanes]
        contexts = self._contexts()
        for bulk in new:
            if not self._closing:
                await self._open_lane(bulk, contexts)

    async def _open_lane(self, bulk: Bulk, contexts: BulkContexts) -> None:
        admitted = await admit(self._parts, bulk, contexts)
        if isinstance(admitted, Unrunnable):
            logger.warning("Bulk send %s cannot run: %s", bulk.id, admitted.why)
            self._number.assigned.pop(bulk.id, None)
            await self._settling.stop_in_store(bulk.id, f"Stopped: {admitted.why}")
            return
        if bulk.id not in self._number.assigned:  # dropped while it was being read
            return
        scheduler = self._scheduler_for(admitted.phone_number)
        cap = rate_cap(bulk, admitted.phone_number)
        scheduler.add_bulk(bulk.id, max_rate=cap)
        self._number.lanes[bulk.id] = Lane(
            bulk=bulk,
            phone_number_id=admitted.phone_number.phone_number_id,
            access_token=admitted.access_token,
            messages=admitted.messages,
            cap=cap,
            pace=LivePace(sending_since=self._parts.clock.monotonic()),
        )

    async def _apply_number_change(self) -> None:
        """The number as the store has it now: its throughput for the scheduler, its tier for
        the caps of the bulks paced by tier; held lanes look again for recipients due (a raised
        tier re-plans the quota waits in the store first). (A lane admitted later reads it
        anyway.)"""
        self._number_changed = False  # before reading: a change told meanwhile reads again
        first = next(iter(self._number.lanes.values()), None)
        try:
            context = None if first is None else await self._contexts().of(first.bulk)
        except Exception:
            self._number_changed = True  # the next turn tries again
            raise
        if context is None or self._number.scheduler is None:
            return  # no lane yet, or the number is gone: admitting or finishing handles it
        number = context.phone_number
        scheduler = self._scheduler_for(number)
        for lane in self._number.lanes.values():
            cap = rate_cap(lane.bulk, number)
            if cap != lane.cap and lane.state == "active":
                lane.cap = cap
                scheduler.set_bulk_rate(lane.id, cap)
            lane.pace.floor_read = False  # a raised tier re-planned the quota waits first
            self._number.resume(lane)
        logger.info(
            "Phone number row %s now sends at %s msg/s (tier %s)",
            self.number_id,
            scheduler.current_rate(self._parts.clock.monotonic()),
            number.messaging_limit_tier,
        )

    def _scheduler_for(self, number: PhoneNumber) -> NumberScheduler[BulkId]:
        # The registry applies a changed level; the scheduler paces through what it returns.
        throughput = self._parts.throughputs.of(
            self.number_id, number.throughput_level, self._parts.clock.monotonic()
        )
        if self._number.scheduler is None:
            self._number.scheduler = NumberScheduler(
                throughput_mps=throughput.configured_rate,
                retry_policy=self._parts.retry_policy,
                pair_rate=self._settings.pair_rate,
                margin_seconds=self._settings.margin_seconds,  # the bulks' own pacing too
                throughput=throughput,
            )
        return self._number.scheduler

    def _contexts(self) -> BulkContexts:
        return BulkContexts(accounts=self._parts.accounts, templates=self._parts.templates)
