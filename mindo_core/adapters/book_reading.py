"""``BookReading``: one full reading of an organisation's quota book, reused by the ledgers'
decisions while it is fresh (``memory.quota_ledger`` and ``sql.quota_ledger``).

A full reading is the window (every message of the last 24 hours: 100,000 rows for an
organisation that sent 100,000 today) and what running bulks owe. A decision reuses it while it
is younger than the refresh interval and the organisation's book version has not moved, adding
the reservations it reads fresh each time. Why reuse only ever over-counts:

* a window entry that expires after the reading stays counted until the next one (a recipient
  first messaged 24 hours ago and again since must not be missed, and the reading has only the
  first time);
* a pending recipient that is claimed or sent is counted where the reading had it (owed);
* a bulk that finishes or is cancelled stays counted until the next reading;
* a single send recorded after the reading: its reservation stays counted until every reading
  that may be reused is younger than its record (the ledgers keep recorded reservations);
* anything newly owed outside a reservation (a bulk accepted, resumed or started, recipients
  pending again) moves the book's version, which the next decision reads before anything else.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from collections.abc import Set as AbstractSet
from dataclasses import dataclass
from datetime import datetime, timedelta

from mindo_core.ports.quota import QuotaBook

__all__ = ["DEFAULT_REFRESH_SECONDS", "BookReading"]

# How long decisions reuse a full reading: the window's entries that expire meanwhile, and
# bulks that finish, are counted that long after (refusing a little early, never late).
DEFAULT_REFRESH_SECONDS = 10.0


@dataclass(frozen=True, kw_only=True)
class BookReading:
    # The ``since`` it was read for (``ProcessQuotaLedger`` ages it by how far a decision's
    # ``since`` moved: the service's clock, which a test's fake clock moves).
    since: datetime
    # The organisation's book version read before the reading (None: the ledger has none).
    version: int | None
    window: Mapping[str, datetime]
    times: Sequence[datetime]  # the window's, oldest first
    # Running bulks' pending recipients (reservations are read fresh by each decision).
    promised: AbstractSet[str]

    @classmethod
    def of(
        cls,
        *,
        since: datetime,
        version: int | None,
        window: Mapping[str, datetime],
        promised: AbstractSet[str],
    ) -> BookReading:
        times = tuple(sorted(window.values()))
        return cls(since=since, version=version, window=window, times=times, promised=promised)

    def reusable(self, *, age: timedelta, version: int | None, refresh: timedelta) -> bool:
        """Fresh enough for a decision ``age`` after it (a clock stepped back, a negative age,
        reads again) with the book at ``version``."""
        if version is None or version != self.version:
            return False
        return timedelta(0) <= age < refresh

    def book(self, held: Iterable[str]) -> QuotaBook:
        """The book: this reading and the reservations ``held`` now."""
        owed = set(self.promised)
        owed.update(held)
        return QuotaBook(window=self.window, owed=owed, sorted_times=self.times)
