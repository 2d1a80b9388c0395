"""Bulks on a real SQLite file driven through any order of submits, pauses, resumes, cancels,
engine runs, crashes and status webhooks (Hypothesis' state machine over the whole service: the
use cases, the real engine, the SQL store; Meta is an in-process Graph fake of ours).

A crash cancels every task of the "process" at once, between two transactions: sends in flight
at Meta never answer, outcomes not yet written are lost, nothing is flushed. A new process then
opens the same file and its engine settles what was left in flight by the crash
policy (``mark_unconfirmed``: never resent).

After every step, for every bulk: ``total = sent + failed + pending + cancelled`` and the
counters match the recipients' states, each recipient shows one documented status and the
status filters partition the list, a bulk that is over has no recipient waiting; and no
recipient was sent twice (the fake's record: accepted calls and calls whose answer was lost).
"""

from __future__ import annotations

import asyncio
import contextlib
import math
import shutil
import tempfile
from collections import Counter
from dataclasses import dataclass, field
from datetime import UTC, datetime
from functools import cache
from pathlib import Path
from typing import Any

from hypothesis import event, settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, invariant, precondition, rule

from mindo_core.adapters.memory.progress_bus import InProcessProgressBus
from mindo_core.adapters.sql import open_stores, upgrade_database
from mindo_core.bootstrap import wire
from mindo_core.bulks.model import (
    RECIPIENT_STATUSES,
    Bulk,
    BulkCounters,
    BulkId,
    recipient_status,
)
from mindo_core.delivery.webhook_payloads import StatusUpdate
from mindo_core.domain.clock import SystemClock
from mindo_core.domain.errors import FailedPrecondition, MetaError, MetaErrorDetail
from mindo_core.domain.messages import DeliveryState
from mindo_core.ports.meta import MetaSendResult
from tests.bulk_fakes import (
    FAST,
    NUMBER,
    BulkWorld,
    ScriptedMeta,
    bulk_world,
    eventually,
    phone,
)
from tests.fakes import ReversingCipher

SIZE = 6
MAX_BULKS = 2
FINAL = frozenset({"COMPLETED", "PARTIAL", "FAILED", "CANCELLED"})
REFUSED = MetaError(MetaErrorDetail(meta_code=131026, title="Undeliverable"), retryable=False)
RATE_LIMITED = MetaError(MetaErrorDetail(meta_code=130429, title="Rate limit hit"), retryable=True)


@cache
def migrated_file() -> Path:
    """One migrated database, copied for each example (migrating each time is slow)."""
    path = Path(tempfile.mkdtemp(prefix="mindo-state-machine-")) / "migrated.db"
    upgrade_database(f"sqlite:///{path}")
    return path


@dataclass
class GraphFake(ScriptedMeta):
    """``ScriptedMeta`` that answers ``budget`` more calls, then holds every further call at
    Meta for good (its answer is lost in a crash); None: answers all."""

    budget: int | None = None
    held_calls: Counter[str] = field(default_factory=Counter)
    # What the held calls carried: Meta may have accepted them, and then reports their status.
    held_payloads: list[dict[str, Any]] = field(default_factory=list)

    async def send_template(self, **call: Any) -> MetaSendResult:
        if self.budget is not None:
            if self.budget <= 0:
                self.held_calls[str(call["payload"]["to"])] += 1
                self.held_payloads.append(dict(call["payload"]))
                await asyncio.Event().wait()
            self.budget -= 1
        return await super().send_template(**call)

    @property
    def call_count(self) -> int:
        """Every call that reached Meta, answered or held."""
        return len(self.calls) + self.held_calls.total()


class BulkOnSql(RuleBasedStateMachine):
    def __init__(self) -> None:
        super().__init__()
        self.directory = Path(tempfile.mkdtemp(prefix="mindo-state-machine-"))
        database = self.directory / "mindo.db"
        shutil.copy(migrated_file(), database)
        self.url = f"sqlite:///{database}"
        self.loop = asyncio.new_event_loop()
        self.world: BulkWorld = self.run(self._first_world())
        self.bulks: list[BulkId] = []
        self.webhooks = 0
        self.submit()

    async def _first_world(self) -> BulkWorld:
        world = await bulk_world(stores=await open_stores(self.url))
        graph = GraphFake(
            phone_numbers=world.meta.phone_numbers,
            templates=world.meta.templates,
            tokens=world.meta.tokens,
        )
        return self._world_over(world, graph, world.stores)

    def _world_over(self, world: BulkWorld, graph: GraphFake, stores: Any) -> BulkWorld:
        """The service (use cases, engine, status writer) of a process over ``stores``."""
        progress = InProcessProgressBus()
        services = wire(
            stores, graph, ReversingCipher(), SystemClock(), engine_settings=FAST, progress=progress
        )
        return BulkWorld(services, stores, world.clock, progress, graph, world.principal)

    @property
    def graph(self) -> GraphFake:
        assert isinstance(self.world.meta, GraphFake)
        return self.world.meta

    def run(self, work: Any) -> Any:
        return self.loop.run_until_complete(work)

    def teardown(self) -> None:
        event(f"{min(self.webhooks, 5)}{'+' if self.webhooks >= 5 else ''} webhooks")
        self.run(self.world.engine.stop())
        self.run(self.world.stores.close())
        self.loop.close()
        shutil.rmtree(self.directory, ignore_errors=True)

    # -- what the users do ---------------------------------------------------------------------

    @precondition(lambda self: len(self.bulks) < MAX_BULKS)
    @rule()
    def submit(self) -> None:
        first = len(self.bulks) * SIZE
        # One recipient Meta refuses, one rate-limited once before it goes.
        self.graph.refusals[phone(first + 1).removeprefix("+")] = REFUSED
        self.graph.scripts[phone(first + 2).removeprefix("+")] = [RATE_LIMITED]
        bulk = self.run(self.world.submit(SIZE, first=first))
        self.bulks.append(bulk.id)

    @precondition(lambda self: self.bulks)
    @rule(pick=st.integers(min_value=0), action=st.sampled_from(["pause", "resume", "cancel"]))
    def steer(self, pick: int, action: str) -> None:
        bulk_id = self.bulks[pick % len(self.bulks)]
        queries = self.world.services.bulk_queries
        with contextlib.suppress(FailedPrecondition):  # not allowed in its status: a no-op
            self.run(getattr(queries, action)(self.world.principal, bulk_id))

    # -- what the engine does ------------------------------------------------------------------

    @precondition(lambda self: self.bulks)
    @rule(calls=st.integers(min_value=1, max_value=4))
    def send_some(self, calls: int) -> None:
        """The engine runs until ``calls`` more calls reach Meta (or nothing is left to send),
        then stops gracefully: nothing stays in flight."""
        self.run(self._engine_runs(calls))
        self.run(self.world.engine.stop())
        for bulk_id in self.bulks:
            assert "in_flight" not in self.states(bulk_id), "left in flight after a clean stop"

    @precondition(lambda self: self.bulks)
    @rule(answered=st.integers(min_value=0, max_value=3))
    def crash(self, answered: int) -> None:
        """The engine runs until Meta answered ``answered`` calls and holds the next, or
        nothing is left to send; then the process dies and another one opens the file."""
        self.graph.budget = answered
        self.run(self._engine_runs(answered + 1))
        left = sum(self.states(b).count("in_flight") for b in self.bulks)
        event(f"crash with {'some' if left else 'none'} in flight")
        # The process dies between two transactions: one cut halfway would keep SQLite's lock
        # in this test's process, where a real death would let the operating system free it.
        self.run(self._between_transactions())
        tasks = asyncio.all_tasks(self.loop)
        for task in tasks:
            task.cancel()
        self.run(asyncio.gather(*tasks, return_exceptions=True))
        self.run(self.world.stores.close())
        self.loop.close()
        self.graph.budget = None
        self.loop = asyncio.new_event_loop()
        self.world = self._world_over(self.world, self.graph, self.run(open_stores(self.url)))

    async def _between_transactions(self) -> None:
        pool = self.world.stores.bulks._database.engine.pool  # type: ignore[attr-defined]

        async def none_open() -> bool:
            return not pool.checkedout()

        await eventually(none_open, every=0)

    async def _engine_runs(self, calls: int) -> None:
        before = self.graph.call_count
        await self.world.engine.start()

        async def enough() -> bool:
            if self.graph.call_count >= before + calls:
                return True
            return all(await asyncio.gather(*(self._idle(b) for b in self.bulks)))

        await eventually(enough, limit=20)

    async def _idle(self, bulk_id: BulkId) -> bool:
        """Nothing of it is left to send for now."""
        bulk = await self.world.stores.bulks.get_bulk(bulk_id)
        assert bulk is not None
        if bulk.status == "PAUSED" or bulk.status in FINAL:
            return True
        return bulk.counters.pending == 0

    # -- what Meta reports later ---------------------------------------------------------------

    @rule(
        pick=st.integers(min_value=0),
        status=st.sampled_from(["sent", "delivered", "read", "failed"]),
        repeats=st.integers(min_value=1, max_value=2),
    )
    def webhook(self, pick: int, status: DeliveryState, repeats: int) -> None:
        """A status for a message Meta accepted, in any order, maybe twice; also for one whose
        answer a crash lost (Meta accepted it: only its callback data tells whose it is)."""
        accepted = [(dict(s.payload), None) for s in self.graph.sent]
        lost = [(payload, "lost") for payload in self.graph.held_payloads]
        known = accepted + lost
        if not known:
            return
        payload, lost_answer = known[pick % len(known)]
        to = str(payload["to"])
        update = StatusUpdate(
            wamid=f"wamid.lost.{to}" if lost_answer else f"wamid.{to}.{self.graph.attempts[to]}",
            status=status,
            at=datetime.now(UTC),
            recipient_id=to,
            phone_number_id=NUMBER,
            callback_data=str(payload["biz_opaque_callback_data"]),
            error_code=131026 if status == "failed" else None,
            error_title="Undeliverable" if status == "failed" else None,
        )
        for _ in range(repeats):
            report = self.run(self.world.services.status_writer.write([update]))
        self.webhooks += 1
        effect = "parked" if report.parked else "applied" if report.applied else "no-op"
        event(f"webhook {status}{' (answer lost)' if lost_answer else ''}: {effect}")

    # -- what always holds ---------------------------------------------------------------------

    def bulk(self, bulk_id: BulkId) -> Bulk:
        bulk = self.run(self.world.stores.bulks.get_bulk(bulk_id))
        assert isinstance(bulk, Bulk)
        return bulk

    def states(self, bulk_id: BulkId) -> list[str]:
        page = self.run(
            self.world.stores.bulks.list_bulk_recipients(
                self.world.principal.organisation.id, bulk_id, status=None, offset=0, limit=SIZE
            )
        )
        return [r.state for r in page.items]

    @invariant()
    def counters_add_up_and_match_the_recipients(self) -> None:
        for bulk_id in self.bulks:
            bulk, states = self.bulk(bulk_id), self.states(bulk_id)
            c = bulk.counters
            assert c.total == c.sent + c.failed + c.pending + c.cancelled == SIZE, c
            assert c == BulkCounters.of_states(states), (bulk.status, states)  # type: ignore[arg-type]
            settled = c.sent + c.failed + c.cancelled  # sending is over for them
            assert c.progress_percentage == math.floor(settled * 1000 / SIZE) / 10
            assert (c.progress_percentage == 100.0) == (c.pending == 0)
            if bulk.status in FINAL:
                assert "pending" not in states, (bulk.status, states)

    @invariant()
    def every_recipient_has_one_documented_status(self) -> None:
        organisation_id = self.world.principal.organisation.id
        for bulk_id in self.bulks:
            shown = Counter(recipient_status(s) for s in self.states(bulk_id))  # type: ignore[arg-type]
            assert set(shown) <= set(RECIPIENT_STATUSES)
            for status in RECIPIENT_STATUSES:
                page = self.run(
                    self.world.stores.bulks.list_bulk_recipients(
                        organisation_id, bulk_id, status=status, offset=0, limit=SIZE
                    )
                )
                assert page.count == shown[status], (status, page.count, shown)

    @invariant()
    def nobody_is_sent_twice(self) -> None:
        reached = Counter(str(s.payload["to"]) for s in self.graph.sent) + self.graph.held_calls
        assert all(count <= 1 for count in reached.values()), reached


TestBulkOnSql = BulkOnSql.TestCase
TestBulkOnSql.settings = settings(max_examples=12, stateful_step_count=15, deadline=None)
