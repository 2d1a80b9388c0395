"""The organisation's quota as single sends and business-accounts see it: one reading, one rule.

The portfolio's limit is Meta's count of unique recipients in a rolling 24 hours (``quota``).
Room for a new recipient is what the window leaves after the recipients running bulks were
promised (``quota.window``, "Room promised to bulks"); ``BusinessOverviewQuery`` shows that
room as ``remaining`` and ``SendMessage`` refuses a new recipient when there is none, so what
business-accounts shows is what a single send gets.

Concurrency. Between reading the window and recording its message a send is in flight; two
sends to different new recipients must not both take the last slot. Each process decides, per
organisation, one batch at a time (one task reads the window once for every send that asked
while the previous batch was decided, and decides them in order), and holds the new
recipients it let through whose messages are not recorded yet (``reserve``): they count as
promised until released. Nothing is held across Meta's call but the reservation. Several
processes sharing a database do not see each other's reservations: that is the scale-out
work's (a shared reservation in the store), not this module's.
"""

from __future__ import annotations

import asyncio
from collections import Counter
from collections.abc import AsyncIterator, Mapping, Sequence
from collections.abc import Set as AbstractSet
from contextlib import asynccontextmanager
from dataclasses import dataclass
from datetime import datetime

from mindo_core.domain.accounts import OrganisationId, PhoneNumber
from mindo_core.domain.clock import Clock
from mindo_core.domain.errors import QuotaExceeded
from mindo_core.domain.tiers import DEFAULT_TIER, QUOTA_WINDOW, Tier, tier_or_default
from mindo_core.ports.accounts import AccountStore
from mindo_core.ports.bulks import BulkStore
from mindo_core.quota.window import LiveWindow, QuotaSnapshot, quota_snapshot
from mindo_core.services.short_lived import ShortLived


@dataclass(frozen=True, kw_only=True)
class QuotaReading:
    """The window and what is promised, read at ``now``."""

    tier: Tier
    window: Mapping[str, datetime]
    # wa_ids owed (running bulks' pending recipients, sends in flight) not in the window.
    promised: AbstractSet[str]
    now: datetime

    def snapshot(self) -> QuotaSnapshot:
        return quota_snapshot(
            self.tier, unique_sent_24h=len(self.window), promised=len(self.promised)
        )


class OrganisationQuota:
    def __init__(self, *, accounts: AccountStore, bulks: BulkStore, clock: Clock) -> None:
        self._accounts = accounts
        self._bulks = bulks
        self._clock = clock
        # The portfolio's tier, read at most once a second (a tier change is seen within it).
        self._tiers: ShortLived[OrganisationId, Tier] = ShortLived(clock)
        # Sends waiting for a decision, and the task deciding them, per organisation.
        self._asking: dict[OrganisationId, list[tuple[str, asyncio.Future[None]]]] = {}
        self._deciding: dict[OrganisationId, asyncio.Task[None]] = {}
        # Per organisation: the new recipients let through whose messages are not recorded yet,
        # with how many sends to each are in flight.
        self._in_flight: dict[OrganisationId, Counter[str]] = {}

    async def read(self, organisation_id: OrganisationId, tier: Tier | None = None) -> QuotaReading:
        """The organisation's quota now; ``tier`` when the caller has read it already."""
        now = self._clock.now()
        window = await self._bulks.recipient_window(organisation_id, now - QUOTA_WINDOW)
        owed = set(await self._bulks.promised_recipients(organisation_id))
        owed.update(self._in_flight.get(organisation_id, ()))
        return QuotaReading(
            tier=tier or await self._portfolio_tier(organisation_id),
            window=window,
            promised=owed.difference(window),
            now=now,
        )

    @asynccontextmanager
    async def reserve(self, organisation_id: OrganisationId, wa_id: str) -> AsyncIterator[None]:
        """Room for one message to ``wa_id``, held until the block ends (its message recorded):
        ``QuotaExceeded`` when it is new to the window and none is left. An unlimited tier
        counts nothing."""
        tier = await self._portfolio_tier(organisation_id)
        if tier.daily_limit is None:
            yield
            return
        await self._admitted(organisation_id, wa_id, tier)
        try:
            yield
        finally:
            self._release(organisation_id, wa_id)

    async def _admitted(self, organisation_id: OrganisationId, wa_id: str, tier: Tier) -> None:
        """Waits for the decision on ``wa_id``; admitted, it holds its reservation."""
        decision: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self._asking.setdefault(organisation_id, []).append((wa_id, decision))
        if organisation_id not in self._deciding:
            self._deciding[organisation_id] = asyncio.create_task(
                self._decide(organisation_id, tier)
            )
        try:
            await asyncio.shield(decision)
        except asyncio.CancelledError:
            # Its caller went away: a reservation made for it meanwhile is given back.
            decision.add_done_callback(lambda _: self._give_back(organisation_id, wa_id, decision))
            raise

    async def _decide(self, organisation_id: OrganisationId, tier: Tier) -> None:
        """Answers every send waiting on the organisation, one reading of the window for all
        that asked meanwhile (the next batch is whoever asked while one was decided)."""
        try:
            while asking := self._asking.pop(organisation_id, None):
                try:
                    reading = await self.read(organisation_id, tier)
                    self._decide_batch(organisation_id, reading, asking)
                except BaseException as error:
                    # No caller waits forever: those not answered get the failure (a database
                    # error, or the service stopping).
                    for _, decision in asking:
                        if not decision.done():
                            decision.set_exception(error)
                            decision.exception()  # retrieved: a caller gone does not log it
                    if not isinstance(error, Exception):
                        raise
        finally:
            del self._deciding[organisation_id]

    def _decide_batch(
        self,
        organisation_id: OrganisationId,
        reading: QuotaReading,
        asking: list[tuple[str, asyncio.Future[None]]],
    ) -> None:
        live = LiveWindow.of(
            reading.tier, window_entries=list(reading.window.values()), now=reading.now
        )
        owed = set(reading.promised)
        for wa_id, decision in asking:
            if wa_id not in reading.window and wa_id not in owed:
                room = live.room(promised=len(owed))
                if room.frees_at is not None:
                    decision.set_exception(QuotaExceeded(frees_at=room.frees_at, now=reading.now))
                    decision.exception()  # retrieved: a caller gone does not log it
                    continue
                owed.add(wa_id)
            self._in_flight.setdefault(organisation_id, Counter())[wa_id] += 1
            decision.set_result(None)

    def _give_back(
        self, organisation_id: OrganisationId, wa_id: str, decision: asyncio.Future[None]
    ) -> None:
        if not decision.cancelled() and decision.exception() is None:
            self._release(organisation_id, wa_id)

    def _release(self, organisation_id: OrganisationId, wa_id: str) -> None:
        in_flight = self._in_flight[organisation_id]
        in_flight[wa_id] -= 1
        if in_flight[wa_id] <= 0:
            del in_flight[wa_id]
        if not in_flight:
            del self._in_flight[organisation_id]

    async def _portfolio_tier(self, organisation_id: OrganisationId) -> Tier:
        tier = self._tiers.get(organisation_id)
        if tier is None:
            numbers: list[PhoneNumber] = []
            for account in await self._accounts.list_business_accounts(organisation_id):
                numbers.extend(await self._accounts.list_phone_numbers(account.id))
            tier = portfolio_tier(numbers)
            self._tiers.put(organisation_id, tier)
        return tier


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
