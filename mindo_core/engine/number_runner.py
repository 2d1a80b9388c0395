"""One phone number's sending: the bulks assigned to it, one ``NumberScheduler``, one loop.

The loop is the one ``scheduler.NumberScheduler`` describes. Per turn: ask the scheduler which
bulk sends next and when; sleep until then (a change wakes it early: a bulk assigned or
dropped, a send finished, a claim arrived); take that bulk's next recipient from its local
queue; if the pair rate holds that recipient back, set it aside until it may go; otherwise
commit the slot and send in a task of its own. A send may start up to 1 ms before its slot
(``_EARLY_S``), never later because of a timer's lateness.

Claims. Each bulk's queue is filled from the store in small batches (``claim_seconds`` of
sending at the number's current rate, 1 to ``max_claim``), the next batch being claimed in the
background once the queue holds one batch or less: a claim has ``claim_seconds`` to arrive
(under load a SQLite transaction waits for the one writer, and for the busy event loop, tens
of milliseconds), so that sending never waits for the database.

Holds. A bulk with nothing due is held: until its earliest pending recipient is due (a retry,
a quota wait), until a claim under way arrives, or until its sends in flight come back. With
nothing pending, in flight or set aside, the runner writes the outcomes, asks the store once
more and finishes the bulk.

Answers. Every answer goes through ``scheduler.report``: accepted (wamid), refused for good
(Meta's code and text), released with a retry time, or the bulk is stopped. A stopping code
stops the bulk, and, unless it is about the template (132015, 132016), every bulk of this
number, since they share the number, its account and its token.

Recipients claimed but not sent (set aside, or queued when the bulk was cancelled, stopped or
the engine shuts down) are released: pending again, or cancelled/skipped if their bulk is over.
"""

from __future__ import annotations

import asyncio
import heapq
import logging
import math
from collections import deque
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Literal

from mindo_core.bulks.model import Bulk, BulkId, IllegalTransition
from mindo_core.domain.accounts import PhoneNumber, PhoneNumberRowId
from mindo_core.domain.errors import InvalidRequest, MetaError, MetaUnavailable, MindoError
from mindo_core.engine.bulk_context import BulkContexts
from mindo_core.engine.bulk_messages import BulkMessages, outcome_of
from mindo_core.engine.parts import EngineParts
from mindo_core.ports.bulks import ClaimedRecipient, RecipientOutcome
from mindo_core.throughput.pacing import bulk_rate_cap, parse_pacing, throughput_for
from mindo_core.throughput.retry_policy import RetryDecision, SendOutcome
from mindo_core.throughput.scheduler import NumberScheduler

__all__ = ["NumberRunner"]

logger = logging.getLogger("mindo.bulk_engine")

# Codes that concern the template only: the other bulks of the number go on.
_TEMPLATE_STOP_CODES = frozenset({132015, 132016})
_RUNNING = frozenset({"QUEUED", "PROCESSING"})
# Timers fire up to a millisecond late (epoll counts whole milliseconds), and a late send would
# delay every later one (a number's gate keeps no tolerance). So a send may start up to this much
# before its slot: the slot is still recorded at its time, and every rate window already has
# margin_seconds (20 ms a second) of room.
_EARLY_S = 0.001

LaneState = Literal["active", "stopping", "gone"]


@dataclass(eq=False, kw_only=True)
class _Lane:
    """One bulk on this number."""

    bulk: Bulk
    phone_number_id: str
    access_token: str = field(repr=False)
    messages: BulkMessages
    # The bulk's own pacing limit in messages/s, if any.
    cap: float | None
    queue: deque[ClaimedRecipient] = field(default_factory=deque)
    # (may go at, position, recipient): held back by the pair rate
    aside: list[tuple[float, int, ClaimedRecipient]] = field(default_factory=list)
    in_flight: int = 0
    # When the scheduler holds it (nothing due before then); None: not held.
    held_until: float | None = None
    # A claim is under way; the last claim found nothing due (until told otherwise).
    claiming: bool = False
    drained: bool = False
    started: bool = False
    state: LaneState = "active"

    @property
    def id(self) -> BulkId:
        return self.bulk.id

    def next_ready(self, now: float) -> ClaimedRecipient | None:
        if self.aside and self.aside[0][0] <= now:
            return heapq.heappop(self.aside)[2]
        return self.queue.popleft() if self.queue else None

    def set_aside(self, recipient: ClaimedRecipient, until: float) -> None:
        heapq.heappush(self.aside, (until, recipient.position, recipient))

    def aside_until(self) -> float:
        return self.aside[0][0] if self.aside else math.inf

    def unsent(self) -> list[ClaimedRecipient]:
        recipients = [*self.queue, *(entry[2] for entry in self.aside)]
        self.queue.clear()
        self.aside.clear()
        return recipients


class NumberRunner:
    def __init__(self, number_id: PhoneNumberRowId, parts: EngineParts) -> None:
        self.number_id = number_id
        self._parts = parts
        self._settings = parts.settings
        self._scheduler: NumberScheduler[BulkId] | None = None
        self._assigned: dict[BulkId, Bulk] = {}
        self._lanes: dict[BulkId, _Lane] = {}
        self._tasks: set[asyncio.Task[None]] = set()
        self._wake = asyncio.Event()
        self._closing = False
        self._loop_task: asyncio.Task[None] | None = None
        # The number changed in the store (throughput, tier): re-read it at the next turn.
        self._number_changed = False

    # -- the supervisor's side -------------------------------------------------------------------

    def assign(self, bulks: Sequence[Bulk]) -> None:
        """The bulks of this number that are to run (QUEUED or PROCESSING), as last read."""
        self._assigned = {bulk.id: bulk for bulk in bulks}
        self.wake()

    def wake(self) -> None:
        self._wake.set()

    def refresh_number(self) -> None:
        """The number's throughput level or messaging tier changed in the store: the loop
        re-reads it and applies both before its next send. Never waits."""
        self._number_changed = True
        self.wake()

    def drop(self, bulk_id: BulkId) -> None:
        """The bulk is over (cancelled): nothing more of it is sent from now on."""
        self._assigned.pop(bulk_id, None)
        lane = self._lanes.get(bulk_id)
        if lane is not None and lane.state == "active":
            self._drop(lane)

    @property
    def idle(self) -> bool:
        return not (self._assigned or self._lanes or self._tasks)

    def start(self) -> None:
        self._loop_task = asyncio.create_task(self._run(), name=f"mindo-number-{self.number_id}")

    async def _run(self) -> None:
        while not self._closing:
            try:
                await self._turn()
            except Exception:
                logger.exception("Sending from number row %s failed; going on", self.number_id)
                await self._rest(self._settings.poll_interval)

    async def close(self) -> None:
        """Stop claiming; release what is claimed but unsent; let sends in flight finish for
        ``stop_grace_seconds``, then cancel them (their recipients stay in flight, and the next
        start settles them)."""
        self._closing = True
        self.wake()
        if self._loop_task is not None:
            # Its turn ends first: a claim under way lands in a queue, and is released below.
            await self._loop_task
        for lane in self._lanes.values():
            lane.state = "gone"  # a claim still under way releases what it gets
            self._release_unsent(lane)
        if self._tasks:
            await asyncio.wait(set(self._tasks), timeout=self._settings.stop_grace_seconds)
        for task in set(self._tasks):
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)

    # -- one turn --------------------------------------------------------------------------------

    async def _turn(self) -> None:
        await self._follow_assignment()
        if self._number_changed:
            await self._apply_number_change()
        scheduler = self._scheduler
        if scheduler is None or not self._lanes:
            await self._rest(self._settings.poll_interval)
            return
        now = _monotonic()
        slot = scheduler.next_send(now)
        if slot is None:
            await self._rest(self._settings.poll_interval)
            return
        if slot.at > now + _EARLY_S:
            await self._rest(slot.at - now - _EARLY_S)
            return
        lane = self._lanes[slot.bulk_id]
        recipient = lane.next_ready(now + _EARLY_S)
        if recipient is None:
            await self._replenish(lane)
            return
        lane.held_until = None
        if not lane.drained and len(lane.queue) <= self._claim_size(lane):
            self._start_claim(lane)  # the next batch arrives before this one runs out
        wa_id = recipient.e164.removeprefix("+")
        ready_at = scheduler.recipient_ready_at(wa_id, now)
        if ready_at > now + _EARLY_S:
            lane.set_aside(recipient, ready_at)
            return
        if not self._parts.capacity.try_take():
            lane.queue.appendleft(recipient)
            await self._parts.capacity.freed(self._settings.poll_interval)
            return
        scheduler.take(slot, recipient=wa_id)
        self._launch(lane, recipient, slot.at)

    async def _rest(self, seconds: float) -> None:
        if not self._wake.is_set():
            try:
                async with asyncio.timeout(seconds):
                    await self._wake.wait()
            except TimeoutError:
                pass
        self._wake.clear()

    # -- lanes -----------------------------------------------------------------------------------

    async def _follow_assignment(self) -> None:
        if self._assigned.keys() == self._lanes.keys():
            return  # every turn asks; nearly always nothing changed
        for bulk_id in [b for b in self._lanes if b not in self._assigned]:
            lane = self._lanes[bulk_id]
            if lane.state == "active":  # over elsewhere (cancelled): what it claimed goes too
                self._drop(lane)
        new = [b for b in self._assigned.values() if b.id not in self._lanes]
        contexts = BulkContexts(accounts=self._parts.accounts, templates=self._parts.templates)
        for bulk in new:
            if not self._closing:
                await self._admit(bulk, contexts)

    async def _admit(self, bulk: Bulk, contexts: BulkContexts) -> None:
        context = await contexts.of(bulk)
        if context is None:
            await self._stop_unstarted(bulk, "its phone number or template is no longer known")
            return
        encrypted = await self._parts.accounts.encrypted_token(context.business_account.id)
        if encrypted is None:
            await self._stop_unstarted(bulk, "its business account has no access token")
            return
        try:
            messages = BulkMessages(context.template)
        except MindoError as error:  # a stored definition it cannot read
            await self._stop_unstarted(bulk, f"its template cannot be read: {error.message}")
            return
        try:
            token = self._parts.cipher.decrypt(encrypted)
        except Exception as error:  # its text is the cipher's, never the token's
            await self._stop_unstarted(
                bulk, f"its access token cannot be decrypted ({type(error).__name__})"
            )
            return
        if bulk.id not in self._assigned:  # dropped while it was being read
            return
        scheduler = self._scheduler_for(context.phone_number)
        cap = _rate_cap(bulk, context.phone_number)
        scheduler.add_bulk(bulk.id, max_rate=cap)
        self._lanes[bulk.id] = _Lane(
            bulk=bulk,
            phone_number_id=context.phone_number.phone_number_id,
            access_token=token,
            messages=messages,
            cap=cap,
        )

    async def _apply_number_change(self) -> None:
        """The number as the store has it now: its throughput for the scheduler, its tier for
        the caps of the bulks paced by tier. (A lane admitted later reads it anyway.)"""
        self._number_changed = False  # before reading: a change told meanwhile reads again
        first = next(iter(self._lanes.values()), None)
        contexts = BulkContexts(accounts=self._parts.accounts, templates=self._parts.templates)
        try:
            context = None if first is None else await contexts.of(first.bulk)
        except Exception:
            self._number_changed = True  # the next turn tries again
            raise
        if context is None or self._scheduler is None:
            return  # no lane yet, or the number is gone: admitting or finishing handles it
        number = context.phone_number
        scheduler = self._scheduler_for(number)
        for lane in self._lanes.values():
            cap = _rate_cap(lane.bulk, number)
            if cap != lane.cap and lane.state == "active":
                lane.cap = cap
                scheduler.set_bulk_rate(lane.id, cap)
        logger.info(
            "Phone number row %s now sends at %s msg/s (tier %s)",
            self.number_id,
            scheduler.current_rate(_monotonic()),
            number.messaging_limit_tier,
        )

    def _scheduler_for(self, number: PhoneNumber) -> NumberScheduler[BulkId]:
        throughput = self._settings.throughput_mps or throughput_for(number.throughput_level)
        if self._scheduler is None:
            settings = self._settings
            self._scheduler = NumberScheduler(
                throughput_mps=throughput,
                retry_policy=self._parts.retry_policy,
                slow_down=settings.slow_down,
                pair_rate=settings.pair_rate,
                margin_seconds=settings.margin_seconds,
            )
        else:
            self._scheduler.set_throughput(throughput, _monotonic())
        return self._scheduler

    async def _stop_unstarted(self, bulk: Bulk, why: str) -> None:
        logger.warning("Bulk send %s cannot run: %s", bulk.id, why)
        self._assigned.pop(bulk.id, None)
        await self._stop_in_store(bulk.id, f"Stopped: {why}")

    def _drop(self, lane: _Lane) -> None:
        lane.state = "gone"
        if self._scheduler is not None:
            self._scheduler.remove_bulk(lane.id)
        self._release_unsent(lane)
        self._lanes.pop(lane.id, None)
        self._assigned.pop(lane.id, None)

    def _release_unsent(self, lane: _Lane) -> None:
        at = self._parts.clock.now()
        for recipient in lane.unsent():
            self._record(lane, recipient, "release", at=at)

    # -- claiming and finishing ------------------------------------------------------------------

    async def _replenish(self, lane: _Lane) -> None:
        """The lane has nothing ready to send: claim, wait, or finish it."""
        if lane.claiming or not lane.drained:
            self._start_claim(lane)
            self._hold(lane, lane.aside_until())  # the claim's end resumes it
            return
        if lane.in_flight or lane.aside:
            self._hold(lane, lane.aside_until())  # their answers resume it
            return
        parts = self._parts
        await parts.outcomes.flush()  # a retry released meanwhile must be seen
        due = await parts.bulks.next_due_at(lane.id)
        if due is None:
            await self._finish(lane)
        elif lane.state == "active":
            lane.drained = False
            # Past the early start, so that the claim then finds it due.
            self._hold(lane, max(self._monotonic_of(due), _monotonic()) + 2 * _EARLY_S)

    def _start_claim(self, lane: _Lane) -> None:
        if lane.claiming or lane.state != "active":
            return
        lane.claiming = True
        self._track(asyncio.create_task(self._claim(lane, self._claim_size(lane))))

    async def _claim(self, lane: _Lane, size: int) -> None:
        parts = self._parts
        try:
            claimed = await parts.bulks.claim_recipients(
                lane.id, worker=self._settings.worker, limit=size, now=parts.clock.now()
            )
        except Exception:
            logger.exception("Could not claim recipients of bulk send %s", lane.id)
            lane.claiming = False
            self._hold(lane, _monotonic() + self._settings.poll_interval)
            return
        lane.claiming = False
        lane.queue.extend(claimed)
        lane.drained = not claimed
        if lane.state != "active":  # dropped or stopped meanwhile: these go back at once
            self._release_unsent(lane)
            return
        self._resume(lane)
        if claimed and not lane.started:
            lane.started = True
            await self._publish_current(lane.id)

    def _claim_size(self, lane: _Lane) -> int:
        assert self._scheduler is not None
        rate = self._scheduler.current_rate(_monotonic())
        if lane.cap is not None:
            rate = min(rate, lane.cap)
        wanted = math.ceil(rate * self._settings.claim_seconds)
        return max(1, min(self._settings.max_claim, wanted))

    async def _finish(self, lane: _Lane) -> None:
        bulks = self._parts.bulks
        bulk = await bulks.get_bulk(lane.id)
        if bulk is not None and bulk.status in _RUNNING:
            bulk = await bulks.finish_bulk(lane.id, self._parts.clock.now())
        if bulk is not None:
            self._parts.bus.publish(bulk.id, bulk)
        self._drop(lane)

    def _hold(self, lane: _Lane, until: float) -> None:
        if self._scheduler is not None and lane.state == "active":
            self._scheduler.hold_bulk(lane.id, until)
            lane.held_until = until

    def _resume(self, lane: _Lane, at_latest: float | None = None) -> None:
        """A held lane may have work again: now, or from ``at_latest`` on."""
        if self._scheduler is None or lane.state != "active" or lane.held_until is None:
            return
        if at_latest is None:
            self._scheduler.resume_bulk(lane.id)
            lane.held_until = None
        elif at_latest < lane.held_until:
            self._hold(lane, at_latest)
        self.wake()

    # -- sending ---------------------------------------------------------------------------------

    def _launch(self, lane: _Lane, recipient: ClaimedRecipient, slot_at: float) -> None:
        lane.in_flight += 1
        self._track(asyncio.create_task(self._send(lane, recipient, slot_at)))

    def _track(self, task: asyncio.Task[None]) -> None:
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def _send(self, lane: _Lane, recipient: ClaimedRecipient, slot_at: float) -> None:
        try:
            outcome, wamid = await self._call_meta(lane, recipient)
            self._settle(lane, recipient, outcome, wamid, slot_at)
        except Exception:  # the recipient stays in flight: the next start settles it
            logger.exception("Could not settle a send of bulk send %s", lane.id)
        finally:
            lane.in_flight -= 1
            self._parts.capacity.give_back()
            if lane.in_flight == 0:
                self._resume(lane)
            self.wake()

    async def _call_meta(
        self, lane: _Lane, recipient: ClaimedRecipient
    ) -> tuple[SendOutcome, str | None]:
        try:
            payload = lane.messages.payload(recipient)
            result = await self._parts.meta.send_template(
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

    def _settle(
        self,
        lane: _Lane,
        recipient: ClaimedRecipient,
        outcome: SendOutcome,
        wamid: str | None,
        slot_at: float,
    ) -> None:
        scheduler = self._scheduler
        assert scheduler is not None  # a send is only started through it
        decision = scheduler.report(
            bulk_id=lane.id,
            recipient=recipient.e164.removeprefix("+"),
            outcome=outcome,
            attempt=recipient.attempts,
            sent_at=slot_at,
            now=_monotonic(),
        )
        at = self._parts.clock.now()
        if decision.action == "done":
            self._record(lane, recipient, "accept", at=at, wamid=wamid)
        elif decision.action == "retry":
            retry_at = at + timedelta(seconds=decision.delay)
            self._record(lane, recipient, "release", at=at, retry_at=retry_at)
            lane.drained = False
            self._resume(lane, at_latest=_monotonic() + decision.delay)
        else:
            # Meta's own words for this recipient; the bulk's stop reason explains the rest.
            text = outcome.title or decision.reason
            message = decision.reason if decision.action == "give_up" else text
            self._record(
                lane, recipient, "refuse", at=at, error_code=decision.meta_code, message=message
            )
            if decision.action == "stop":
                self._stop_lanes(lane, decision)

    def _record(
        self,
        lane: _Lane,
        recipient: ClaimedRecipient,
        kind: Literal["accept", "refuse", "release"],
        *,
        at: datetime,
        wamid: str | None = None,
        error_code: int | None = None,
        message: str | None = None,
        retry_at: datetime | None = None,
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
            )
        )

    # -- stopping --------------------------------------------------------------------------------

    def _stop_lanes(self, cause: _Lane, decision: RetryDecision) -> None:
        concerned = [cause]
        if decision.meta_code not in _TEMPLATE_STOP_CODES:
            concerned = list(self._lanes.values())
        for lane in concerned:
            if lane.state != "active":
                continue
            lane.state = "stopping"
            self._track(asyncio.create_task(self._stop_lane(lane, decision.reason)))

    async def _stop_lane(self, lane: _Lane, reason: str) -> None:
        if self._scheduler is not None:
            self._scheduler.remove_bulk(lane.id)
        try:
            # Stopped first, so that what it had claimed but not sent is released as skipped.
            await self._stop_in_store(lane.id, reason)
        except Exception:
            logger.exception("Could not stop bulk send %s (%s)", lane.id, reason)
        self._drop(lane)

    async def _stop_in_store(self, bulk_id: BulkId, reason: str) -> None:
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
        self._parts.bus.publish(bulk.id, bulk)

    async def _publish_current(self, bulk_id: BulkId) -> None:
        bulk = await self._parts.bulks.get_bulk(bulk_id)
        if bulk is not None:
            self._parts.bus.publish(bulk.id, bulk)

    def _monotonic_of(self, when: datetime) -> float:
        return _monotonic() + (when - self._parts.clock.now()).total_seconds()


def _monotonic() -> float:
    return asyncio.get_running_loop().time()


def _rate_cap(bulk: Bulk, number: PhoneNumber) -> float | None:
    try:
        pacing = parse_pacing(bulk.pacing)
    except InvalidRequest:  # stored before the rule changed: the number's own rate
        pacing = parse_pacing(None)
    return bulk_rate_cap(pacing, number.messaging_limit_tier)
