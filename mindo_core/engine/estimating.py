"""A sending bulk's estimate, re-planned from what it does and stored for every process to show.

Each lane keeps its ``live_pace.LivePace``: what it settled lately, what waits for a retry, how
long retry chains took. ``Estimating`` turns it, with the bulk's counters as the store has them,
into ``throughput.live_estimate.remaining_seconds``, and writes the resulting completion time
on the bulk at most every ``EngineSettings.estimate_interval`` seconds per bulk (one small
write: the hot path's batches are not touched), then publishes the snapshot so that watchers
see it with the progress. An answer arriving within the interval is re-planned at its end, so
the last answer before a quiet wait (a retry far ahead) is always shown. While the bulk waits
for quota the plan made at submission (or by the last quota re-plan) places each recipient at
its slot: it stands, and while the bulk sends its recipients due at once the live figure is
never earlier than that plan (a plan far longer than its sends alone, twice and a minute, is
one that waits).
"""

from __future__ import annotations

import asyncio
import logging
from datetime import datetime, timedelta

from mindo_core.bulks.model import Bulk
from mindo_core.engine.lanes import Lane, NumberLanes
from mindo_core.engine.parts import EngineParts
from mindo_core.throughput.live_estimate import SendingNow, remaining_seconds

__all__ = ["TAIL_SECONDS", "Estimating", "waiting_plan"]

logger = logging.getLogger("mindo.bulk_engine")

# The last answer, the last outcome write and the finish, after the last send starts.
TAIL_SECONDS = 0.2


class Estimating:
    def __init__(self, parts: EngineParts, number: NumberLanes) -> None:
        self._parts = parts
        self._number = number
        self._timers: set[asyncio.Task[None]] = set()

    def after_answer(self, lane: Lane) -> None:
        """An answer was settled: the lane's estimate is re-planned now, or at the end of its
        interval if one was shown less than an interval ago (or once the re-plan under way is
        written, when it began before this answer). Never waits."""
        pace = lane.pace
        pace.answered_since_plan = True
        if pace.publishing or lane.state != "active":
            return
        pace.publishing = True
        delay = max(0.0, pace.next_estimate_at - self._parts.clock.monotonic())
        timer = asyncio.create_task(self._replan(lane, delay))
        self._timers.add(timer)
        timer.add_done_callback(self._timers.discard)

    async def close(self) -> None:
        """No re-plan waits any more (one writing finishes first)."""
        for timer in set(self._timers):
            timer.cancel()
        await asyncio.gather(*self._timers, return_exceptions=True)

    async def _replan(self, lane: Lane, delay: float) -> None:
        pace = lane.pace
        try:
            if delay > 0:
                await asyncio.sleep(delay)
            now = self._parts.clock.monotonic()
            pace.next_estimate_at = now + self._parts.settings.estimate_interval
            pace.answered_since_plan = False
            if lane.state != "active" or (
                pace.quota_due_at is not None and pace.quota_due_at > now
            ):
                return
            # As the outcome buffer does: a write cut by a cancellation could keep SQLite's lock.
            writing = asyncio.ensure_future(self._write(lane))
            try:
                await asyncio.shield(writing)
            except asyncio.CancelledError:
                await asyncio.wait([writing])
                raise
        finally:
            pace.publishing = False
        # An answer that came while this one wrote (the last before a long retry wait, say)
        # would otherwise not be shown until the next answer.
        if pace.answered_since_plan:
            self.after_answer(lane)

    async def _write(self, lane: Lane) -> None:
        parts = self._parts
        try:
            bulk = await parts.bulks.get_bulk(lane.id)
            if bulk is None or bulk.status != "PROCESSING":
                return
            now = parts.clock.monotonic()
            pace = lane.pace
            seconds = remaining_seconds(
                SendingNow(
                    now=now,
                    remaining=bulk.counters.pending,
                    settled_at=tuple(pace.settled_at),
                    sending_since=pace.sending_since,
                    waits_until=tuple(pace.retries_at.values()),
                    planned_rate=self._planned_rate(lane, now),
                    tail_seconds=TAIL_SECONDS,
                    settled_count=pace.settled_count,
                    retry_chains=tuple(pace.retry_chains),
                )
            )
            completion = parts.clock.now() + timedelta(seconds=seconds)
            if not pace.floor_read:
                pace.floor_read = True
                pace.plan_floor = waiting_plan(bulk, self._planned_rate(lane, now))
            if pace.plan_floor is not None:
                completion = max(completion, pace.plan_floor)
            updated = await parts.bulks.set_estimated_completion(lane.id, completion)
            if updated is not None:
                parts.progress.publish(updated.id, updated)
        except Exception:  # an estimate is never worth stopping a send for
            logger.exception("Could not re-plan the estimate of bulk send %s", lane.id)

    def _planned_rate(self, lane: Lane, now: float) -> float:
        """The number's current rate, shared fairly between its lanes, within the bulk's cap."""
        scheduler = self._number.scheduler
        rate = 1.0 if scheduler is None else scheduler.current_rate(now)
        sharing = sum(1 for other in self._number.lanes.values() if other.state == "active")
        rate /= max(1, sharing)
        if lane.cap is not None:
            rate = min(rate, lane.cap)
        return max(rate, 1e-6)


def waiting_plan(bulk: Bulk, rate: float) -> datetime | None:
    """The bulk's planned completion when its plan is far longer than its sends alone would
    take (it waits for quota or a send window); None otherwise."""
    planned = bulk.estimated_completion_at
    sends_alone = bulk.counters.total / rate
    if planned is None or bulk.estimated_time_minutes * 60 <= 2 * sends_alone + 60:
        return None
    return planned
