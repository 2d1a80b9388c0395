"""The engine's lifecycle: which bulks run, on which number's runner, from start to stop.

``settle_previous_run`` is the first thing a start does: every recipient a previous process
left in flight is settled: back to pending if its call never started, else by the crash policy
(``unconfirmed`` by default, never resent). The
``Supervisor`` then reads ``bulks_to_run`` (QUEUED and PROCESSING bulks) on start, whenever it
is woken (a bulk was submitted) and every ``poll_interval``, hands each phone number its
bulks, starts a ``NumberRunner`` for a number with work and closes the runner of a number
left idle. Before each read it starts the SCHEDULED bulks whose time has come
(``start_scheduled``), and it rests no longer than until the next one's ``send_at``, so that a
scheduled bulk starts on time whatever the poll interval.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Sequence
from datetime import datetime

from mindo_core.bulks.model import Bulk, BulkId
from mindo_core.domain.accounts import PhoneNumberRowId
from mindo_core.engine.number_runner import NumberRunner
from mindo_core.engine.parts import EngineParts

__all__ = ["Supervisor", "settle_previous_run"]

logger = logging.getLogger("mindo.bulk_engine")


async def settle_previous_run(parts: EngineParts) -> None:
    """Settle what a previous process left in flight, by the engine's crash policy."""
    policy = parts.settings.crash_policy
    settled = await parts.bulks.settle_in_flight(policy=policy, now=parts.clock.now())
    if settled:
        logger.warning(
            "Settled %d recipients left in flight by a previous run (%s)", settled, policy
        )


class Supervisor:
    def __init__(self, parts: EngineParts) -> None:
        self._parts = parts
        self._runners: dict[PhoneNumberRowId, NumberRunner] = {}
        self._wake = asyncio.Event()
        # The earliest send_at of a SCHEDULED bulk still waiting (None: none waits).
        self._next_scheduled: datetime | None = None
        self._stopping = False
        self._task: asyncio.Task[None] | None = None

    def wake(self) -> None:
        self._wake.set()

    def drop(self, bulk_id: BulkId) -> None:
        for runner in self._runners.values():
            runner.drop(bulk_id)
        self.wake()

    def refresh_number(self, phone_number_row_id: PhoneNumberRowId) -> None:
        runner = self._runners.get(phone_number_row_id)
        if runner is not None:
            runner.refresh_number()

    def start(self) -> None:
        self._stopping = False
        self._task = asyncio.create_task(self._supervise(), name="mindo-bulk-supervisor")

    async def stop(self) -> None:
        """Stop looking for work, then close every runner."""
        self._stopping = True
        self.wake()
        if self._task is not None:
            await self._task  # it ends at the top of its loop, never halfway
            self._task = None
        runners = list(self._runners.values())
        self._runners.clear()
        await asyncio.gather(*(runner.close() for runner in runners))

    async def _supervise(self) -> None:
        while not self._stopping:
            try:
                self._next_scheduled = await self._parts.bulks.start_scheduled(
                    self._parts.clock.now()
                )
                self._assign(await self._parts.bulks.bulks_to_run())
                await self._retire_idle_runners()
            except Exception:
                logger.exception("Could not read the bulk sends to run; trying again")
            if not self._stopping:
                await self._rest()

    async def _rest(self) -> None:
        try:
            async with asyncio.timeout(self._rest_seconds()):
                await self._wake.wait()
        except TimeoutError:
            pass
        self._wake.clear()

    def _rest_seconds(self) -> float:
        rest = self._parts.settings.poll_interval
        if self._next_scheduled is None:
            return rest
        until = (self._next_scheduled - self._parts.clock.now()).total_seconds()
        return max(0.0, min(rest, until))

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
