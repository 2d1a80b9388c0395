"""One number's lanes (one per bulk sending from it) and its scheduler: the state that the
number's runner, claiming, sending and settling share.

A lane is held when the scheduler has nothing due of it before a time (a retry, a quota wait,
a claim under way, its sends in flight); ``resume`` lifts or shortens the hold when that
changes. Every background task of the number (a claim, a send, a stop) is tracked here, so that
closing the runner can wait for them.
"""

from __future__ import annotations

import asyncio
import heapq
import math
from collections import deque
from collections.abc import Coroutine
from dataclasses import dataclass, field
from typing import Any, Literal

from mindo_core.bulks.model import Bulk, BulkId
from mindo_core.engine.bulk_messages import BulkMessages
from mindo_core.engine.live_pace import LivePace
from mindo_core.ports.bulks import ClaimedRecipient
from mindo_core.throughput.scheduler import NumberScheduler

__all__ = ["Lane", "LaneState", "NumberLanes"]

LaneState = Literal["active", "stopping", "gone"]


@dataclass(eq=False, kw_only=True)
class Lane:
    """One bulk on this number."""

    bulk: Bulk
    phone_number_id: str
    access_token: str = field(repr=False)
    messages: BulkMessages
    # The bulk's own pacing limit in messages/s, if any.
    cap: float | None
    # What it did lately, for its live estimate (monotonic seconds).
    pace: LivePace
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


class NumberLanes:
    def __init__(self) -> None:
        self.scheduler: NumberScheduler[BulkId] | None = None
        # The bulks of this number that are to run, as the supervisor last read them.
        self.assigned: dict[BulkId, Bulk] = {}
        self.lanes: dict[BulkId, Lane] = {}
        self.tasks: set[asyncio.Task[None]] = set()
        self._wake = asyncio.Event()

    def wake(self) -> None:
        self._wake.set()

    async def rest(self, seconds: float) -> None:
        """Wait ``seconds``, or less if woken (woken already: not at all)."""
        if not self._wake.is_set():
            try:
                async with asyncio.timeout(seconds):
                    await self._wake.wait()
            except TimeoutError:
                pass
        self._wake.clear()

    def spawn(self, work: Coroutine[Any, Any, None]) -> None:
        task = asyncio.create_task(work)
        self.tasks.add(task)
        task.add_done_callback(self.tasks.discard)

    def hold(self, lane: Lane, until: float) -> None:
        if self.scheduler is not None and lane.state == "active":
            self.scheduler.hold_bulk(lane.id, until)
            lane.held_until = until

    def resume(self, lane: Lane, at_latest: float | None = None) -> None:
        """A held lane may have work again: now, or from ``at_latest`` on."""
        if self.scheduler is None or lane.state != "active" or lane.held_until is None:
            return
        if at_latest is None:
            self.scheduler.resume_bulk(lane.id)
            lane.held_until = None
        elif at_latest < lane.held_until:
            self.hold(lane, at_latest)
        self.wake()

    def remove(self, lane: Lane) -> None:
        """The lane is gone: the scheduler forgets it, and so does the runner."""
        lane.state = "gone"
        if self.scheduler is not None:
            self.scheduler.remove_bulk(lane.id)
        self.lanes.pop(lane.id, None)
        self.assigned.pop(lane.id, None)
