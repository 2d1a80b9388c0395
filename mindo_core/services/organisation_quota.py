"""The organisation's quota as single sends and business-accounts see it: one reading, one rule.

The portfolio's limit is Meta's count of unique recipients in a rolling 24 hours (``quota``).
Room for a new recipient is what the window leaves after the recipients running bulks were
promised (``quota.window``, "Room promised to bulks"); ``BusinessOverviewQuery`` shows that
room as ``remaining`` and ``SendMessage`` refuses a new recipient when there is none, so what
business-accounts shows is what a single send gets.

Concurrency. Between reading the window and recording its message a send is in flight; two
sends to different new recipients must not both take the last slot, whichever processes they
go through. Each process decides, per organisation, one batch at a time (one task decides every
send that asked while the previous batch was decided, in order, on one reading), through the
``QuotaLedger``: it reads and reserves atomically per organisation (on PostgreSQL under a lock
every process takes, with reservations every process sees), and a new recipient let through
holds its reservation until its message is recorded (released lazily then: the window has it)
or its send fails (released at once). Nothing is held across Meta's call but the reservation.

A batch's decision costs the batch, not the window: the ledger may hand it a reading of the
window reused for its refresh interval (``QuotaLedger``), whose times come sorted, counted as
read. ``read`` (business-accounts' ``remaining``) is not on the hot path and reads the whole
book each time.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Mapping, Sequence
from collections.abc import Set as AbstractSet
from contextlib import asynccontextmanager
from dataclasses import dataclass
from datetime import datetime
from functools import cached_property

from mindo_core.domain.accounts import OrganisationId, PhoneNumber
from mindo_core.domain.clock import Clock
from mindo_core.domain.errors import QuotaExceeded
from mindo_core.domain.tiers import DEFAULT_TIER, QUOTA_WINDOW, Tier, tier_or_default
from mindo_core.ports.accounts import AccountStore
from mindo_core.ports.quota import QuotaBook, QuotaLedger, ReservationId
from mindo_core.quota.window import LiveWindow, QuotaSnapshot, quota_snapshot
from mindo_core.services.short_lived import ShortLived


@dataclass(frozen=True, kw_only=True)
class QuotaReading:
    """The book as read, for decisions at ``now``."""

    tier: Tier
    book: QuotaBook
    now: datetime

    @property
    def window(self) -> Mapping[str, datetime]:
        return self.book.window

    @cached_property
    def promised(self) -> AbstractSet[str]:
        """wa_ids owed (running bulks' pending recipients, sends in flight) not in the window."""
        return self.book.owed_outside_window()

    def snapshot(self) -> QuotaSnapshot:
        return quota_snapshot(
            self.tier, unique_sent_24h=len(self.window), promised=len(self.promised)
        )


class OrganisationQuota:
    def __init__(self, *, accounts: AccountStore, ledger: QuotaLedger, clock: Clock) -> None:
        self._accounts = accounts
        self._ledger = ledger
        self._clock = clock
        # The portfolio's tier, read at most once a second (a tier change is seen within it).
        self._tiers: ShortLived[OrganisationId, Tier] = ShortLived(clock)
        # Sends waiting for a decision, and the task deciding them, per organisation.
        self._asking: dict[OrganisationId, list[_Asking]] = {}
        self._deciding: dict[OrganisationId, asyncio.Task[None]] = {}
        # Releases of reservations whose callers went away, kept until done.
        self._giving_back: set[asyncio.Future[None]] = set()

    async def read(self, organisation_id: OrganisationId, tier: Tier | None = None) -> QuotaReading:
        """The organisation's quota now; ``tier`` when the caller has read it already."""
        now = self._clock.now()
        book = await self._ledger.read(organisation_id, since=now - QUOTA_WINDOW)
        tier = tier or await self._portfolio_tier(organisation_id)
        return QuotaReading(tier=tier, book=book, now=now)

    @asynccontextmanager
    async def reserve(self, organisation_id: OrganisationId, wa_id: str) -> AsyncIterator[None]:
        """Room for one message to ``wa_id``, held until the block ends: ``QuotaExceeded`` when
        it is new to the window and none is left. The block ends normally only once the message
        is recorded as accepted by Meta (so the window counts it); an exception gives the room
        back. An unlimited tier counts nothing."""
        tier = await self._portfolio_tier(organisation_id)
        if tier.daily_limit is None:
            yield
            return
        reservation = await self._admitted(organisation_id, wa_id, tier)
        recorded = False
        try:
            yield
            recorded = True
        finally:
            if reservation is not None:
                # Shielded: a caller cancelled mid-send still gives its slot back.
                await asyncio.shield(
                    self._ledger.release(organisation_id, [reservation], recorded=recorded)
                )

    async def _admitted(
        self, organisation_id: OrganisationId, wa_id: str, tier: Tier
    ) -> ReservationId | None:
        """Waits for the decision on ``wa_id``; admitted, its reservation (None: in the window
        already, it needs none)."""
        asking = _Asking(wa_id, asyncio.get_running_loop().create_future())
        self._asking.setdefault(organisation_id, []).append(asking)
        if organisation_id not in self._deciding:
            self._deciding[organisation_id] = asyncio.create_task(
                self._decide(organisation_id, tier)
            )
        try:
            return await asyncio.shield(asking.decision)
        except asyncio.CancelledError:
            # Its caller went away: a reservation made for it meanwhile is given back.
            asking.decision.add_done_callback(
                lambda _: self._give_back(organisation_id, asking.decision)
            )
            raise

    async def _decide(self, organisation_id: OrganisationId, tier: Tier) -> None:
        """Answers every send waiting on the organisation, one decision for all that asked
        meanwhile (the next batch is whoever asked while one was decided)."""
        try:
            while asking := self._asking.pop(organisation_id, None):
                try:
                    await self._decide_batch(organisation_id, tier, asking)
                except BaseException as error:
                    # No caller waits forever: those not answered get the failure (a database
                    # error, or the service stopping).
                    for each in asking:
                        if not each.decision.done():
                            each.decision.set_exception(error)
                            each.decision.exception()  # retrieved: a caller gone does not log it
                    if not isinstance(error, Exception):
                        raise
        finally:
            del self._deciding[organisation_id]

    async def _decide_batch(
        self, organisation_id: OrganisationId, tier: Tier, asking: list[_Asking]
    ) -> None:
        now = self._clock.now()
        verdicts: list[Verdict] = []

        def decision(book: QuotaBook) -> list[str]:
            reading = QuotaReading(tier=tier, book=book, now=now)
            verdicts[:] = decide_batch(reading, [a.wa_id for a in asking])
            return [v.wa_id for v in verdicts if v.reserves]

        reservations = iter(
            await self._ledger.decide(organisation_id, since=now - QUOTA_WINDOW, decision=decision)
        )
        # Answered only now, once the reservations are durable.
        for each, verdict in zip(asking, verdicts, strict=True):
            if verdict.refused is not None:
                each.decision.set_exception(verdict.refused)
                each.decision.exception()  # retrieved: a caller gone does not log it
            else:
                each.decision.set_result(next(reservations) if verdict.reserves else None)

    def _give_back(
        self, organisation_id: OrganisationId, decision: asyncio.Future[ReservationId | None]
    ) -> None:
        if decision.cancelled() or decision.exception() is not None:
            return
        reservation = decision.result()
        if reservation is not None:
            release = self._ledger.release(organisation_id, [reservation], recorded=False)
            task = asyncio.ensure_future(release)
            self._giving_back.add(task)
            task.add_done_callback(self._giving_back.discard)

    async def _portfolio_tier(self, organisation_id: OrganisationId) -> Tier:
        return await self._tiers.get_or_read(
            organisation_id, lambda: self._read_portfolio_tier(organisation_id)
        )

    async def _read_portfolio_tier(self, organisation_id: OrganisationId) -> Tier:
        numbers: list[PhoneNumber] = []
        for account in await self._accounts.list_business_accounts(organisation_id):
            numbers.extend(await self._accounts.list_phone_numbers(account.id))
        return portfolio_tier(numbers)


@dataclass(frozen=True)
class _Asking:
    wa_id: str
    decision: asyncio.Future[ReservationId | None]


@dataclass(frozen=True)
class Verdict:
    """One send's answer in a batch: refused (with when room frees), or let through, holding a
    reservation when its recipient is not in the window."""

    wa_id: str
    refused: QuotaExceeded | None
    reserves: bool


def decide_batch(reading: QuotaReading, wa_ids: Sequence[str]) -> list[Verdict]:
    """The answers to sends to ``wa_ids``, in order, on one reading: a recipient in the window
    or owed already goes; a new one goes while room is left, and is owed from then on."""
    live: LiveWindow | None = None
    owed = set(reading.promised)
    verdicts: list[Verdict] = []
    for wa_id in wa_ids:
        in_window = wa_id in reading.window
        if not in_window and wa_id not in owed:
            if not _fits(reading, promised=len(owed)):
                # The times only when room is short, for when it frees: as read, every one
                # counted, so a decision costs its batch, not the window.
                live = live or LiveWindow.counted(
                    reading.tier, oldest_first=reading.book.times(), now=reading.now
                )
                room = live.room(promised=len(owed))
                if room.frees_at is not None:
                    refused = QuotaExceeded(frees_at=room.frees_at, now=reading.now)
                    verdicts.append(Verdict(wa_id, refused, reserves=False))
                    continue
            owed.add(wa_id)
        verdicts.append(Verdict(wa_id, None, reserves=not in_window))
    return verdicts


def _fits(reading: QuotaReading, *, promised: int) -> bool:
    """Room for one more new recipient, every entry of the window counted (``LiveWindow.room``
    on ``LiveWindow.counted`` answers the same, and when room frees)."""
    limit = reading.tier.daily_limit
    return limit is None or len(reading.window) + promised < limit


def portfolio_tier(numbers: Sequence[PhoneNumber]) -> Tier:
    """The organisation's tier: Meta reports the portfolio's limit on each of its numbers;
    should they disagree (one read before a tier change), the highest, as Meta applies the new
    tier to the whole portfolio."""
    tiers = [tier_or_default(n.messaging_limit_tier) for n in numbers]
    if not tiers:
        return DEFAULT_TIER
    unlimited = [t for t in tiers if t.daily_limit is None]
    if unlimited:
        return unlimited[0]
    return max(tiers, key=lambda t: t.daily_limit or 0)
