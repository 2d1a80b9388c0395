"""The rolling 24-hour quota: how many recipients fit now, and when the rest do.

Tiers (``domain.tiers``) give the daily limit; this module counts it over the window.

The window
==========
Meta counts the *unique* users a business portfolio messaged in a moving 24 hours. A recipient
already messaged in the window costs nothing more, so ``quota_needed`` counts only the
candidates not in it. A window entry is the time a user was first messaged in the window; it
frees its slot 24 hours later. Unlimited tiers carry ``None`` as their limit, availability and
remaining count; how an edge spells "unlimited" is the edge's choice (Meta's is ``-1``).

Room promised to bulks
======================
A queued or sending bulk was promised room at its acceptance: its recipients new to the window
go now or when a slot frees (``plan_quota``), and the engine does not read the window again
before each send. So a recipient a running bulk still has to send, and that is not in the window
yet, *holds* a slot: ``promised``. A single send to a new recipient fits only while the window
plus what is promised leaves room (``new_recipient_room``), and ``quota_snapshot``'s
``remaining`` is that room: what business-accounts shows is what a single send gets. A bulk is
planned likewise (``plan_quota``'s ``owed``): what is promised counts as sent at its acceptance.
"""

from __future__ import annotations

from collections.abc import Container, Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime

from mindo_core.domain.tiers import QUOTA_WINDOW, Tier

__all__ = [
    "LiveWindow",
    "NewRecipientRoom",
    "QuotaPlan",
    "QuotaSnapshot",
    "new_recipient_room",
    "plan_quota",
    "quota_snapshot",
    "recipient_waits",
]


@dataclass(frozen=True, kw_only=True)
class QuotaSnapshot:
    """A number's quota as the business-accounts listing shows it."""

    tier: str
    daily_limit: int | None
    unique_sent_24h: int
    # max(0, limit - used), as the documentation defines it; a lowered tier can leave more used
    # than allowed.
    remaining: int | None
    # max(0, limit - used - promised): the room a recipient new to the window may take now,
    # running bulks' promised recipients excluded; ``can_send`` is room > 0.
    room: int | None
    # used / limit x 100, floored to one decimal so that 100.0 means full; above 100 when the
    # tier was lowered below what the window already holds; 0.0 when unlimited.
    usage_percentage: float
    can_send: bool


def quota_snapshot(tier: Tier, *, unique_sent_24h: int, promised: int = 0) -> QuotaSnapshot:
    """``promised``: recipients running bulks still have to send that are not in the window."""
    limit = tier.daily_limit
    if limit is None:
        return QuotaSnapshot(
            tier=tier.name,
            daily_limit=None,
            unique_sent_24h=unique_sent_24h,
            remaining=None,
            room=None,
            usage_percentage=0.0,
            can_send=True,
        )
    room = max(0, limit - unique_sent_24h - promised)
    return QuotaSnapshot(
        tier=tier.name,
        daily_limit=limit,
        unique_sent_24h=unique_sent_24h,
        remaining=max(0, limit - unique_sent_24h),
        room=room,
        usage_percentage=(unique_sent_24h * 1000 // limit) / 10,
        can_send=room > 0,
    )


@dataclass(frozen=True, kw_only=True)
class NewRecipientRoom:
    """Whether one more recipient new to the window fits now, and when room frees if not."""

    fits: bool
    # When the window has freed enough for one more new recipient (None when it fits now).
    # The earliest such time: the promised recipients, once sent, hold their slots 24 hours,
    # and when they alone fill the limit the answer is a full window from now.
    frees_at: datetime | None


def new_recipient_room(
    tier: Tier, *, window_entries: Sequence[datetime], promised: int, now: datetime
) -> NewRecipientRoom:
    """Room for one recipient not in the window: it fits while ``live + promised < limit``.

    ``window_entries``: when each wa_id of the window was first messaged in it (any order;
    expired ones are ignored). Room frees when the ``live + promised - limit``-th oldest
    entry (0-based) expires: from then on fewer than ``limit`` slots are taken or promised."""
    return LiveWindow.of(tier, window_entries=window_entries, now=now).room(promised=promised)


@dataclass(frozen=True)
class LiveWindow:
    """The window's live entries, oldest first, read once for many ``room`` questions."""

    limit: int | None
    live: Sequence[datetime]
    now: datetime

    @classmethod
    def of(cls, tier: Tier, *, window_entries: Sequence[datetime], now: datetime) -> LiveWindow:
        if tier.daily_limit is None:
            return cls(None, (), now)
        live = sorted(t for t in window_entries if t > now - QUOTA_WINDOW)
        return cls(tier.daily_limit, tuple(live), now)

    @classmethod
    def counted(cls, tier: Tier, *, oldest_first: Sequence[datetime], now: datetime) -> LiveWindow:
        """Every entry of ``oldest_first`` counted, as read (a ledger's reused reading may hold
        entries expired since: counted until it reads again, so a recipient messaged again
        in the window is never missed); nothing sorted or copied."""
        if tier.daily_limit is None:
            return cls(None, (), now)
        return cls(tier.daily_limit, oldest_first, now)

    def room(self, *, promised: int) -> NewRecipientRoom:
        """``new_recipient_room`` with ``promised`` recipients owed slots."""
        if self.limit is None:
            return NewRecipientRoom(fits=True, frees_at=None)
        freeing = len(self.live) + promised - self.limit
        if freeing < 0:
            return NewRecipientRoom(fits=True, frees_at=None)
        if freeing < len(self.live):
            # Not before now: an entry counted past its expiry frees at the next reading.
            frees_at = max(self.live[freeing] + QUOTA_WINDOW, self.now)
            return NewRecipientRoom(fits=False, frees_at=frees_at)
        return NewRecipientRoom(fits=False, frees_at=self.now + QUOTA_WINDOW)


@dataclass(frozen=True, kw_only=True)
class QuotaPlan:
    """What a bulk's unique recipients cost against the window, and when each one may go.

    ``quota_*``, ``can_send`` and ``tier`` are the 202's ``quota_info``. ``can_send`` false does
    not refuse the bulk: ``fits_now`` recipients go at once, and the i-th of the others waits
    until ``refill_times[i]``, when an entry of the window expires.
    """

    tier: str
    quota_needed: int
    quota_available: int | None
    quota_total: int | None
    can_send: bool
    fits_now: int
    refill_times: tuple[datetime, ...]
    already_in_window: int

    @property
    def waiting(self) -> int:
        return len(self.refill_times)

    @property
    def sendable_now(self) -> int:
        """Unique recipients that may go at once: those that fit, and those already in the
        window (they cost nothing)."""
        return self.fits_now + self.already_in_window

    @property
    def ready_at(self) -> datetime | None:
        """When the last waiting recipient may go; None when none waits."""
        return self.refill_times[-1] if self.refill_times else None

    def refill_offsets(self, now: datetime) -> tuple[float, ...]:
        """``refill_times`` in seconds from ``now``: ``pacing.estimate_seconds``'s
        ``quota_refills``, with ``quota_available=sendable_now``."""
        return tuple(max(0.0, (t - now).total_seconds()) for t in self.refill_times)


def plan_quota(
    tier: Tier,
    *,
    already_messaged: Container[str],
    window_entries: Sequence[datetime],
    candidates: Iterable[str],
    now: datetime,
    owed: int = 0,
) -> QuotaPlan:
    """Plan a bulk against the portfolio's window.

    ``already_messaged``: the wa_ids messaged in the window ``(now - 24h, now]``.
    ``window_entries``: for each of them, when it was first messaged in the window (any order;
    entries at or before ``now - 24h`` have expired and are ignored).
    ``owed``: recipients not in the window that are owed a slot (running bulks' pending ones,
    single sends in flight); they count as sent ``now``, as the ones that fit (the candidates
    among them belong in ``already_messaged``: they cost nothing more).
    ``candidates``: the bulk's unique wa_ids. The plan assumes the ones that fit are sent now and
    each waiting one when its slot frees; the scheduler re-checks the window before each send.
    """
    unique = 0
    needed = 0
    for wa_id in candidates:
        unique += 1
        needed += wa_id not in already_messaged
    limit = tier.daily_limit
    if limit is None:
        return QuotaPlan(
            tier=tier.name,
            quota_needed=needed,
            quota_available=None,
            quota_total=None,
            can_send=True,
            fits_now=needed,
            refill_times=(),
            already_in_window=unique - needed,
        )
    # Owed slots are taken from now: after every live entry on the timeline.
    live = sorted(t for t in window_entries if t > now - QUOTA_WINDOW) + [now] * owed
    available = max(0, limit - len(live))
    fits_now = min(needed, available)
    return QuotaPlan(
        tier=tier.name,
        quota_needed=needed,
        quota_available=available,
        quota_total=limit,
        can_send=needed <= available,
        fits_now=fits_now,
        refill_times=_refill_times(live, limit, fits_now, needed - fits_now, now),
        already_in_window=unique - needed,
    )


def _refill_times(
    live: list[datetime], limit: int, fits_now: int, waiting: int, now: datetime
) -> tuple[datetime, ...]:
    """When each waiting recipient gets a slot.

    Every send, old or planned, holds a slot for 24 hours, so the sends form one ascending
    timeline: the window entries, the ones sent now, then the waiting ones. Sending the j-th
    waiting recipient needs fewer than ``limit`` sends in the window, which is true exactly
    when the timeline's entry at ``excess + j`` has expired (``excess``: how far the window
    is already over the limit). That entry is always earlier on the timeline than the j-th
    waiting one itself, so the times can be computed in one pass.
    """
    excess = max(0, len(live) - limit)
    planned: list[datetime] = []
    for j in range(waiting):
        position = excess + j
        if position < len(live):
            freed_by = live[position]
        elif position < len(live) + fits_now:
            freed_by = now
        else:
            freed_by = planned[position - len(live) - fits_now]
        planned.append(freed_by + QUOTA_WINDOW)
    return tuple(planned)


def recipient_waits(
    plan: QuotaPlan, wa_ids: Iterable[str], window: Container[str]
) -> list[datetime | None]:
    """When each of ``wa_ids`` (the candidates ``plan`` was made for, in their order) may go:
    None for one already in the window or among the first ``fits_now`` new ones, else the k-th
    new one beyond them waits for the k-th refill."""
    waits: list[datetime | None] = []
    new = 0
    for wa_id in wa_ids:
        wait = None
        if wa_id not in window:
            if new >= plan.fits_now:
                wait = plan.refill_times[new - plan.fits_now]
            new += 1
        waits.append(wait)
    return waits
