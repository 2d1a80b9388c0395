"""The engine's sweep of unknown outcomes, on virtual time: a recipient whose call was cut by a
crash, whose number's later calls have had their webhooks for the organisation's window, is
failed or resent once, by the organisation's policy; its own webhook confirms it instead."""

from __future__ import annotations

import asyncio
from collections import Counter
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime, timedelta
from typing import Literal

from mindo_core.bulks.model import Bulk
from mindo_core.bulks.unknown_outcomes import NOT_AT_META_REASON
from mindo_core.delivery.webhook_payloads import StatusUpdate
from mindo_core.engine.bulk_engine import EngineSettings
from mindo_core.engine.bulk_messages import callback_data
from mindo_core.ports.bulks import ClaimedRecipient
from tests.bulk_fakes import NUMBER, BulkWorld, run_world_virtually

START = datetime(2026, 12, 7, 3, 0, tzinfo=UTC)
SETTINGS = EngineSettings(seed=5, unknown_sweep_interval=10.0)
PEOPLE = 6


def virtual(test: Callable[[BulkWorld], Awaitable[None]]) -> None:
    run_world_virtually(test, start=START, settings=SETTINGS)


def wa_id(i: int) -> str:
    return f"54911{50_000_000 + i}"


async def _crash_cut_the_first_call(world: BulkWorld) -> tuple[Bulk, ClaimedRecipient]:
    """A previous process started the call of the bulk's first recipient and died; Meta never
    received it. The engine then sends the others."""
    bulk = await world.submit(PEOPLE)
    (cut,) = await world.stores.bulks.claim_recipients(
        bulk.id, worker="dead", limit=1, now=world.clock.now()
    )
    cut_at = world.clock.now() - timedelta(seconds=1)  # the previous process's last moments
    await world.stores.bulks.mark_calls_started([cut.message_id], worker="dead", now=cut_at)
    await world.engine.start()
    done = await world.finished(bulk)
    assert (done.status, done.counters.sent, done.counters.failed) == ("PARTIAL", PEOPLE - 1, 1)
    return bulk, cut


async def _delivered(world: BulkWorld, *, people: range, callback: str | None = None) -> None:
    now = world.clock.now()
    statuses = [
        StatusUpdate(
            wamid=f"wamid.{wa_id(i)}.1",
            status="delivered",
            at=now,
            recipient_id=wa_id(i),
            phone_number_id=NUMBER,
            callback_data=callback,
        )
        for i in people
    ]
    await world.stores.delivery.apply_statuses(statuses, received_at=now)


async def _policy(world: BulkWorld, policy: Literal["fail", "resend"]) -> None:
    await world.services.organisations.update_profile(
        "Acme", unknown_outcome_policy=policy, unknown_outcome_window_minutes=2
    )


def test_with_policy_resend_the_unknown_recipient_is_sent_once_more_and_marked() -> None:
    async def test(world: BulkWorld) -> None:
        await _policy(world, "resend")
        bulk, _ = await _crash_cut_the_first_call(world)
        await asyncio.sleep(60)
        await _delivered(world, people=range(1, PEOPLE))
        await asyncio.sleep(100)  # within the window: nothing yet
        assert wa_id(0) not in world.meta.calls
        await asyncio.sleep(40)  # past it, and a sweep

        done = await world.finished(bulk)
        first = (await world.recipients(bulk))[0]
        assert Counter(world.meta.calls) == {wa_id(i): 1 for i in range(PEOPLE)}
        assert (first.state, first.resent, first.attempts) == ("sent", True, 2)
        assert (done.status, done.counters.sent, done.resent_count) == ("COMPLETED", PEOPLE, 1)

    virtual(test)


def test_with_policy_fail_the_unknown_recipient_fails_saying_why() -> None:
    async def test(world: BulkWorld) -> None:
        await _policy(world, "fail")
        bulk, _ = await _crash_cut_the_first_call(world)
        await _delivered(world, people=range(1, PEOPLE))
        await asyncio.sleep(150)

        first = (await world.recipients(bulk))[0]
        done = await world.bulk(bulk)
        assert wa_id(0) not in world.meta.calls
        assert (first.state, first.error_message) == ("failed", NOT_AT_META_REASON)
        assert (done.status, done.resent_count) == ("PARTIAL", 0)

    virtual(test)


def test_without_later_webhooks_nothing_is_decided() -> None:
    async def test(world: BulkWorld) -> None:
        await _policy(world, "resend")
        bulk, _ = await _crash_cut_the_first_call(world)
        await asyncio.sleep(timedelta(hours=2).total_seconds())

        assert (await world.recipients(bulk))[0].state == "unconfirmed"
        assert wa_id(0) not in world.meta.calls

    virtual(test)


def test_its_own_webhook_confirms_it_and_it_is_never_resent() -> None:
    async def test(world: BulkWorld) -> None:
        await _policy(world, "resend")
        bulk, cut = await _crash_cut_the_first_call(world)
        # Meta did receive it after all: its status names it through its callback data.
        await _delivered(world, people=range(0, 1), callback=callback_data(bulk.id, cut.message_id))
        await _delivered(world, people=range(1, PEOPLE))
        await asyncio.sleep(150)

        first = (await world.recipients(bulk))[0]
        assert (first.state, first.resent) == ("delivered", False)
        assert wa_id(0) not in world.meta.calls
        done = await world.bulk(bulk)
        assert (done.status, done.counters.failed, done.resent_count) == ("COMPLETED", 0, 0)

    virtual(test)
