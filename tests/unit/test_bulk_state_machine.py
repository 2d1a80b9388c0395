"""A bulk driven through any order of claims, answers, pauses, resumes, cancels, stops and
crashes (Hypothesis' state machine over the bulk store): the counters always add up and match
the recipients' states, and no recipient is ever sent twice."""

from __future__ import annotations

import asyncio
import contextlib
from collections import Counter
from datetime import timedelta
from typing import Any

from hypothesis import settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, invariant, precondition, rule

from mindo_core.adapters.memory import memory_stores
from mindo_core.bulks.model import BulkCounters, CrashPolicy, IllegalTransition
from mindo_core.ports.bulks import ClaimedRecipient, NewBulkRecipient, RecipientOutcome, in_chunks
from tests.contract.tenants import T0, new_bulk, tenant

SIZE = 12
NOW = T0 + timedelta(minutes=1)


class BulkLife(RuleBasedStateMachine):
    def __init__(self) -> None:
        super().__init__()
        self.loop = asyncio.new_event_loop()
        self.stores = memory_stores()
        owner = self.run(tenant(self.stores))
        people = (
            NewBulkRecipient(position=i, e164=f"+3461100{i:04d}", variables_used={})
            for i in range(SIZE)
        )
        created = self.run(
            self.stores.bulks.create_bulk(new_bulk(owner, total_recipients=SIZE), in_chunks(people))
        )
        self.bulk_id = created.id
        self.organisation_id = owner.organisation.id
        self.in_flight: list[ClaimedRecipient] = []
        self.accepted: Counter[int] = Counter()
        self.ticks = 0

    def run(self, work: Any) -> Any:
        return self.loop.run_until_complete(work)

    def teardown(self) -> None:
        self.loop.close()

    def now(self) -> Any:
        self.ticks += 1
        return NOW + timedelta(seconds=self.ticks)

    # -- what happens to a bulk ----------------------------------------------------------------

    @rule(limit=st.integers(min_value=1, max_value=5))
    def claim(self, limit: int) -> None:
        claimed = self.run(
            self.stores.bulks.claim_recipients(
                self.bulk_id, worker="w", limit=limit, now=NOW + timedelta(days=2)
            )
        )
        mine = {c.position for c in self.in_flight}
        for recipient in claimed:
            assert recipient.position not in mine, "claimed while already in flight"
            assert self.accepted[recipient.position] == 0, "claimed after Meta accepted it"
        self.in_flight += claimed

    @precondition(lambda self: self.in_flight)
    @rule(count=st.integers(min_value=1, max_value=5))
    def start_calls(self, count: int) -> None:
        ids = [recipient.message_id for recipient in self.in_flight[:count]]
        marked = self.run(self.stores.bulks.mark_calls_started(ids, worker="w", now=self.now()))
        assert marked <= set(ids)

    @precondition(lambda self: self.in_flight)
    @rule(pick=st.integers(min_value=0), kind=st.sampled_from(["accept", "refuse", "release"]))
    def answer(self, pick: int, kind: str) -> None:
        recipient = self.in_flight.pop(pick % len(self.in_flight))
        at = self.now()
        outcome = RecipientOutcome(
            message_id=recipient.message_id,
            bulk_id=self.bulk_id,
            kind=kind,  # type: ignore[arg-type]
            at=at,
            wamid=f"wamid.{recipient.position}.{self.ticks}" if kind == "accept" else None,
            error_code=131026 if kind == "refuse" else None,
            error_message="Undeliverable" if kind == "refuse" else None,
            retry_at=at if kind == "release" else None,
        )
        before = self.state_of(recipient.position)
        self.run(self.stores.bulks.record_outcomes([outcome]))
        if kind == "accept" and before == "in_flight":
            self.accepted[recipient.position] += 1

    @rule()
    def pause(self) -> None:
        with contextlib.suppress(IllegalTransition):
            self.run(self.stores.bulks.pause_bulk(self.bulk_id))

    @rule()
    def resume(self) -> None:
        with contextlib.suppress(IllegalTransition):
            self.run(self.stores.bulks.resume_bulk(self.bulk_id))

    @rule(cancelled=st.booleans())
    def stop(self, cancelled: bool) -> None:
        reason = None if cancelled else "Template paused"
        with contextlib.suppress(IllegalTransition):
            self.run(
                self.stores.bulks.stop_bulk(
                    self.bulk_id, now=self.now(), reason=reason, cancelled=cancelled
                )
            )

    @rule(policy=st.sampled_from(["mark_unconfirmed", "resend"]))
    def crash(self, policy: CrashPolicy) -> None:
        self.run(self.stores.bulks.settle_in_flight(policy=policy, now=self.now()))
        self.in_flight.clear()  # the workers died; a late answer finds them settled

    # -- what always holds ---------------------------------------------------------------------

    def states(self) -> list[str]:
        page = self.run(
            self.stores.bulks.list_bulk_recipients(
                self.organisation_id, self.bulk_id, status=None, offset=0, limit=SIZE
            )
        )
        return [r.state for r in page.items]

    def state_of(self, position: int) -> str:
        return self.states()[position]

    @invariant()
    def counters_add_up_and_match_the_recipients(self) -> None:
        bulk = self.run(self.stores.bulks.get_bulk(self.bulk_id))
        c = bulk.counters
        assert c.total == c.sent + c.failed + c.pending + c.cancelled == SIZE
        assert c == BulkCounters.of_states(self.states())  # type: ignore[arg-type]
        if bulk.status in ("COMPLETED", "PARTIAL", "FAILED", "CANCELLED"):
            assert "pending" not in self.states()

    @invariant()
    def nobody_is_sent_twice(self) -> None:
        assert all(count <= 1 for count in self.accepted.values())


TestBulkLife = BulkLife.TestCase
TestBulkLife.settings = settings(max_examples=150, stateful_step_count=30, deadline=None)
