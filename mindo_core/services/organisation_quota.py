"""The organisation's quota as single sends and business-accounts see it: one reading, one rule.

The portfolio's limit is Meta's count of unique recipients in a rolling 24 hours (``quota``).
Room for a new recipient is what the window leaves after the recipients running bulks were
promised (``quota.window``, "Room promised to bulks"); ``BusinessOverviewQuery`` shows that
room as ``remaining`` and ``SendMessage`` refuses a new recipient when there is none, so what
business-accounts shows is what a single send gets.

Concurrency. Between reading the window and recording its message a send is in flight; two
sends to different new recipients must not both take the last slot. Each process holds, per
organisation, a lock over the check and the set of new recipients it let through whose
messages are not recorded yet (``reserve``): they count as promised until released. The lock
is held for the reads only, never across Meta's call. Several processes sharing a database
do not see each other's reservations: that is the scale-out work's (a shared reservation in
the store), not this module's.
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
from mindo_core.quota.window import QuotaSnapshot, new_recipient_room, quota_snapshot
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

    def costs_nothing(self, wa_id: str) -> bool:
        """Already in the window, or already owed a slot: messaging it takes no more room."""
        return wa_id in self.window or wa_id in self.promised


class OrganisationQuota:
    def __init__(self, *, accounts: AccountStore, bulks: BulkStore, clock: Clock) -> None:
        self._accounts = accounts
        self._bulks = bulks
        self._clock = clock
        # The portfolio's tier, read at most once a second (a tier change is seen within it).
        self._tiers: ShortLived[OrganisationId, Tier] = ShortLived(clock)
        self._locks: dict[OrganisationId, asyncio.Lock] = {}
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
        lock = self._locks.setdefault(organisation_id, asyncio.Lock())
        async with lock:
            reading = await self.read(organisation_id, tier)
            if not reading.costs_nothing(wa_id):
                room = new_recipient_room(
                    reading.tier,
                    window_entries=list(reading.window.values()),
                    promised=len(reading.promised),
                    now=reading.now,
                )
                if room.frees_at is not None:
                    raise QuotaExceeded(frees_at=room.frees_at, now=reading.now)
            self._in_flight.setdefault(organisation_id, Counter())[wa_id] += 1
        try:
            yield
        finally:
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
