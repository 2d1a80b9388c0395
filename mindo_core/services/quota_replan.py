"""A raised messaging tier re-plans the bulks waiting for quota on that number.

At submission, the recipients beyond the room in the rolling 24 h window wait until the slot
they will take frees (``not_before``). When Meta raises the tier (an account webhook), that
plan is too cautious: each running bulk of the number is planned again against the window as
it is now and the new tier, the same way as at submission (``quota.window``): its pending
recipients in position order, the first that fit going at once, the rest waiting for the
refills. Only the waits that change are written, with the bulk's new estimate (and its
estimated completion, counted from now), and the new
snapshot is published. As a submission, each bulk is planned under the organisation's quota
hold (``QuotaLedger.holding``) against the window and what others are owed (the other running
bulks' pending recipients, single sends in flight), counted as sent now.

A lowered tier re-plans nothing: the engine's recipients already planned keep their times.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

from mindo_core.bulks.model import Bulk, planned_completion_at
from mindo_core.domain.accounts import PhoneNumber
from mindo_core.domain.clock import Clock
from mindo_core.domain.tiers import QUOTA_WINDOW, tier_or_default
from mindo_core.ports.bulks import BulkStore, PendingRecipient
from mindo_core.ports.progress import ProgressBus
from mindo_core.ports.quota import QuotaLedger
from mindo_core.quota.window import QuotaPlan, plan_quota, recipient_waits
from mindo_core.throughput.pacing import SendTiming, bulk_rate_cap_for, estimate_seconds

__all__ = ["QuotaReplan", "tier_rose"]


def tier_rose(before: str, after: str) -> bool:
    """Whether ``after``'s daily limit is higher than ``before``'s (unlimited is highest)."""
    old, new = tier_or_default(before).daily_limit, tier_or_default(after).daily_limit
    if old is None:
        return False
    return new is None or new > old


class QuotaReplan:
    def __init__(
        self,
        *,
        bulks: BulkStore,
        quota: QuotaLedger,
        clock: Clock,
        progress: ProgressBus,
        timing: SendTiming | None = None,
    ) -> None:
        self._bulks = bulks
        self._quota = quota
        self._clock = clock
        self._bus = progress
        self._timing = timing or SendTiming()

    async def __call__(self, number: PhoneNumber) -> list[Bulk]:
        """Re-plans the running bulks of ``number`` (as the store has it now); returns those
        whose plan changed."""
        changed: list[Bulk] = []
        for bulk in await self._bulks.bulks_to_run(number.id):
            replanned = await self._replan(bulk, number)
            if replanned is not None:
                self._bus.publish(replanned.id, replanned)
                changed.append(replanned)
        return changed

    async def resumed(self, bulk: Bulk, number: PhoneNumber) -> Bulk:
        """A bulk resumed after a pause: planned again from now, its estimate always new."""
        replanned = await self._replan(bulk, number, new_estimate=True)
        return bulk if replanned is None else replanned

    async def _replan(
        self, bulk: Bulk, number: PhoneNumber, *, new_estimate: bool = False
    ) -> Bulk | None:
        pending = await self._bulks.pending_recipients(bulk.id)
        now = self._clock.now()
        waiting = any(p.not_before is not None and p.not_before > now for p in pending)
        if not (waiting or new_estimate):
            return None  # nothing waits for quota
        wa_ids = [p.e164.removeprefix("+") for p in pending]
        since = now - QUOTA_WINDOW
        async with self._quota.holding(bulk.organisation_id, since=since) as book:
            others = book.owed_outside_window() - set(wa_ids)
            taken = book.window.keys() | others
            plan = plan_quota(
                tier_or_default(number.messaging_limit_tier),
                already_messaged=taken,
                window_entries=list(book.window.values()),
                candidates=wa_ids,
                now=now,
                owed=len(others),
            )
            waits = recipient_waits(plan, wa_ids, taken)
            moved = {
                p.position: wait
                for p, wait in zip(pending, waits, strict=True)
                if _sooner(wait, p.not_before)
            }
            if not (moved or new_estimate):
                return None
            minutes = self._estimate_minutes(bulk, number, pending, plan, now)
            replanned = await self._bulks.replan_waits(
                bulk.id, moved, estimated_time_minutes=minutes
            )
        completion = planned_completion_at(now, minutes)
        return await self._bulks.set_estimated_completion(bulk.id, completion) or replanned

    def _estimate_minutes(
        self,
        bulk: Bulk,
        number: PhoneNumber,
        pending: Sequence[PendingRecipient],
        plan: QuotaPlan,
        now: datetime,
    ) -> float:
        """Minutes from now until the bulk is complete, as a submission estimates them (the
        time already spent is not counted again)."""
        timing = self._timing
        rate = timing.number_rate(timing.throughput(number.throughput_level))
        own_cap = timing.bulk_rate(bulk_rate_cap_for(bulk.pacing, number.messaging_limit_tier))
        if own_cap is not None:
            rate = min(rate, own_cap)
        seconds = estimate_seconds(
            len(pending),
            rate,
            quota_available=plan.sendable_now,
            quota_refills=plan.refill_offsets(now),
        )
        return (seconds + timing.overhead_seconds) / 60.0


def _sooner(wait: datetime | None, planned: datetime | None) -> bool:
    """A raised tier only ever lets a recipient go sooner than it was planned to."""
    if planned is None:
        return False
    return wait is None or wait < planned
