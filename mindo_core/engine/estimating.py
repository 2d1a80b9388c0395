"""A sending bulk's estimate, re-planned from what it does and stored for every process to show.

Each lane keeps its ``live_pace.LivePace``: when its recipients were settled for good (the last
window's worth) and which wait for a retry, until when. ``Estimating`` turns it, with the bulk's
counters as the store has them, into ``throughput.live_estimate.remaining_seconds``, and writes the
resulting completion time on the bulk at most every ``EngineSettings.estimate_interval`` seconds
per bulk (one small write: the hot path's batches are not touched), then publishes the snapshot
so that watchers see it with the progress. While the bulk waits for quota the plan made at
submission (or by the last quota re-plan) places each recipient at its slot: it stands.
"""

from __future__ import annotations

import logging
from datetime import timedelta

from mindo_core.engine.lanes import Lane, NumberLanes
from mindo_core.engine.parts import EngineParts
from mindo_core.throughput.live_estimate import SendingNow, remaining_seconds

__all__ = ["TAIL_SECONDS", "Estimating"]

logger = logging.getLogger("mindo.bulk_engine")

# The last answer, the last outcome write and the finish, after the last send starts.
TAIL_SECONDS = 0.2


class Estimating:
    def __init__(self, parts: EngineParts, number: NumberLanes) -> None:
        self._parts = parts
        self._number = number

    def after_answer(self, lane: Lane) -> None:
        """An answer was settled: re-plan the lane's estimate if its interval has passed.
        Never waits."""
        pace = lane.pace
        now = self._parts.clock.monotonic()
        if pace.publishing or now < pace.next_estimate_at or lane.state != "active":
            return
        if pace.quota_due_at is not None and pace.quota_due_at > now:
            return
        pace.publishing = True
        pace.next_estimate_at = now + self._parts.settings.estimate_interval
        self._number.spawn(self._publish(lane))

    async def _publish(self, lane: Lane) -> None:
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
                )
            )
            completion = parts.clock.now() + timedelta(seconds=seconds)
            updated = await parts.bulks.set_estimated_completion(lane.id, completion)
            if updated is not None:
                parts.progress.publish(updated.id, updated)
        except Exception:  # an estimate is never worth stopping a send for
            logger.exception("Could not re-plan the estimate of bulk send %s", lane.id)
        finally:
            lane.pace.publishing = False

    def _planned_rate(self, lane: Lane, now: float) -> float:
        """The number's current rate, shared fairly between its lanes, within the bulk's cap."""
        scheduler = self._number.scheduler
        rate = 1.0 if scheduler is None else scheduler.current_rate(now)
        sharing = sum(1 for other in self._number.lanes.values() if other.state == "active")
        rate /= max(1, sharing)
        if lane.cap is not None:
            rate = min(rate, lane.cap)
        return max(rate, 1e-6)
