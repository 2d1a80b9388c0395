"""The bulk engine's pace, measured exactly on a virtual-time event loop: the number's
throughput is never exceeded in any one-second window, the estimate holds, pacing caps a bulk,
quota waits end when the window frees room, and Meta's "slow down" is obeyed."""

from __future__ import annotations

import asyncio
import itertools
import statistics
from collections.abc import Awaitable, Callable
from dataclasses import replace
from datetime import UTC, datetime, timedelta

import pytest

from mindo_core.domain.messages import NewMessage
from mindo_core.engine.bulk_engine import EngineSettings
from mindo_core.services.submit_bulk import SubmitBulk
from mindo_core.throughput.pacing import SendTiming
from tests.bulk_fakes import (
    NUMBER,
    BulkWorld,
    meta_error,
    phone,
    run_world_virtually,
)

START = datetime(2026, 11, 24, 12, 0, tzinfo=UTC)
SETTINGS = EngineSettings(seed=3)
MARGIN = 1 + SETTINGS.margin_seconds
EXACT = SendTiming(margin_seconds=SETTINGS.margin_seconds, late_seconds=0, overhead_seconds=0)


def virtual(test: Callable[[BulkWorld], Awaitable[None]], **world_options: object) -> None:
    run_world_virtually(test, start=START, settings=SETTINGS, **world_options)


def exact_estimates(
    test: Callable[[BulkWorld], Awaitable[None]],
) -> Callable[[BulkWorld], Awaitable[None]]:
    """Virtual time has no late sends and no start-up cost: the world estimates for an exact
    engine (``bench/estimate_accuracy.py`` measures the real one against the default timing)."""

    async def test_exactly(world: BulkWorld) -> None:
        submit = SubmitBulk(
            accounts=world.stores.accounts,
            templates=world.stores.templates,
            bulks=world.stores.bulks,
            quota=world.stores.quota_ledger,
            idempotency=world.stores.idempotency,
            clock=world.clock,
            waker=world.engine,
            timing=EXACT,
        )
        world.services = replace(world.services, submit_bulk=submit)
        await test(world)

    return test_exactly


def most_in_one_second(times: list[float]) -> int:
    most, first = 0, 0
    for last, at in enumerate(times):
        while at - times[first] >= 1.0:
            first += 1
        most = max(most, last - first + 1)
    return most


def test_a_standard_number_never_sends_more_than_80_in_any_second() -> None:
    async def scenario(world: BulkWorld) -> None:
        bulk = await world.submit(400)
        await world.engine.start()
        await world.finished(bulk, limit=60)

        times = world.meta.call_times
        assert len(times) == 400
        # Never more than 80; with the 2 % margin, evenly spaced sends put 79 in a second.
        assert 78 <= most_in_one_second(times) <= 80
        # A send may start up to 1 ms before its slot (timers are late, never early).
        assert min(b - a for a, b in itertools.pairwise(times)) >= MARGIN / 80 - 0.001

    virtual(scenario, throughput="STANDARD")


@pytest.mark.parametrize(
    ("throughput", "tier", "pacing", "count"),
    [
        ("STANDARD", "TIER_100000", None, 1000),
        ("HIGH", "TIER_100000", None, 1500),
        ("STANDARD", "TIER_1000", "tier", 1000),
        ("HIGH", "TIER_100000", "250", 1000),
    ],
)
def test_the_estimate_is_within_ten_percent_of_the_actual_time(
    throughput: str, tier: str, pacing: str | None, count: int
) -> None:
    async def scenario(world: BulkWorld) -> None:
        bulk = await world.submit(count, pacing=pacing)
        await world.engine.start()
        began = world.meta.call_times[0] if world.meta.call_times else 0.0
        await world.finished(bulk, limit=3600)

        actual = world.meta.call_times[-1] - began
        assert actual == pytest.approx(bulk.estimated_time_minutes * 60, rel=0.01)

    virtual(exact_estimates(scenario), throughput=throughput, tier=tier)


@pytest.mark.parametrize("pacing", [None, "30"])
def test_the_estimate_of_a_bulk_joining_a_busy_number_counts_what_the_other_still_sends(
    pacing: str | None,
) -> None:
    async def scenario(world: BulkWorld) -> None:
        first = await world.submit(800)
        await world.engine.start()
        loop = asyncio.get_running_loop()
        await asyncio.sleep(4.0)  # the first has some 480 recipients left
        joined = loop.time()
        second = await world.submit(800, first=1000, pacing=pacing)
        await world.finished(first, limit=60)
        await world.finished(second, limit=60)

        second_sends = [
            t
            for t, to in zip(world.meta.call_times, world.meta.calls, strict=True)
            if int(to[-4:]) >= 1000
        ]
        actual = second_sends[-1] - joined
        alone = 799 * MARGIN / (80 if pacing is None else 30)
        estimate = second.estimated_time_minutes * 60
        assert actual == pytest.approx(estimate, rel=0.02)
        # Sharing at full speed takes longer than alone; capped below its share, it does not.
        assert (estimate > 1.5 * alone) if pacing is None else estimate == pytest.approx(alone)

    virtual(exact_estimates(scenario), throughput="STANDARD", tier="TIER_100000")


def test_a_pacing_cap_spaces_the_bulks_sends() -> None:
    async def scenario(world: BulkWorld) -> None:
        bulk = await world.submit(21, pacing="20")
        await world.engine.start()
        await world.finished(bulk)

        times = world.meta.call_times
        assert times[-1] - times[0] == pytest.approx(20 * MARGIN / 20, rel=0.01)

    virtual(scenario, throughput="STANDARD")


def test_a_capped_bulk_leaves_the_rest_of_the_number_to_the_other() -> None:
    async def scenario(world: BulkWorld) -> None:
        slow = await world.submit(10, pacing="10")
        fast = await world.submit(150, first=100)
        await world.engine.start()
        await world.finished(slow)
        await world.finished(fast)

        sends = list(zip(world.meta.call_times, world.meta.calls, strict=True))
        slow_times = [t for t, to in sends if int(to[-3:]) < 100]
        fast_done = max(t for t, to in sends if int(to[-3:]) >= 100)
        # Its cap on average, and never two sends closer than half its spacing (fair_share).
        assert slow_times[-1] - slow_times[0] == pytest.approx(9 / 10, rel=0.02)
        assert min(b - a for a, b in itertools.pairwise(slow_times)) >= 0.5 / 10
        # The number stays busy: the 160 sends take what 160 take at 80/s.
        assert fast_done <= 160 * MARGIN / 80

    virtual(scenario, throughput="STANDARD")


def test_recipients_beyond_the_quota_go_when_the_window_frees_room() -> None:
    async def scenario(world: BulkWorld) -> None:
        stores = world.stores
        found = await stores.accounts.find_sender(world.principal.organisation.id, NUMBER)
        assert found is not None
        number = found[0]
        template = await stores.templates.find_template(
            number.business_account_id, "order_update", "es"
        )
        assert template is not None
        # 48 of TIER_50's slots were used 23 h ago, one a minute: they free up from +1 h on.
        for i in range(48):
            sent_at = START - timedelta(hours=23) + timedelta(minutes=i)
            await stores.messages.add_message(
                NewMessage(
                    organisation_id=world.principal.organisation.id,
                    phone_number_row_id=number.id,
                    template_id=template.id,
                    recipient_phone=phone(1000 + i),
                    variables_used={},
                    wamid=f"wamid.old{i}",
                    status="sent",
                    created_at=sent_at,
                    sent_at=sent_at,
                )
            )
        bulk = await world.submit(5)
        planned = {r.e164: r.not_before for r in await world.recipients(bulk)}
        await world.engine.start()
        await world.finished(bulk, limit=2 * 24 * 3600, every=1.0)

        went = {
            f"+{to}": START + timedelta(seconds=at)
            for to, at in zip(world.meta.calls, world.meta.call_times, strict=True)
        }
        assert [planned[phone(i)] for i in range(5)] == [
            None,
            None,
            START + timedelta(hours=1),
            START + timedelta(hours=1, minutes=1),
            START + timedelta(hours=1, minutes=2),
        ]
        for e164, not_before in planned.items():
            if not_before is not None:
                assert not_before <= went[e164] < not_before + timedelta(seconds=1)
        assert bulk.estimated_time_minutes == pytest.approx(62, abs=0.1)

    virtual(scenario, tier="TIER_50")


def test_a_lone_too_fast_pauses_the_number_briefly_and_slows_it_a_tenth() -> None:
    async def scenario(world: BulkWorld) -> None:
        world.meta.scripts[phone(10).removeprefix("+")] = [meta_error(130429)]
        bulk = await world.submit(40)
        await world.engine.start()
        await world.finished(bulk, limit=60)

        times = world.meta.call_times
        refused = world.meta.calls.index(phone(10).removeprefix("+"))
        policy = SETTINGS.slow_down
        paused = times[refused + 1] - times[refused]
        assert policy.first_pause_seconds_when_calm - 0.001 <= paused < policy.first_pause_seconds
        later = times[refused + 1 :]
        gaps = [b - a for a, b in itertools.pairwise(later)]
        assert min(gaps) >= MARGIN / 72 - 0.001  # 80/s less a tenth, not halved
        assert statistics.median(gaps) < MARGIN / 40
        assert world.meta.sends_to(phone(10).removeprefix("+")) == 1

    virtual(scenario, throughput="STANDARD")


def test_too_fast_again_after_the_gentle_slow_down_pauses_a_second_and_halves_the_rate() -> None:
    async def scenario(world: BulkWorld) -> None:
        for n in (10, 20):
            world.meta.scripts[phone(n).removeprefix("+")] = [meta_error(130429)]
        bulk = await world.submit(60)
        await world.engine.start()
        await world.finished(bulk, limit=60)

        times = world.meta.call_times
        refused = world.meta.calls.index(phone(20).removeprefix("+"))
        policy = SETTINGS.slow_down
        assert times[refused + 1] - times[refused] >= policy.first_pause_seconds - 0.001
        later = times[refused + 1 :]
        assert min(b - a for a, b in itertools.pairwise(later)) >= MARGIN / 36 - 0.001

    virtual(scenario, throughput="STANDARD")


def test_a_pair_rate_refusal_delays_only_that_recipient() -> None:
    async def scenario(world: BulkWorld) -> None:
        target = phone(3).removeprefix("+")
        world.meta.scripts[target] = [meta_error(131056)]
        bulk = await world.submit(30)
        await world.engine.start()
        await world.finished(bulk, limit=60)

        attempts = [
            t for t, to in zip(world.meta.call_times, world.meta.calls, strict=True) if to == target
        ]
        others = [
            t for t, to in zip(world.meta.call_times, world.meta.calls, strict=True) if to != target
        ]
        # Meta's 4 ** 0 = 1 s after the first refusal.
        assert attempts[1] - attempts[0] >= 1.0 - 0.001
        assert others[-1] < attempts[1]
        assert world.meta.sends_to(target) == 1

    virtual(scenario, throughput="HIGH")


def test_retries_back_off_exponentially_within_their_bound() -> None:
    async def scenario(world: BulkWorld) -> None:
        target = phone(0).removeprefix("+")
        world.meta.refusals[target] = meta_error(131016, "Service unavailable")
        bulk = await world.submit(1)
        await world.engine.start()
        await world.finished(bulk, limit=600)

        times = world.meta.call_times
        assert len(times) == SETTINGS.retry.max_attempts
        waits = [b - a for a, b in itertools.pairwise(times)]
        # The pair rate (6 s) is the floor; jitter stays within the exponential bound above it.
        bounds = [max(6.0, SETTINGS.retry.base_delay_seconds * 2**k) for k in range(len(waits))]
        assert all(
            6.0 - 0.001 <= wait <= bound + 0.1 for wait, bound in zip(waits, bounds, strict=True)
        )

    virtual(scenario, throughput="HIGH")
