"""Posts webhooks as Meta does: signed, batched, retried, and recorded.

Accepted sends are planned at once (``StatusPlanner``) and their statuses wait in a heap until
due. A background loop then posts rounds (``status_rounds``): it waits ``flush_interval_ms`` so
that batches fill, takes everything due, and posts it in batches of ``batch_size`` per phone
number, ``max_concurrent_posts`` at a time. A POST answered with anything but 2xx (or not at all)
is retried with a doubling backoff, up to ``max_attempts``, without holding up later rounds.

Waits go through the sandbox's ``Clock``: with a ``FakeClock`` every delay elapses at once (and
moves the clock, as every sandbox sleep does).
"""

from __future__ import annotations

import asyncio
import heapq
import itertools
import logging
import random
from collections.abc import Coroutine, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import aiohttp

from mindo_sandbox.accepted import AcceptedMessage
from mindo_sandbox.clock import Clock
from mindo_sandbox.status_plan import StatusPlanner
from mindo_sandbox.status_rounds import MessageTrack, Scheduled, select_round
from mindo_sandbox.webhook_config import WebhookConfig
from mindo_sandbox.webhook_log import SentWebhook, WebhookLog
from mindo_sandbox.webhook_payloads import (
    SIGNATURE_HEADER,
    account_body,
    encode,
    signature,
    statuses_body,
)

logger = logging.getLogger("mindo_sandbox.webhooks")

_MAX_BACKOFF_S = 600.0


@dataclass(frozen=True, kw_only=True)
class _Lane:
    """Statuses posted together share a WABA and a phone number (one entry, one change)."""

    waba_id: str
    phone_number_id: str
    display_phone_number: str


@dataclass(frozen=True, kw_only=True)
class _Outgoing:
    url: str
    field: str
    body: bytes
    signature: str


class WebhookSender:
    def __init__(self, config: WebhookConfig, clock: Clock) -> None:
        self._clock = clock
        self.log = WebhookLog(config.max_recorded)
        self._heap: list[Scheduled] = []
        self._duplicates: list[tuple[_Lane, dict[str, Any]]] = []
        self._seq = itertools.count()
        self._wake = asyncio.Event()
        self._changed = asyncio.Event()
        self._session: aiohttp.ClientSession | None = None
        self._loop_task: asyncio.Task[None] | None = None
        self._tasks: set[asyncio.Task[None]] = set()
        self._round_active = False
        self.configure(config)

    def configure(self, config: WebhookConfig) -> None:
        """A new configuration: fresh seeded sequences; statuses not yet posted are dropped."""
        self.config = config
        self._planner = StatusPlanner(config)
        self._duplicate_draws = random.Random(f"{config.seed}:duplicates")
        self._shuffle_draws = random.Random(f"{config.seed}:shuffle")
        self._semaphore = asyncio.Semaphore(config.max_concurrent_posts)
        self.log.resize(config.max_recorded)
        self._heap.clear()
        self._duplicates.clear()
        self._changed.set()

    # ----------------------------------------------------------------------------------------
    # What to post

    def on_accepted(self, message: AcceptedMessage) -> None:
        """Plans the message's statuses; called on the send's hot path, so it only schedules."""
        if self.config.callback_url is None:
            return
        plan = self._planner.plan(message.wa_id, message.at)
        track = MessageTrack(message, plan)
        for planned in plan.statuses:
            heapq.heappush(self._heap, Scheduled(planned.post_at, next(self._seq), track, planned))
        self._wake.set()

    def post_account_event(
        self, *, waba_id: str, field: str, value: Mapping[str, Any]
    ) -> tuple[dict[str, Any], bool]:
        """Posts an account notification now; returns its body and whether it was posted."""
        body = account_body(waba_id=waba_id, field=field, value=value, at=self._clock.time())
        return body, self.post_now(field=field, body=body)

    def post_now(self, *, field: str, body: Mapping[str, Any]) -> bool:
        """Posts a whole webhook body now (retried as any other); False if there is no callback
        URL or the sender is not running."""
        url = self.config.callback_url
        if url is None or not self.running:
            return False
        self._spawn(self._deliver(self._outgoing(url, field, body), attempt=1))
        return True

    # ----------------------------------------------------------------------------------------
    # Lifecycle

    @property
    def running(self) -> bool:
        return self._loop_task is not None

    async def start(self) -> None:
        if self._loop_task is not None:
            return
        self._session = aiohttp.ClientSession()
        self._loop_task = asyncio.get_running_loop().create_task(self._run())

    async def stop(self) -> None:
        tasks = [*self._tasks, *([self._loop_task] if self._loop_task else [])]
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
        self._loop_task = None
        if self._session is not None:
            await self._session.close()
            self._session = None

    def pending(self) -> int:
        """Statuses not yet posted, plus rounds and posts (retries included) still going."""
        busy = len(self._tasks) + (1 if self._round_active else 0)
        return len(self._heap) + len(self._duplicates) + busy

    async def drain(self) -> None:
        """Wait until everything scheduled has been posted and every retry is over (with a held
        ``FakeClock``, release it first: the sender waits on it)."""
        if not self.running:
            raise RuntimeError("the webhook sender is not running")
        while self.pending():
            self._changed.clear()
            await self._changed.wait()

    # ----------------------------------------------------------------------------------------
    # The loop

    async def _run(self) -> None:
        while True:
            await self._until_due()
            await self._clock.sleep(self.config.flush_interval_ms / 1000.0)
            self._round_active = True
            try:
                await self._post_round(self._take_round())
            except Exception:  # a bug must not silence every later webhook
                logger.exception("posting a round of status webhooks failed")
            finally:
                self._round_active = False
                self._changed.set()

    async def _until_due(self) -> None:
        while True:
            self._wake.clear()
            if self._duplicates:
                return
            if not self._heap:
                await self._wake.wait()
                continue
            wait = self._heap[0].post_at - self._clock.time()
            if wait <= 0:
                return
            await self._sleep_or_wake(wait)

    async def _sleep_or_wake(self, seconds: float) -> None:
        """Sleep on the clock, unless a newly accepted message is due sooner."""
        sleeper = asyncio.ensure_future(self._clock.sleep(seconds))
        waker = asyncio.ensure_future(self._wake.wait())
        try:
            await asyncio.wait({sleeper, waker}, return_when=asyncio.FIRST_COMPLETED)
        finally:
            sleeper.cancel()
            waker.cancel()

    def _take_round(self) -> list[_Outgoing]:
        now = self._clock.time()
        due: list[Scheduled] = []
        while self._heap and self._heap[0].post_at <= now:
            due.append(heapq.heappop(self._heap))
        posted, put_off = select_round(due)
        for item in put_off:
            heapq.heappush(self._heap, item)
        lanes: dict[_Lane, list[dict[str, Any]]] = {}
        for lane, status in self._duplicates:
            lanes.setdefault(lane, []).append(status)
        self._duplicates = []
        for item in posted:
            lane = _lane_of(item.track.message)
            status = item.track.status_object(item.planned)
            lanes.setdefault(lane, []).append(status)
            if self._draw(self._duplicate_draws, self.config.duplicate_rate):
                self._duplicates.append((lane, status))
        return [out for lane, statuses in lanes.items() for out in self._batches(lane, statuses)]

    def _batches(self, lane: _Lane, statuses: Sequence[dict[str, Any]]) -> list[_Outgoing]:
        url = self.config.callback_url
        if url is None:
            return []
        size = self.config.batch_size
        batches = []
        for start in range(0, len(statuses), size):
            batch = list(statuses[start : start + size])
            if self._draw(self._shuffle_draws, self.config.reorder_rate):
                self._shuffle_draws.shuffle(batch)
            body = statuses_body(
                waba_id=lane.waba_id,
                phone_number_id=lane.phone_number_id,
                display_phone_number=lane.display_phone_number,
                statuses=batch,
            )
            batches.append(self._outgoing(url, "messages", body))
        return batches

    @staticmethod
    def _draw(draws: random.Random, rate: float) -> bool:
        # A zero rate draws nothing, so enabling one knob does not shift another's sequence.
        return bool(rate) and draws.random() < rate

    def _outgoing(self, url: str, field: str, body: Mapping[str, Any]) -> _Outgoing:
        raw = encode(body)
        return _Outgoing(
            url=url, field=field, body=raw, signature=signature(raw, self.config.app_secret)
        )

    # ----------------------------------------------------------------------------------------
    # Posting

    async def _post_round(self, batches: list[_Outgoing]) -> None:
        """First attempts of a round together; retries go on while later rounds are posted."""
        answered = await asyncio.gather(*(self._attempt(out, 1) for out in batches))
        for out, ok in zip(batches, answered, strict=True):
            if not ok and self.config.max_attempts > 1:
                self._spawn(self._retry(out))

    async def _retry(self, out: _Outgoing) -> None:
        await self._clock.sleep(self._backoff(1))
        await self._deliver(out, attempt=2)

    async def _deliver(self, out: _Outgoing, *, attempt: int) -> None:
        while not await self._attempt(out, attempt) and attempt < self.config.max_attempts:
            await self._clock.sleep(self._backoff(attempt))
            attempt += 1

    def _backoff(self, failed_attempts: int) -> float:
        first = self.config.retry_backoff_ms / 1000.0
        return min(_MAX_BACKOFF_S, first * 2.0 ** (failed_attempts - 1))

    async def _attempt(self, out: _Outgoing, attempt: int) -> bool:
        async with self._semaphore:
            status, error = await self._post(out)
        self.log.add(
            SentWebhook(
                seq=self.log.next_seq(),
                at=self._clock.time(),
                url=out.url,
                field=out.field,
                attempt=attempt,
                body=out.body.decode("utf-8"),
                signature=out.signature,
                status=status,
                error=error,
            )
        )
        return status is not None and 200 <= status < 300

    async def _post(self, out: _Outgoing) -> tuple[int | None, str | None]:
        if self._session is None:
            return None, "the webhook sender is not running"
        headers = {
            "Content-Type": "application/json",
            "User-Agent": "facebookexternalua",
            SIGNATURE_HEADER: out.signature,
        }
        timeout = aiohttp.ClientTimeout(total=self.config.post_timeout_ms / 1000.0)
        try:
            async with self._session.post(
                out.url, data=out.body, headers=headers, timeout=timeout
            ) as response:
                await response.read()
                return response.status, None
        except (aiohttp.ClientError, TimeoutError) as exc:
            return None, f"{type(exc).__name__}: {exc}"

    def _spawn(self, work: Coroutine[Any, Any, None]) -> None:
        task = asyncio.get_running_loop().create_task(work)
        self._tasks.add(task)
        task.add_done_callback(self._task_done)

    def _task_done(self, task: asyncio.Task[None]) -> None:
        self._tasks.discard(task)
        self._changed.set()


def _lane_of(message: AcceptedMessage) -> _Lane:
    number = message.phone_number
    return _Lane(
        waba_id=message.waba_id,
        phone_number_id=number.id,
        display_phone_number=number.display_phone_number,
    )
