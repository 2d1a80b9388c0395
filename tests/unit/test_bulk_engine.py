"""The bulk engine over the in-memory store and a scripted Meta: every recipient once, every
outcome recorded with Meta's words, retries bounded, stops and cancels explicit."""

from __future__ import annotations

import asyncio
from collections import Counter
from collections.abc import AsyncIterator, Sequence
from collections.abc import Set as AbstractSet
from dataclasses import replace
from datetime import datetime

import pytest

from mindo_core.adapters.memory.bulks import InMemoryBulks
from mindo_core.adapters.memory.stores import memory_stores
from mindo_core.adapters.memory.tables import Tables
from mindo_core.bulks.model import NO_ANSWER_REASON, UNCONFIRMED_REASON, Bulk, BulkId
from mindo_core.domain.errors import MetaUnavailable
from mindo_core.domain.messages import MessageId
from mindo_core.engine.bulk_engine import EngineSettings
from mindo_core.engine.bulk_messages import parse_callback_data
from mindo_core.ports.bulks import ClaimedRecipient
from tests.bulk_fakes import (
    FAST,
    NUMBER,
    OTHER_NUMBER,
    BulkWorld,
    bulk_world,
    eventually,
    meta_error,
    phone,
)


@pytest.fixture
async def world() -> AsyncIterator[BulkWorld]:
    world = await bulk_world()
    yield world
    await world.engine.stop()


def wa_id(i: int) -> str:
    return phone(i).removeprefix("+")


async def test_every_recipient_is_sent_exactly_once_and_the_bulk_completes(
    world: BulkWorld,
) -> None:
    bulk = await world.submit(120)
    await world.engine.start()

    done = await world.finished(bulk)

    assert done.status == "COMPLETED"
    assert (done.counters.sent, done.counters.failed, done.counters.pending) == (120, 0, 0)
    assert done.started_at is not None
    assert done.completed_at is not None
    assert Counter(world.meta.calls) == {wa_id(i): 1 for i in range(120)}
    recipients = await world.recipients(bulk)
    assert all(r.state == "sent" and r.wamid == f"wamid.{r.wa_id}.1" for r in recipients)


async def test_each_send_names_its_recipient_in_the_callback_data(world: BulkWorld) -> None:
    bulk = await world.submit(3)
    await world.engine.start()
    await world.finished(bulk)

    named = [parse_callback_data(s.payload["biz_opaque_callback_data"]) for s in world.meta.sent]

    assert {bulk_id for bulk_id, _ in filter(None, named)} == {bulk.id}
    assert len({message_id for _, message_id in filter(None, named)}) == 3
    assert world.meta.sent[0].payload["template"]["components"] == [
        {
            "type": "body",
            "parameters": [
                {"type": "text", "parameter_name": "order_id", "text": "ORD-0"},
                {"type": "text", "parameter_name": "status", "text": "listo"},
            ],
        }
    ]


async def test_two_bulks_on_one_number_take_turns(world: BulkWorld) -> None:
    first = await world.submit(40, first=0)
    second = await world.submit(40, first=100)
    await world.engine.start()
    await world.finished(first)
    await world.finished(second)

    lead = 0
    worst = 0
    for to in world.meta.calls:
        lead += 1 if int(to[-3:]) < 100 else -1
        worst = max(worst, abs(lead))

    assert worst <= 1


async def test_bulks_on_different_numbers_send_in_parallel(world: BulkWorld) -> None:
    first = await world.submit(30, first=0, pacing="300")
    second = await world.submit(30, first=100, pacing="300", number=OTHER_NUMBER)
    await world.engine.start()
    await world.finished(first)
    await world.finished(second)

    order = [int(to[-3:]) >= 100 for to in world.meta.calls]

    assert order.index(True) < len(order) - 1 - order[::-1].index(False)


async def test_a_transient_failure_is_retried_until_meta_accepts(world: BulkWorld) -> None:
    refused = MetaUnavailable("ClientConnectorError: connection refused", maybe_sent=False)
    world.meta.scripts[wa_id(1)] = [refused, meta_error(131000)]
    bulk = await world.submit(3)
    await world.engine.start()

    done = await world.finished(bulk)

    assert done.status == "COMPLETED"
    assert world.meta.attempts[wa_id(1)] == 3
    assert world.meta.sends_to(wa_id(1)) == 1
    retried = (await world.recipients(bulk))[1]
    assert (retried.state, retried.attempts) == ("sent", 3)


async def test_a_call_with_no_answer_is_unconfirmed_and_never_sent_again(world: BulkWorld) -> None:
    timed_out = MetaUnavailable("no answer before the timeout", maybe_sent=True)
    world.meta.scripts[wa_id(1)] = [timed_out]
    bulk = await world.submit(3)
    await world.engine.start()

    done = await world.finished(bulk)

    assert world.meta.attempts[wa_id(1)] == 1
    unknown = (await world.recipients(bulk))[1]
    assert (unknown.state, unknown.attempts) == ("unconfirmed", 1)
    assert unknown.error_message == NO_ANSWER_REASON
    assert (done.status, done.counters.sent, done.counters.failed) == ("PARTIAL", 2, 1)


async def test_with_the_crash_policy_resend_a_call_with_no_answer_is_sent_again() -> None:
    world = await bulk_world(settings=replace(FAST, crash_policy="resend"))
    try:
        timed_out = MetaUnavailable("no answer before the timeout", maybe_sent=True)
        world.meta.scripts[wa_id(1)] = [timed_out]
        bulk = await world.submit(3)
        await world.engine.start()

        done = await world.finished(bulk)
    finally:
        await world.engine.stop()

    assert world.meta.attempts[wa_id(1)] == 2
    assert (done.status, done.counters.sent) == ("COMPLETED", 3)


async def test_retries_are_bounded_and_the_last_error_is_kept(world: BulkWorld) -> None:
    world.meta.refusals[wa_id(0)] = meta_error(131000, "Something went wrong")
    bulk = await world.submit(2)
    await world.engine.start()

    done = await world.finished(bulk)

    assert world.meta.attempts[wa_id(0)] == FAST.retry.max_attempts
    failed = (await world.recipients(bulk))[0]
    assert (failed.state, failed.error_code) == ("failed", 131000)
    assert failed.error_message == "gave up after 5 attempts: Something went wrong"
    assert (done.status, done.counters.sent, done.counters.failed) == ("PARTIAL", 1, 1)


async def test_a_permanent_error_is_recorded_with_metas_code_and_text(world: BulkWorld) -> None:
    world.meta.refusals[wa_id(1)] = meta_error(131026, "Message undeliverable")
    bulk = await world.submit(3)
    await world.engine.start()

    done = await world.finished(bulk)

    assert world.meta.attempts[wa_id(1)] == 1
    failed = (await world.recipients(bulk))[1]
    assert (failed.state, failed.error_code) == ("failed", 131026)
    assert failed.error_message == "Message undeliverable"
    assert (done.status, done.counters.sent, done.counters.failed) == ("PARTIAL", 2, 1)


async def test_throttling_slows_the_number_and_the_message_still_goes_once(
    world: BulkWorld,
) -> None:
    world.meta.scripts[wa_id(2)] = [meta_error(130429), meta_error(130429)]
    bulk = await world.submit(10)
    await world.engine.start()

    done = await world.finished(bulk)

    assert (done.status, done.counters.sent) == ("COMPLETED", 10)
    assert world.meta.sends_to(wa_id(2)) == 1


async def test_a_stopping_code_stops_the_bulk_with_a_reason_and_skips_the_rest() -> None:
    # One send at a time, so that the stop lands before anything else is sent.
    world = await bulk_world(settings=_with(max_in_flight=1))
    world.meta.refusals[wa_id(4)] = meta_error(132015, "Template is paused")
    bulk = await world.submit(20)
    await world.engine.start()

    done = await world.finished(bulk)
    await world.engine.stop()

    assert world.meta.calls == [wa_id(i) for i in range(5)]
    assert done.status == "PARTIAL"
    assert done.stop_reason == (
        "Stopped: the template is paused for low quality (Meta error 132015: Template is paused)"
    )
    states = Counter(r.state for r in await world.recipients(bulk))
    assert states == {"sent": 4, "failed": 1, "skipped": 15}
    counters = done.counters
    assert (counters.sent, counters.failed, counters.pending, counters.cancelled) == (4, 1, 0, 15)
    stopped = (await world.recipients(bulk))[4]
    assert (stopped.error_code, stopped.error_message) == (132015, "Template is paused")
    skipped = (await world.recipients(bulk))[5]
    assert skipped.error_message == done.stop_reason


async def test_a_token_problem_stops_every_bulk_of_the_number() -> None:
    world = await bulk_world(settings=_with(max_in_flight=1))
    world.meta.refusals[wa_id(0)] = meta_error(190, "Error validating access token")
    first = await world.submit(5)
    second = await world.submit(5, first=100)
    await world.engine.start()

    stopped = [await world.finished(first), await world.finished(second)]
    await world.engine.stop()

    assert all(b.stop_reason and "access token has expired" in b.stop_reason for b in stopped)
    assert world.meta.sent == []


async def test_cancelling_stops_unsent_recipients_at_once_and_lets_in_flight_ones_finish(
    world: BulkWorld,
) -> None:
    world.meta.hold = asyncio.Event()
    bulk = await world.submit(200, pacing="100")
    await world.engine.start()

    async def some_in_flight() -> bool:
        return world.meta.held >= 3

    await eventually(some_in_flight)
    cancelled = await world.services.bulk_queries.cancel(world.principal, bulk.id)
    in_flight = world.meta.held
    world.meta.hold.set()
    done = await world.finished(bulk)

    assert cancelled.bulk.status == "CANCELLED"
    assert done.status == "CANCELLED"
    assert len(world.meta.calls) == in_flight
    assert (done.counters.sent, done.counters.cancelled) == (in_flight, 200 - in_flight)
    assert done.counters.pending == 0


async def test_after_a_crash_only_calls_started_are_unknown_and_never_resent(
    world: BulkWorld,
) -> None:
    bulk = await world.submit(10)
    # A previous process claimed five, started the calls of three, and died before any answer
    # was recorded.
    claimed = await world.stores.bulks.claim_recipients(
        bulk.id, worker="dead", limit=5, now=world.clock.now()
    )
    started = [c.message_id for c in claimed[:3]]
    await world.stores.bulks.mark_calls_started(started, worker="dead", at=world.clock.now())
    await world.engine.start()

    done = await world.finished(bulk)

    # The two claimed and never called are sent like the rest, once.
    assert sorted(world.meta.calls) == sorted(wa_id(i) for i in range(3, 10))
    recipients = await world.recipients(bulk)
    assert [r.state for r in recipients[:3]] == ["unconfirmed"] * 3
    assert {r.error_message for r in recipients[:3]} == {UNCONFIRMED_REASON}
    assert [r.attempts for r in recipients[3:5]] == [1, 1]
    assert (done.status, done.counters.sent, done.counters.failed) == ("PARTIAL", 7, 3)


class _MarksRefused(InMemoryBulks):
    """The in-memory bulks, whose marks of calls started fail the first ``failures`` times."""

    def __init__(self, tables: Tables, failures: int) -> None:
        super().__init__(tables)
        self.failures = failures

    async def mark_calls_started(
        self, message_ids: Sequence[MessageId], *, worker: str, at: datetime
    ) -> AbstractSet[MessageId]:
        if self.failures > 0:
            self.failures -= 1
            raise OSError("database is locked")
        return await super().mark_calls_started(message_ids, worker=worker, at=at)


async def test_a_call_whose_start_cannot_be_marked_does_not_start_and_goes_later() -> None:
    tables = Tables()
    store = _MarksRefused(tables, failures=2)
    world = await bulk_world(stores=replace(memory_stores(tables), bulks=store))
    try:
        bulk = await world.submit(5)
        await world.engine.start()
        done = await world.finished(bulk)
    finally:
        await world.engine.stop()

    assert store.failures == 0
    assert done.status == "COMPLETED"
    assert Counter(world.meta.calls) == {wa_id(i): 1 for i in range(5)}


async def test_a_graceful_stop_releases_what_was_claimed_and_a_restart_completes_it(
    world: BulkWorld,
) -> None:
    world.meta.hold = asyncio.Event()
    bulk = await world.submit(60, pacing="200")
    await world.engine.start()

    async def some_in_flight() -> bool:
        return world.meta.held >= 2

    await eventually(some_in_flight)
    world.meta.hold.set()
    await world.engine.stop()
    paused = await world.bulk(bulk)
    await world.engine.start()
    done = await world.finished(bulk)

    assert paused.status == "PROCESSING"
    assert done.status == "COMPLETED"
    assert Counter(world.meta.calls) == {wa_id(i): 1 for i in range(60)}


async def test_every_change_is_published_and_the_last_snapshot_is_final(
    world: BulkWorld,
) -> None:
    bulk = await world.submit(50)
    subscription = world.progress.subscribe(bulk.id)
    seen: list[Bulk] = []

    async def watch() -> None:
        while not seen or seen[-1].status != "COMPLETED":
            seen.append(await subscription.next())

    watching = asyncio.create_task(watch())
    await world.engine.start()
    await asyncio.wait_for(watching, 10)
    subscription.close()

    assert seen[0].status == "PROCESSING"
    assert seen[-1].counters.sent == 50
    assert [s.counters.processed for s in seen] == sorted(s.counters.processed for s in seen)


def _with(**changes: object) -> EngineSettings:
    from dataclasses import replace

    return replace(FAST, **changes)  # type: ignore[arg-type]


async def test_the_engine_is_woken_by_a_submission_while_it_runs(world: BulkWorld) -> None:
    await world.engine.start()
    bulk = await world.submit(5)

    done = await world.finished(bulk)

    assert done.counters.sent == 5


async def test_a_number_that_has_no_work_left_frees_its_runner(world: BulkWorld) -> None:
    await world.engine.start()
    await world.finished(await world.submit(2))
    await world.finished(await world.submit(2, first=10, number=NUMBER))

    assert world.meta.attempts.total() == 4


_NAMED = replace(FAST, worker_id="worker-2")


class _ClaimsRecorded(InMemoryBulks):
    """The in-memory bulks, keeping the worker name of every claim."""

    def __init__(self, tables: Tables) -> None:
        super().__init__(tables)
        self.workers: list[str] = []

    async def claim_recipients(
        self, bulk_id: BulkId, *, worker: str, limit: int, now: datetime
    ) -> Sequence[ClaimedRecipient]:
        self.workers.append(worker)
        return await super().claim_recipients(bulk_id, worker=worker, limit=limit, now=now)


@pytest.mark.parametrize(("settings", "worker"), [(FAST, "mindo"), (_NAMED, "worker-2")])
async def test_the_engine_claims_as_its_worker(settings: EngineSettings, worker: str) -> None:
    tables = Tables()
    store = _ClaimsRecorded(tables)
    world = await bulk_world(stores=replace(memory_stores(tables), bulks=store), settings=settings)
    try:
        bulk = await world.submit(5)
        await world.engine.start()
        await world.finished(bulk)
    finally:
        await world.engine.stop()

    assert store.workers
    assert set(store.workers) == {worker}
