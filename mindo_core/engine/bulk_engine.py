"""The bulk engine: sends every accepted bulk as fast as Meta allows, never faster, never twice.

Shape
=====
* A **supervisor** (``lifecycle.Supervisor``) reads ``bulks_to_run()`` (QUEUED and PROCESSING
  bulks) on start, whenever it is woken (``wake()``: a bulk was submitted) and every
  ``poll_interval`` (1 s), and hands each phone number its bulks. ``drop(bulk_id)`` (a
  cancellation) takes a bulk away from its runner at once, so that nothing more of it starts.
* One **runner** per phone number with work (``number_runner.NumberRunner``), an asyncio task
  owning that number's ``NumberScheduler``: Meta's throughput for the number (from its
  ``throughput_level``, read when a bulk joins and again on ``refresh_number``; 130429 is
  never provoked in steady state), the adaptive slow-down, the fair round-robin between the
  bulks sharing the number, each bulk's pacing cap, the pair rate and the bounded retries.
  Numbers run in parallel; at most ``max_in_flight`` (512) sends are in flight over all of
  them. A runner's queues are filled by ``claiming``, its sends made by ``sending`` and their
  answers recorded by ``settling``; what each answer means is ``decisions``'.
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
echoes in the message's status webhooks. Alone over a store, ``start()`` first settles every
recipient left in flight by a previous process (``lifecycle.settle_previous_run``; among
several workers the taker of a number settles its previous owner's): by default it becomes
``unconfirmed``, with its own reason, and is not resent, because a duplicate is worse than a
gap; a webhook carrying its callback data may still confirm it. That includes recipients
claimed but not yet sent when the process was killed: at most about 2 x ``claim_seconds``
(0.1 s) of sending per bulk. On a graceful ``stop()``, recipients claimed but not sent are
released instead, and sends in flight get ``stop_grace_seconds`` to finish.

Workers
=======
The engine claims as ``EngineSettings.worker_id``: each process its own name
(``bootstrap.new_worker_id``); the store's claims are per recipient and carry it, and outcomes
and finishes are written under it (a worker that lost a number writes nothing over its new
owner's). On SQLite one engine runs per database file (``bootstrap.running_engine``). On
PostgreSQL any number of engines share the numbers by leases (``ports.ownership``,
``lifecycle``): one owner per number at a time; a number whose owner died is taken over, and
its in-flight recipients settled, by the worker that takes it, never by one that merely starts.
"""

from __future__ import annotations

import asyncio
import logging
import random

from mindo_core.bulks.model import BulkId
from mindo_core.domain.accounts import PhoneNumberRowId
from mindo_core.domain.clock import Clock
from mindo_core.engine.capacity import SendCapacity
from mindo_core.engine.lifecycle import Supervisor, settle_previous_run
from mindo_core.engine.outcome_buffer import OutcomeBuffer
from mindo_core.engine.parts import EngineParts
from mindo_core.engine.settings import EngineSettings, number_throughputs
from mindo_core.engine.start_marks import StartMarks
from mindo_core.engine.tenure import Tenure
from mindo_core.engine.unknown_sweep import UnknownSweep
from mindo_core.ports.accounts import AccountStore
from mindo_core.ports.bulks import BulkStore, UnknownOutcomePolicies, UnknownRecipients
from mindo_core.ports.contacts import ContactStore, OptOutPolicies
from mindo_core.ports.meta import MetaGateway
from mindo_core.ports.ownership import NumberOwnership
from mindo_core.ports.progress import ProgressBus
from mindo_core.ports.secrets import TokenCipher
from mindo_core.ports.telemetry import EngineTelemetry
from mindo_core.ports.templates import TemplateStore
from mindo_core.throughput.number_throughputs import NumberThroughputs
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
        contacts: ContactStore,
        opt_out_policies: OptOutPolicies,
        meta: MetaGateway,
        cipher: TokenCipher,
        clock: Clock,
        progress: ProgressBus,
        ownership: NumberOwnership,
        settings: EngineSettings | None = None,
        telemetry: EngineTelemetry | None = None,
        throughputs: NumberThroughputs[PhoneNumberRowId] | None = None,
        unknown_recipients: UnknownRecipients | None = None,
        unknown_policies: UnknownOutcomePolicies | None = None,
    ) -> None:
        settings = settings or EngineSettings()
        self._parts = EngineParts(
            accounts=accounts,
            templates=templates,
            bulks=bulks,
            contacts=contacts,
            opt_out_policies=opt_out_policies,
            meta=meta,
            cipher=cipher,
            clock=clock,
            progress=progress,
            outcomes=OutcomeBuffer(
                bulks,
                progress,
                max_batch=settings.flush_batch,
                interval=settings.flush_interval,
                worker=settings.worker_id,
            ),
            marks=StartMarks(
                bulks,
                clock,
                worker=settings.worker_id,
                slice_seconds=settings.start_mark_slice,
            ),
            capacity=SendCapacity(settings.max_in_flight),
            retry_policy=RetryPolicy(random.Random(settings.seed), settings.retry),
            settings=settings,
            throughputs=throughputs or number_throughputs(settings),
            ownership=ownership,
            tenure=Tenure(),
            telemetry=telemetry,
        )
        self._supervisor = Supervisor(self._parts)
        self._outcome_writer: asyncio.Task[None] | None = None
        # Without both ports (a test of sending alone), unknown outcomes stay as they are.
        self._unknown_sweep = (
            None
            if unknown_recipients is None or unknown_policies is None
            else UnknownSweep(
                recipients=unknown_recipients,
                policies=unknown_policies,
                clock=clock,
                progress=progress,
                interval=settings.unknown_sweep_interval,
                wake=self.wake,
            )
        )
        self._sweeping: asyncio.Task[None] | None = None
        self._started = False

    @property
    def running(self) -> bool:
        return self._started

    def holds(self, number: PhoneNumberRowId) -> bool:
        """Whether this engine sends for ``number`` now (its lease, or the sole engine's
        numbers with work)."""
        return self._parts.tenure.holds(number, self._parts.clock.monotonic())

    def wake(self) -> None:
        """Look for work now (a bulk was submitted). Never waits."""
        self._supervisor.wake()

    def drop(self, bulk_id: BulkId) -> None:
        """The bulk was cancelled or paused: no send of it starts from now on, what it had
        claimed is released (cancelled, or pending again while paused). Never waits."""
        self._supervisor.drop(bulk_id)

    def refresh_number(self, phone_number_row_id: PhoneNumberRowId) -> None:
        """The number's throughput level or messaging tier changed in the store (Meta's account
        webhooks): the runner of that number, if it has one, re-reads it and applies both
        before its next send: the new throughput at once, the new tier to the caps of the
        bulks paced by tier. Never waits; a number without a runner reads it when one starts."""
        self._supervisor.refresh_number(phone_number_row_id)

    async def start(self) -> None:
        """Alone over the store: settle what a previous process left in flight. Then start
        sending (among several engines, on the numbers this one comes to hold)."""
        if self._started:
            return
        if self._parts.ownership.sole_engine:
            await settle_previous_run(self._parts)
        self._started = True
        self._outcome_writer = asyncio.create_task(
            self._parts.outcomes.run(), name="mindo-outcomes"
        )
        await self._supervisor.start()
        if self._unknown_sweep is not None:
            self._sweeping = asyncio.create_task(
                self._unknown_sweep.run(), name="mindo-unknown-sweep"
            )
        logger.info("Bulk engine started as worker %s", self._parts.settings.worker_id)

    async def stop(self) -> None:
        """Stop sending: release what is claimed but unsent, let sends in flight finish (within
        ``stop_grace_seconds``), write every outcome, then hand every number over (its lease
        released at once). Idempotent."""
        if not self._started:
            return
        self._started = False
        if self._sweeping is not None:
            await _cancelled(self._sweeping)
            self._sweeping = None
        await self._supervisor.stop()
        if self._outcome_writer is not None:
            await _cancelled(self._outcome_writer)
        self._outcome_writer = None
        try:
            await self._parts.outcomes.flush()
        except Exception:
            logger.exception("Could not record the last send outcomes on stop")
        try:
            await self._supervisor.hand_over()
        except Exception:  # the leases then expire on their own
            logger.exception("Could not release this worker's number leases on stop")


async def _cancelled(task: asyncio.Task[None]) -> None:
    task.cancel()
    try:
        await task
    except asyncio.CancelledError:
        pass
    except Exception:
        logger.exception("A bulk engine task ended with an error")
