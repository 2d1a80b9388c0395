"""Writes status webhooks to the store, many POSTs per transaction, and tells WatchBulk.

Meta posts statuses concurrently, often one per POST, and sizes for three times the outgoing
rate. One transaction per POST would make the database's commit rate the ceiling (SQLite: one
writer, one fsync per commit). So concurrent POSTs share transactions (group commit): a POST's
statuses join a queue; one drain task writes everything queued in one ``apply_statuses`` call
(up to ``max_batch`` statuses), and each POST is answered only once its statuses are durable,
so Meta's 200 still means "recorded". An idle service writes a lone POST at once: nothing waits
for a batch to fill.

With ``telemetry``, each status's lag (its arrival after Meta's own time for it) is reported.

Parked statuses (their message was not recorded yet) are applied by ``sweep_parked``, which the
background loop (``start``) calls every ``sweep_seconds`` while anything is parked.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Sequence

from mindo_core.delivery.status_rules import DeliveryReport
from mindo_core.delivery.webhook_payloads import StatusUpdate
from mindo_core.domain.clock import Clock
from mindo_core.ports.delivery import DeliveryStore
from mindo_core.ports.progress import ProgressBus
from mindo_core.ports.telemetry import WebhookTelemetry

__all__ = ["StatusWriter"]

logger = logging.getLogger("mindo.webhooks")


class StatusWriter:
    def __init__(
        self,
        *,
        delivery: DeliveryStore,
        clock: Clock,
        progress: ProgressBus,
        max_batch: int = 2000,
        sweep_seconds: float = 1.0,
        telemetry: WebhookTelemetry | None = None,
    ) -> None:
        self._delivery = delivery
        self._telemetry = telemetry
        self._clock = clock
        self._bus = progress
        self._max_batch = max_batch
        self._sweep_seconds = sweep_seconds
        self._queue: list[tuple[Sequence[StatusUpdate], asyncio.Future[DeliveryReport]]] = []
        self._drain_task: asyncio.Task[None] | None = None
        self._sweeper: asyncio.Task[None] | None = None
        self._maybe_parked = True  # until a sweep finds none (statuses parked before a restart)

    async def write(self, updates: Sequence[StatusUpdate]) -> DeliveryReport:
        """Returns once ``updates`` are durable: the report of the transaction they joined."""
        if self._telemetry is not None and updates:
            now = self._clock.now()
            self._telemetry.statuses_received([(now - u.at).total_seconds() for u in updates])
        future: asyncio.Future[DeliveryReport] = asyncio.get_running_loop().create_future()
        self._queue.append((updates, future))
        if self._drain_task is None or self._drain_task.done():
            self._drain_task = asyncio.create_task(self._drain(), name="mindo-status-writer")
        return await future

    async def _drain(self) -> None:
        while self._queue:
            taken = self._take()
            statuses = [update for updates, _ in taken for update in updates]
            try:
                report = await self._delivery.apply_statuses(
                    statuses, received_at=self._clock.now()
                )
            except Exception as error:
                logger.exception("Writing %d webhook statuses failed", len(statuses))
                for _, future in taken:
                    if not future.done():
                        future.set_exception(error)
                continue
            self._published(report)
            for _, future in taken:
                if not future.done():
                    future.set_result(report)

    def _take(self) -> list[tuple[Sequence[StatusUpdate], asyncio.Future[DeliveryReport]]]:
        """Whole POSTs from the head of the queue, at least one, up to ``max_batch`` statuses."""
        taken = [self._queue[0]]
        size = len(self._queue[0][0])
        for item in self._queue[1:]:
            if size + len(item[0]) > self._max_batch:
                break
            taken.append(item)
            size += len(item[0])
        del self._queue[: len(taken)]
        return taken

    def _published(self, report: DeliveryReport) -> None:
        if report.parked:
            self._maybe_parked = True
        for bulk in report.bulks:
            self._bus.publish(bulk.id, bulk)

    # -- parked statuses ---------------------------------------------------------------------

    async def sweep_parked(self) -> DeliveryReport:
        """Applies the parked statuses whose message has appeared since."""
        report = await self._delivery.apply_parked(now=self._clock.now())
        self._published(report)
        self._maybe_parked = await self._delivery.parked_count() > 0
        return report

    def start(self) -> None:
        if self._sweeper is None:
            self._sweeper = asyncio.create_task(self._sweep_forever(), name="mindo-parked-sweep")

    async def stop(self) -> None:
        sweeper, self._sweeper = self._sweeper, None
        if sweeper is not None:
            sweeper.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await sweeper
        if self._drain_task is not None:
            with contextlib.suppress(Exception):
                await self._drain_task

    async def _sweep_forever(self) -> None:
        while True:
            await asyncio.sleep(self._sweep_seconds)
            if not self._maybe_parked:
                continue
            try:
                await self.sweep_parked()
            except Exception:
                logger.exception("Applying parked webhook statuses failed; trying again")
