"""The callback delivery worker: claims due deliveries from the outbox, signs and posts them
concurrently, and records every attempt and what follows (``callbacks.retry_schedule``).

It runs in whichever process runs the engine (``bootstrap.running_engine``); with several such
processes each delivery is claimed by one of them at a time (a lease), so an event may arrive
twice after a crash but is never lost: receivers deduplicate on the event's id.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from dataclasses import dataclass, field

from mindo_core.callbacks.model import AttemptResult, PendingDelivery
from mindo_core.callbacks.retry_schedule import RetryPolicy, is_success, next_attempt_at
from mindo_core.callbacks.signing import SIGNATURE_HEADER, signature_header
from mindo_core.domain.clock import Clock
from mindo_core.ports.callbacks import (
    CallbackBacklog,
    CallbackOutbox,
    CallbackResponse,
    CallbackSender,
)
from mindo_core.ports.secrets import TokenCipher
from mindo_core.ports.telemetry import CallbackOutcome, CallbackTelemetry

__all__ = ["CallbackDelivery", "DeliverySettings"]

logger = logging.getLogger("mindo.callbacks")


@dataclass(frozen=True, kw_only=True)
class DeliverySettings:
    retry: RetryPolicy = field(default_factory=RetryPolicy)
    batch: int = 200
    concurrency: int = 64
    # Longer than a POST's timeout: a lease outliving its worker is what hands work over.
    lease_seconds: float = 60.0
    poll_seconds: float = 0.05
    # Rounds in flight at once: one round's POSTs overlap the next one's claim and the last
    # one's record (leases keep them apart).
    lanes: int = 2
    # ``stop`` lets the rounds in flight end (their POSTs are bounded by the sender's timeout),
    # so a claim or a record is never cut mid-transaction; past this, it cancels them.
    stop_grace_seconds: float = 15.0
    worker_id: str = "callbacks"


class CallbackDelivery:
    def __init__(
        self,
        *,
        outbox: CallbackOutbox,
        sender: CallbackSender,
        cipher: TokenCipher,
        clock: Clock,
        settings: DeliverySettings,
        telemetry: CallbackTelemetry | None = None,
    ) -> None:
        self._outbox = outbox
        self._telemetry = telemetry
        self._sender = sender
        self._cipher = cipher
        self._clock = clock
        self._settings = settings
        self._task: asyncio.Task[None] | None = None
        self._stopping = asyncio.Event()
        self._limit = asyncio.Semaphore(settings.concurrency)
        self.delivered = 0
        self.failed_attempts = 0

    def start(self) -> None:
        if self._task is None or self._task.done():
            self._stopping = asyncio.Event()
            self._task = asyncio.create_task(self._run(), name="mindo-callback-delivery")

    async def stop(self) -> None:
        task, self._task = self._task, None
        if task is None:
            return
        self._stopping.set()
        try:
            await asyncio.wait_for(asyncio.shield(task), self._settings.stop_grace_seconds)
        except TimeoutError:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task

    async def backlog(self) -> CallbackBacklog:
        """Deliveries waiting (due or retrying) and given up, across the organisations."""
        return await self._outbox.backlog()

    async def deliver_due(self) -> int:
        """One round: claim what is due, post it, record the attempts; how many were tried."""
        claimed = await self._outbox.claim_due(
            worker=self._settings.worker_id,
            limit=self._settings.batch,
            now=self._clock.now(),
            lease_seconds=self._settings.lease_seconds,
        )
        if not claimed:
            return 0
        results = await asyncio.gather(*(self._attempt(d) for d in claimed))
        disabled = await self._outbox.record_attempts(
            results, disable_after_seconds=self._settings.retry.disable_after.total_seconds()
        )
        for endpoint_id in disabled:
            logger.warning("Webhook endpoint %d disabled: it failed for a day", endpoint_id)
        return len(claimed)

    async def _run(self) -> None:
        await asyncio.gather(*(self._lane() for _ in range(max(1, self._settings.lanes))))

    async def _lane(self) -> None:
        while not self._stopping.is_set():
            try:
                if await self.deliver_due():
                    continue
            except Exception:
                logger.exception("Delivering status callbacks failed; trying again shortly")
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._stopping.wait(), self._settings.poll_seconds)

    async def _attempt(self, delivery: PendingDelivery) -> AttemptResult:
        secrets = [self._cipher.decrypt(c) for c in delivery.secret_ciphertexts]
        now = self._clock.now()
        headers = {
            "Content-Type": "application/json",
            SIGNATURE_HEADER: signature_header(secrets, int(now.timestamp()), delivery.body),
            "Mindo-Event-Id": delivery.event_id,
        }
        started = time.monotonic()
        async with self._limit:
            response = await self._sender.post(delivery.url, delivery.body, headers)
        seconds = time.monotonic() - started
        result = self._result(delivery, response, int(seconds * 1000))
        if self._telemetry is not None:
            self._telemetry.callback_attempted(outcome=_outcome(result), seconds=seconds)
        return result

    def _result(
        self, delivery: PendingDelivery, response: CallbackResponse, duration_ms: int
    ) -> AttemptResult:
        at = self._clock.now()
        delivered = is_success(response.status_code)
        retry_at = None
        if delivered:
            self.delivered += 1
        else:
            self.failed_attempts += 1
            retry_at = next_attempt_at(
                attempt=delivery.attempts + 1,
                status_code=response.status_code,
                retry_after=response.retry_after,
                first_at=delivery.created_at,
                now=at,
                policy=self._settings.retry,
            )
        return AttemptResult(
            delivery_id=delivery.id,
            endpoint_id=delivery.endpoint_id,
            at=at,
            status_code=response.status_code,
            error=response.error,
            delivered=delivered,
            retry_at=retry_at,
            duration_ms=duration_ms,
        )


def _outcome(result: AttemptResult) -> CallbackOutcome:
    if result.delivered:
        return "delivered"
    return "retry" if result.retry_at is not None else "given_up"
