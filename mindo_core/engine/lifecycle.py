"""The engine's lifecycle: which numbers it holds, which bulks run on which number's runner,
from start to stop.

Ownership. Exactly one engine sends for a phone number at a time (``ports.ownership``). A
keeper task renews this engine's heartbeat and leases every quarter of ``lease_seconds`` and
records in the ``Tenure`` until when each number is held; a runner starts no send outside it,
so a cut-off engine stops on time even if its supervisor is stuck. On every pass the supervisor
shares the numbers with work out between the live engines (``decisions.fair_share``): it closes
the runners of numbers it lost, hands over gracefully the numbers it holds beyond its share (the
runner drained, then the lease released), and takes numbers free or left to expire, up to its
share. A number taken over has its previous owner's in-flight recipients settled by the crash
policy, by the taker only (``settle_in_flight`` scoped to the number, guarded by the lease).

Where the engine runs alone (``sole_engine``: SQLite, tests), ``settle_previous_run`` is the
first thing a start does: every recipient a previous process left in flight with its call
started is settled by the crash policy (``unconfirmed`` by default, never resent); those
claimed and never called go back to pending.

Work. The ``Supervisor`` reads ``bulks_to_run`` (QUEUED and PROCESSING bulks) on start, whenever
it is woken (a bulk was submitted) and every ``poll_interval``, hands each number it holds its
bulks, starts a ``NumberRunner`` for a number with work and closes the runner of a number left
idle. Before each read it starts the SCHEDULED bulks whose time has come (``start_scheduled``),
and it rests no longer than until the next one's ``send_at``, so that a scheduled bulk starts on
time whatever the poll interval.
"""

from __future__ import annotations

import asyncio
import logging
import random
from collections.abc import Sequence
from datetime import datetime

from mindo_core.bulks.model import Bulk, BulkId
from mindo_core.domain.accounts import PhoneNumberRowId
from mindo_core.engine.decisions import fair_share
from mindo_core.engine.number_runner import NumberRunner
from mindo_core.engine.parts import EngineParts

__all__ = ["Supervisor", "settle_previous_run"]

logger = logging.getLogger("mindo.bulk_engine")

# Renewals per lease: a lease survives two failed renewals in a row.
_RENEWALS_PER_LEASE = 4


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
        self._worker = parts.settings.worker_id
        self._runners: dict[PhoneNumberRowId, NumberRunner] = {}
        self._wake = asyncio.Event()
        # The earliest send_at of a SCHEDULED bulk still waiting (None: none waits).
        self._next_scheduled: datetime | None = None
        self._stopping = False
        self._task: asyncio.Task[None] | None = None
        self._keeper: asyncio.Task[None] | None = None
        self._live_workers = 1
        self._shuffle = random.Random(parts.settings.seed)
        # When to look next for a dead worker's leftovers in bulks that are over (monotonic).
        self._orphans_due_at = 0.0

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

    async def start(self) -> None:
        self._stopping = False
        if not self._parts.ownership.sole_engine:
            await self._renew()  # the heartbeat first, so that others count this engine
            self._keeper = asyncio.create_task(self._keep(), name="mindo-number-leases")
        self._task = asyncio.create_task(self._supervise(), name="mindo-bulk-supervisor")

    async def stop(self) -> None:
        """Stop looking for work, then close every runner (the leases are still renewed:
        ``hand_over`` ends them once the outcomes are written)."""
        self._stopping = True
        self.wake()
        if self._task is not None:
            await self._task  # it ends at the top of its loop, never halfway
            self._task = None
        runners = list(self._runners.values())
        self._runners.clear()
        await asyncio.gather(*(runner.close() for runner in runners))

    async def hand_over(self) -> None:
        """Every number this engine holds is free for another at once (after ``stop``)."""
        if self._keeper is not None:
            self._keeper.cancel()
            await asyncio.gather(self._keeper, return_exceptions=True)
            self._keeper = None
        self._parts.tenure.remove(self._parts.tenure.held(self._parts.clock.monotonic()))
        await self._parts.ownership.leave(self._worker)

    # -- leases ----------------------------------------------------------------------------------

    async def _keep(self) -> None:
        interval = self._parts.ownership.lease_seconds / _RENEWALS_PER_LEASE
        while True:
            await asyncio.sleep(interval)
            try:
                await self._renew()
            except Exception:  # the tenure runs out on its own if this goes on
                logger.exception("Could not renew this worker's number leases")

    async def _renew(self) -> None:
        parts = self._parts
        began = parts.clock.monotonic()
        before = parts.tenure.held(began)
        tenancy = await parts.ownership.renew(self._worker)
        parts.tenure.renewed(
            tenancy.held, began_at=began, lease_seconds=parts.ownership.lease_seconds
        )
        self._live_workers = tenancy.live_workers
        lost = before - tenancy.held
        if lost:
            logger.warning("Lost the lease of phone number rows %s", sorted(lost))
            self.wake()

    async def _balance(self, bulks: Sequence[Bulk]) -> None:
        """Close what was lost, hand over the excess, take up to the share (see the module)."""
        parts = self._parts
        tenure = parts.tenure
        now = parts.clock.monotonic()
        for number in [n for n in self._runners if not tenure.holds(n, now)]:
            logger.warning("Phone number row %s is no longer held: its runner stops", number)
            await self._runners.pop(number).close()
        with_work = list(dict.fromkeys(bulk.phone_number_row_id for bulk in bulks))
        held = tenure.held(now)
        idle = [n for n in held if n not in with_work and n not in self._runners]
        mine = [n for n in with_work if n in held]
        share = fair_share(len(with_work), self._live_workers)
        excess = mine[share:] if not parts.ownership.sole_engine else []
        for number in excess:
            runner = self._runners.pop(number, None)
            if runner is not None:
                await runner.close()
            logger.info("Handing phone number row %s over to another worker", number)
        if excess:
            await parts.outcomes.flush()  # its outcomes land before another owner claims
        if idle or excess:
            await parts.ownership.release(self._worker, [*idle, *excess])
            tenure.remove([*idle, *excess])
        if len(mine) < share:
            await self._take([n for n in with_work if n not in held], share - len(mine))
        if not parts.ownership.sole_engine and now >= self._orphans_due_at:
            self._orphans_due_at = now + parts.ownership.lease_seconds
            await self._settle_orphans(with_work)

    async def _take(self, candidates: list[PhoneNumberRowId], limit: int) -> None:
        parts = self._parts
        self._shuffle.shuffle(candidates)  # workers racing for the same numbers spread out
        began = parts.clock.monotonic()
        taken = await parts.ownership.acquire(self._worker, candidates, limit=limit)
        if taken and not parts.ownership.sole_engine:
            # Slots others took before the lease was ours (single sends, the previous owner's
            # last ones) run out first; held only then, so no send of ours comes before.
            for number, seconds in (await parts.ownership.paced_by_others(taken)).items():
                parts.throughputs.hold_until(number, parts.clock.monotonic() + seconds)
        lease = parts.ownership.lease_seconds
        parts.tenure.add(taken, began_at=began, lease_seconds=lease)
        if not taken or parts.ownership.sole_engine:
            return
        await parts.outcomes.flush()  # this engine's own word on those numbers comes first
        policy = parts.settings.crash_policy
        for number in sorted(taken):
            settled = await parts.bulks.settle_in_flight(
                policy=policy, now=parts.clock.now(), number=number, owner=self._worker
            )
            logger.info(
                "Took phone number row %s over; settled %d recipients its previous owner "
                "left in flight (%s)",
                number,
                settled,
                policy,
            )

    async def _settle_orphans(self, with_work: list[PhoneNumberRowId]) -> None:
        """Numbers nobody holds, without work, whose bulks a dead worker left recipients in
        flight in (the bulk stopped or cancelled meanwhile): taken just long enough to settle
        those, then released."""
        parts = self._parts
        now = parts.clock.monotonic()
        orphaned = [
            number
            for number in sorted(await parts.bulks.numbers_in_flight())
            if number not in with_work
            and number not in self._runners
            and not parts.tenure.holds(number, now)
        ]
        if not orphaned:
            return
        taken = await parts.ownership.acquire(self._worker, orphaned, limit=len(orphaned))
        try:
            for number in sorted(taken):
                settled = await parts.bulks.settle_in_flight(
                    policy=parts.settings.crash_policy,
                    now=parts.clock.now(),
                    number=number,
                    owner=self._worker,
                )
                if settled:
                    logger.info(
                        "Settled %d recipients a previous owner of phone number row %s left "
                        "in flight in bulks that are over",
                        settled,
                        number,
                    )
        finally:
            await parts.ownership.release(self._worker, taken)

    # -- work ------------------------------------------------------------------------------------

    async def _supervise(self) -> None:
        while not self._stopping:
            try:
                self._next_scheduled = await self._parts.bulks.start_scheduled(
                    self._parts.clock.now()
                )
                bulks = await self._parts.bulks.bulks_to_run()
                await self._balance(bulks)
                now = self._parts.clock.monotonic()
                tenure = self._parts.tenure
                self._assign([b for b in bulks if tenure.holds(b.phone_number_row_id, now)])
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
