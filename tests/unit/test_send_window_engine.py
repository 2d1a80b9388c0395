"""A bulk with a send window under the engine, in virtual time: nothing goes before the window
opens in the recipients' local time, and what the window's close leaves unsent goes at the next
opening, each recipient once. The recipients are Buenos Aires mobiles (UTC-3): the clock starts
at 12:00 UTC, 09:00 there."""

from __future__ import annotations

import asyncio
from collections import Counter
from datetime import UTC, datetime

from mindo_core.engine.bulk_engine import EngineSettings
from mindo_core.services.submit_bulk import SubmitBulkCommand
from tests.bulk_fakes import NUMBER, BulkWorld, order, run_world_virtually

START = datetime(2026, 11, 24, 12, 0, tzinfo=UTC)
HOUR = 3600.0


def virtual(test: object) -> None:
    settings = EngineSettings(seed=3, poll_interval=30.0)
    run_world_virtually(test, start=START, settings=settings)  # type: ignore[arg-type]


async def submit(world: BulkWorld, count: int, window: tuple[str, str], pacing: str) -> str:
    command = SubmitBulkCommand(
        phone_number_id=NUMBER,
        template_name="order_update",
        recipients=[order(i) for i in range(count)],
        pacing=pacing,
        send_window=window,
    )
    submitted = await world.services.submit_bulk(world.principal, command)
    return submitted.bulk.id


def test_nothing_is_sent_before_the_window_opens_in_the_recipients_time() -> None:
    async def scenario(world: BulkWorld) -> None:
        await world.engine.start()
        bulk_id = await submit(world, 5, ("09:30", "10:00"), pacing="max")
        accepted = await world.stores.bulks.get_bulk(bulk_id)
        assert accepted is not None

        await asyncio.sleep(0.5 * HOUR - 1)  # virtual: a second before 09:30 there
        calls_before = list(world.meta.calls)
        done = await world.finished(accepted, limit=HOUR, every=1)

        assert calls_before == []
        assert done.status == "COMPLETED"
        assert min(world.meta.call_times) >= 0.5 * HOUR
        assert set(Counter(world.meta.calls).values()) == {1}
        assert accepted.estimated_time_minutes >= 30
        assert done.send_window is not None
        assert f"{done.send_window.start:%H:%M}" == "09:30"

    virtual(scenario)


def test_the_close_leaves_the_rest_for_the_next_morning() -> None:
    async def scenario(world: BulkWorld) -> None:
        await world.engine.start()
        # Open now until 09:01 there; one message every 40 s: two fit, two wait for tomorrow.
        bulk_id = await submit(world, 4, ("08:00", "09:01"), pacing="0.025")
        accepted = await world.stores.bulks.get_bulk(bulk_id)
        assert accepted is not None

        done = await world.finished(accepted, limit=30 * HOUR, every=60)

        today = [t for t in world.meta.call_times if t < HOUR]
        tomorrow = [t for t in world.meta.call_times if t >= HOUR]
        assert done.status == "COMPLETED"
        assert len(today) == 2
        assert max(today) < 61 + 1  # the claim ahead of a send is a fraction of a second
        assert len(tomorrow) == 2
        assert min(tomorrow) >= 23 * HOUR  # 08:00 there, 11:00 UTC the next day
        assert set(Counter(world.meta.calls).values()) == {1}
        assert accepted.estimated_time_minutes >= 23 * 60

    virtual(scenario)
