"""The engine's sweep of unknown outcomes, over the in-memory stores and a scripted Meta: a
recipient whose call got no answer is resent by the policy ``resend`` once a later message's
webhook is a window old (its finished bulk sends again and completes), and failed with a reason
by the default policy ``fail``; nothing is settled before the window."""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import replace
from datetime import UTC, datetime, timedelta

import pytest

from mindo_core.bulks.model import Bulk
from mindo_core.bulks.unknown_outcomes import settled_unknown_reason
from mindo_core.delivery.webhook_payloads import StatusUpdate
from mindo_core.domain.clock import FixedClock
from mindo_core.domain.errors import MetaUnavailable
from mindo_core.engine.unknown_sweep import UnknownSweep
from mindo_core.ports.bulks import UnknownSettled
from tests.bulk_fakes import FAST, NUMBER, BulkWorld, bulk_world, eventually, phone

T0 = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)
SWEEPING = replace(FAST, unknown_sweep_interval=0.01)


@pytest.fixture
async def world() -> AsyncIterator[BulkWorld]:
    world = await bulk_world(clock=FixedClock(T0), settings=SWEEPING)
    yield world
    await world.engine.stop()


def wa_id(i: int) -> str:
    return phone(i).removeprefix("+")


async def one_unknown_then_a_later_message_heard(world: BulkWorld) -> Bulk:
    """A bulk whose one recipient's call got no answer; a second later another bulk's message
    is sent and its first webhook heard."""
    clock = world.clock
    assert isinstance(clock, FixedClock)
    world.meta.scripts[wa_id(0)] = [
        MetaUnavailable("no answer before the timeout", maybe_sent=True)
    ]
    unknown = await world.submit(1, first=0)
    await world.engine.start()
    await world.finished(unknown)
    clock.advance(1)
    later = await world.finished(await world.submit(1, first=1))
    assert later.counters.sent == 1
    heard = StatusUpdate(
        wamid=f"wamid.{wa_id(1)}.1",
        status="delivered",
        at=clock.now(),
        recipient_id=wa_id(1),
        phone_number_id=NUMBER,
    )
    await world.stores.delivery.apply_statuses([heard], received_at=clock.now())
    return unknown


async def test_resend_sends_it_again_once_the_later_webhook_is_a_window_old(
    world: BulkWorld,
) -> None:
    organisation = world.principal.organisation.id
    await world.services.unknown_outcome_settings.update(
        organisation, action="resend", window=timedelta(minutes=2)
    )
    bulk = await one_unknown_then_a_later_message_heard(world)
    assert isinstance(world.clock, FixedClock)

    world.clock.advance(120)

    async def resent() -> bool:
        found = await world.stores.bulks.get_bulk(bulk.id)
        return found is not None and found.status == "COMPLETED"

    await eventually(resent)
    done = await world.bulk(bulk)
    assert (done.counters.sent, done.resent_count) == (1, 1)
    assert world.meta.attempts[wa_id(0)] == 2
    [recipient] = await world.recipients(bulk)
    assert (recipient.state, recipient.resent_at) == ("sent", T0 + timedelta(seconds=121))


async def test_fail_fails_it_with_its_reason_and_not_before_the_window() -> None:
    world = await bulk_world(clock=FixedClock(T0))  # the engine's own sweep waits 30 s
    try:
        bulk = await one_unknown_then_a_later_message_heard(world)
        clock = world.clock
        assert isinstance(clock, FixedClock)
        woken: list[bool] = []
        sweep = UnknownSweep(
            recipients=world.stores.unknown_recipients,
            policies=world.stores.unknown_outcome_policies,
            clock=clock,
            progress=world.progress,
            interval=30,
            wake=lambda: woken.append(True),
        )

        clock.advance(599)
        early = await sweep.sweep()
        clock.advance(1)
        settled = await sweep.sweep()
    finally:
        await world.engine.stop()

    assert (early, settled) == (UnknownSettled(), UnknownSettled(failed=1))
    [recipient] = await world.recipients(bulk)
    assert (recipient.state, recipient.failed_at) == ("unconfirmed", T0 + timedelta(seconds=601))
    assert recipient.error_message == settled_unknown_reason(timedelta(minutes=10))
    assert (world.meta.attempts[wa_id(0)], woken) == (1, [])
    shown = (await world.bulk(bulk)).counters
    assert (shown.failed, shown.pending) == (1, 0)
