"""The bulk engine: sends every accepted bulk as fast as Meta allows, never faster, never twice.

Shape
=====
* A **supervisor** loop reads ``bulks.bulks_to_run()`` (QUEUED and PROCESSING bulks) on start,
  whenever it is woken (``wake()``: a bulk was submitted) and every ``poll_interval`` (1 s),
  and hands each phone number its bulks. ``drop(bulk_id)`` (a cancellation) takes a bulk away
  from its runner at once, so that nothing more of it starts.
* One **runner** per phone number with work (``number_runner.NumberRunner``), an asyncio task
  owning that number's ``NumberScheduler``: Meta's throughput for the number (from its
  ``throughput_level``, read when a bulk joins and again on ``refresh_number``; 130429 is
  never provoked in steady state), the adaptive slow-down, the fair round-robin between the
  bulks sharing the number, each bulk's pacing cap, the pair rate and the bounded retries.
  Numbers run in parallel; at most ``max_in_flight`` (512) sends are in flight over all of
  them.
* ``refresh_number(number)`` (a webhook changed its throughput or tier) makes its runner
  re-read the number before its next send: the new throughput applies at once (a lower one
  at once, a higher one at once unless the number is slowed down, then recovery climbs to
  it), and the new tier to the caps of its bulks paced by ``"tier"``.
* One **outcome buffer** (``outcome_buffer.OutcomeBuffer``) writes outcomes in batches (every
  50 ms or 200 outcomes) and publishes the bulks they changed on the progress bus. Runners
  publish too: a bulk's first claim (PROCESSING), its finish and its stop.

Quota waits are planned at submission (each recipient's ``not_before``); the engine holds a
recipient until then and does not read the window again before each send.

Crash safety
============
A recipient is claimed (``in_flight``, durably) before its call to Meta, in small batches, and
its outcome is durable within one flush after the answer. Every send carries
``biz_opaque_callback_data = "mindo:<bulk id>:<message id>"`` (``bulk_messages``), which Meta
echoes in the message's status webhooks. ``start()`` first settles every recipient left in
flight by a previous process (``settle_in_flight``): by default it becomes ``unconfirmed``,
with its own reason, and is not resent, because a duplicate is worse than a gap; a webhook
carrying its callback data may still confirm it. That includes recipients claimed but not yet
sent when the process was killed: at most about 2 x ``claim_seconds`` (0.1 s) of sending per
bulk. On a graceful ``stop()``, recipients claimed but not sent are released instead, and sends
in flight get ``stop_grace_seconds`` to finish.

Several processes
=================
Today one process runs the engine, on SQLite. The store's claims are already per recipient and
marked with a ``worker``, so several workers could share PostgreSQL later: claims with
``FOR UPDATE SKIP LOCKED``, one owner per phone number at a time (an advisory lock or a lease
row per number, so that one scheduler alone paces each number), and ``settle_in_flight``
restricted to claims whose lease expired instead of every in-flight recipient.
"""

from __future__ import annotations

import asyncio
import logging
import random
from collections.abc import Sequence

from mindo_core.bulks.model import Bulk, BulkId
from mindo_core.domain.accounts import PhoneNumberRowId
from mindo_core.domain.clock import Clock
from mindo_core.engine.number_runner import NumberRunner
from mindo_core.engine.outcome_buffer import OutcomeBuffer
from mindo_core.engine.parts import EngineParts, EngineSettings, SendCapacity
from mindo_core.ports.accounts import AccountStore
from mindo_core.ports.bulks import BulkStore
from mindo_core.ports.meta import MetaGateway
from mindo_core.ports.progress import ProgressBus
from mindo_core.ports.secrets import TokenCipher
from mindo_core.ports.templates import TemplateStore
from mindo_core.throughput.retry_policy import RetryPolicy

__all__ = ["BulkEngine", "EngineSettings"]

logger = logging.getLogger("mindo.bulk_engine")


class BulkEngine:
    def __init__(
        self,
        *,
        accounts: AccountStore,
        templates: TemplateStore,
        bulks: BulkStore,
        meta: MetaGateway,
        cipher: TokenCipher,
        clock: Clock,
        progress: ProgressBus,
        settings: EngineSettings | None = None,
    ) -> None:
        settings = settings or EngineSettings()
        self._parts = EngineParts(
            accounts=accounts,
            templates=templates,
            bulks=bulks,
            meta=meta,
            cipher=cipher,
            clock=clock,
            bus=progress,
            outcomes=OutcomeBuffer(
                bulks, progress, max_batch=settings.flush_batch, interval=settings.flush_interval
            ),
            capacity=SendCapacity(settings.max_in_flight),
            retry_policy=RetryPolicy(random.Random(settings.seed), settings.retry),
            settings=settings,
        )
        self._runners: dict[PhoneNumberRowId, NumberRunner] = {}
        self._outcome_writer: asyncio.Task[None] | None = None
        self._supervisor: asyncio.Task[None] | None = None
        self._wake = asyncio.Event()
        self._started = False
        self._stopping = False

    @property
    def running(self) -> bool:
        return self._started

    def wake(self) -> None:
        """Look for work now (a bulk was submitted). Never waits."""
        self._wake.set()

    def drop(self, bulk_id: BulkId) -> None:
        """The bulk was cancelled: no send of it starts from now on, what it had claimed is
        released (and becomes cancelled). Never waits."""
        for runner in self._runners.values():
            runner.drop(bulk_id)
        self.wake()

    def refresh_number(self, phone_number_row_id: PhoneNumberRowId) -> None:
        """The number's throughput level or messaging tier changed in the store (Meta's account
        webhooks): the runner of that number, if it has one, re-reads it and applies both
        before its next send: the new throughput at once, the new tier to the caps of the
        bulks paced by tier. Never waits; a number without a runner reads it when one starts."""
        runner = self._runners.get(phone_number_row_id)
        if runner is not None:
            runner.refresh_number()

    async def start(self) -> None:
        """Settle what a previous process left in flight, then start sending."""
        if self._started:
            return
        parts = self._parts
        settled = await parts.bulks.settle_in_flight(
            policy=parts.settings.crash_policy, now=parts.clock.now()
        )
        if settled:
            logger.warning(
                "Settled %d recipients left in flight by a previous run (%s)",
                settled,
                parts.settings.crash_policy,
            )
        self._started, self._stopping = True, False
        self._outcome_writer = asyncio.create_task(parts.outcomes.run(), name="mindo-outcomes")
        self._supervisor = asyncio.create_task(self._supervise(), name="mindo-bulk-supervisor")

    async def stop(self) -> None:
        """Stop sending: release what is claimed but unsent, let sends in flight finish (within
        ``stop_grace_seconds``), write every outcome. Idempotent."""
        if not self._started:
            return
        self._started, self._stopping = False, True
        self.wake()
        if self._supervisor is not None:
            await self._supervisor  # it ends at the top of its loop, never halfway
        runners = list(self._runners.values())
        self._runners.clear()
        await asyncio.gather(*(runner.close() for runner in runners))
        if self._outcome_writer is not None:
            await _cancelled(self._outcome_writer)
        self._supervisor = self._outcome_writer = None
        try:
            await self._parts.outcomes.flush()
        except Exception:
            logger.exception("Could not record the last send outcomes on stop")

    async def _supervise(self) -> None:
        while not self._stopping:
            try:
                self._assign(await self._parts.bulks.bulks_to_run())
                await self._retire_idle_runners()
            except Exception:
                logger.exception("Could not read the bulk sends to run; trying again")
            if not self._stopping:
                await self._rest()

    async def _rest(self) -> None:
        try:
            async with asyncio.timeout(self._parts.settings.poll_interval):
                await self._wake.wait()
        except TimeoutError:
            pass
        self._wake.clear()

    def _assign(self, bulks: Sequence[Bulk]) -> None:
        by_number: dict[PhoneNumberRowId, list[Bulk]] = {}
        for bulk in bulks:
            by_number.setdefault(bulk.phone_number_row_id, []).append(bulk)
        for number_id, runner in self._runners.items():
            if number_id not in by_number:
                runner.assign(())
        for number_id, mine in by_number.items():
            if number_id not in self._runners:
                self._runners[number_id] = NumberRunner(number_id, self._parts)
                self._runners[number_id].start()
            self._runners[number_id].assign(mine)

    async def _retire_idle_runners(self) -> None:
        idle = [number for number, runner in self._runners.items() if runner.idle]
        for number_id in idle:
            await self._runners.pop(number_id).close()


async def _cancelled(task: asyncio.Task[None]) -> None:
    task.cancel()
    try:
        await task
    except asyncio.CancelledError:
        pass
    except Exception:
        logger.exception("A bulk engine task ended with an error")
