"""A number's throughput or messaging tier changes while it sends (Meta's account webhooks):
``BulkEngine.refresh_number`` makes its runner apply the new limits at once. Measured exactly on
a virtual-time event loop."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime

import pytest

from mindo_core.delivery.webhook_payloads import NumberQualityChange
from mindo_core.domain.accounts import PhoneNumber
from mindo_core.engine.bulk_engine import EngineSettings
from tests.bulk_fakes import (
    NUMBER,
    WABA,
    BulkWorld,
    eventually,
    number_info,
    run_world_virtually,
)

START = datetime(2026, 11, 24, 12, 0, tzinfo=UTC)
SETTINGS = EngineSettings(seed=5)
MARGIN = 1 + SETTINGS.margin_seconds


def virtual(test: Callable[[BulkWorld], Awaitable[None]], **world_options: object) -> None:
    run_world_virtually(test, start=START, settings=SETTINGS, **world_options)


async def the_number(world: BulkWorld) -> PhoneNumber:
    found = await world.stores.accounts.find_sender(world.principal.organisation.id, NUMBER)
    assert found is not None
    return found[0]


async def change_number(world: BulkWorld, *, tier: str, throughput: str) -> PhoneNumber:
    """What the webhook ingest does: the store first, then the engine is told."""
    number = await the_number(world)
    updated = await world.stores.accounts.upsert_phone_number(
        number.business_account_id, number_info(NUMBER, tier=tier, throughput=throughput)
    )
    world.engine.refresh_number(updated.id)
    return updated


async def sent_at_least(world: BulkWorld, count: int) -> None:
    async def enough() -> bool:
        return len(world.meta.call_times) >= count

    await eventually(enough, limit=3600)


def test_a_number_upgraded_to_high_sends_at_1000_per_second_from_then_on() -> None:
    async def scenario(world: BulkWorld) -> None:
        bulk = await world.submit(600)
        await world.engine.start()
        await sent_at_least(world, 100)
        changed_at = world.meta.call_times[-1]

        await change_number(world, tier="TIER_100000", throughput="HIGH")
        await world.finished(bulk, limit=3600)

        times = world.meta.call_times
        before = [t for t in times if t <= changed_at]
        after = [t for t in times if t > changed_at]
        assert len(times) == 600
        # STANDARD before: 80 a second.
        assert before[-1] - before[0] == pytest.approx((len(before) - 1) * MARGIN / 80, rel=0.02)
        # HIGH after, at once: 1,000 a second (a handful may catch up at the start).
        assert after[-1] - after[0] == pytest.approx((len(after) - 1) * MARGIN / 1000, rel=0.02)

    virtual(scenario, throughput="STANDARD", tier="TIER_100000")


def test_a_bulk_paced_by_tier_takes_the_spacing_of_the_new_tier() -> None:
    async def scenario(world: BulkWorld) -> None:
        bulk = await world.submit(60, pacing="tier")
        await world.engine.start()
        await sent_at_least(world, 20)
        changed_at = world.meta.call_times[-1]

        # TIER_1000: one message every 0.06 s; TIER_2K: every 0.03 s.
        await change_number(world, tier="TIER_2K", throughput="STANDARD")
        await world.finished(bulk, limit=3600)

        times = world.meta.call_times
        before = [t for t in times if t <= changed_at]
        after = [t for t in times if t > changed_at]
        assert before[-1] - before[0] == pytest.approx((len(before) - 1) * 0.06, rel=0.02)
        assert after[-1] - after[0] == pytest.approx((len(after) - 1) * 0.03, rel=0.02)

    virtual(scenario, throughput="STANDARD", tier="TIER_1000")


def test_refreshing_a_number_without_sends_changes_nothing() -> None:
    async def scenario(world: BulkWorld) -> None:
        await world.engine.start()
        number = await the_number(world)

        world.engine.refresh_number(number.id)  # no runner: nothing to do, nothing raised

        bulk = await world.submit(3)
        done = await world.finished(bulk)
        assert done.counters.sent == 3

    virtual(scenario)


async def raise_tier(world: BulkWorld, tier: str) -> None:
    """Meta's phone_number_quality_update, applied as the webhook ingest applies it."""
    events = world.account_events()
    number = await the_number(world)
    await events.apply(
        NumberQualityChange(
            waba_id=WABA,
            display_phone_number=number.display_phone_number,
            event="UPGRADE",
            messaging_limit=tier,
        )
    )


def test_a_bulk_waiting_for_quota_goes_on_at_once_when_the_tier_rises() -> None:
    async def scenario(world: BulkWorld) -> None:
        bulk = await world.submit(60)  # TIER_50: 50 now, 10 in 24 hours
        assert bulk.estimated_time_minutes > 23 * 60
        await world.engine.start()
        await sent_at_least(world, 50)
        started = world.clock.monotonic()

        await raise_tier(world, "TIER_250")
        replanned = await world.bulk(bulk)
        done = await world.finished(bulk, limit=3600)

        assert done.counters.sent == 60
        assert world.clock.monotonic() - started < 5.0
        assert replanned.estimated_time_minutes < 1.0

    virtual(scenario, throughput="STANDARD", tier="TIER_50")


def test_a_tier_that_does_not_rise_leaves_the_plan_alone() -> None:
    async def scenario(world: BulkWorld) -> None:
        bulk = await world.submit(60)
        await world.engine.start()
        await sent_at_least(world, 50)

        await raise_tier(world, "TIER_50")  # the same tier: nothing rose
        await asyncio.sleep(3600)  # virtual: an hour later, the 10 still wait for their slots

        kept = await world.bulk(bulk)
        assert kept.estimated_time_minutes == bulk.estimated_time_minutes
        assert (kept.counters.sent, kept.counters.pending) == (50, 10)

    virtual(scenario, throughput="STANDARD", tier="TIER_50")


def test_a_raised_tier_re_plans_waiting_bulks_without_taking_one_another_s_room() -> None:
    async def scenario(world: BulkWorld) -> None:
        first = await world.submit(200)  # TIER_50: 50 now, 150 waiting
        second = await world.submit(100, first=1000)  # the first is owed 200: all 100 wait

        await raise_tier(world, "TIER_250")

        now = world.clock.now()
        due = {
            bulk.id: sum(
                r.not_before is None or r.not_before <= now for r in await world.recipients(bulk)
            )
            for bulk in (first, second)
        }
        # Each re-planned against the window and what the other bulk is owed, counted as sent
        # now: 150 of the first fit beside the second's 100, then 50 of the second beside the
        # first's 200. Never more than the new limit due at once.
        assert due == {first.id: 150, second.id: 50}
        assert sum(due.values()) <= 250

    virtual(scenario, throughput="STANDARD", tier="TIER_50")
