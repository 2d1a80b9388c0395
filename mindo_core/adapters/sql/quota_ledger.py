"""``SqlQuotaLedger``: the ``QuotaLedger`` port on PostgreSQL, shared by every process on the
database (API processes deciding single sends, each batching its own).

A decision is one transaction: ``pg_advisory_xact_lock`` on the organisation, so decisions on
one organisation run one after another across processes (and other organisations' do not
wait); the book read after the lock, so it includes every decision committed before it; then
the new reservations written, and the lock released at commit. A transaction-scoped lock lives
and dies with its transaction, so it works through a transaction-mode pooler and no session can
hold it after a crash.

The book's full reading (the window: every message of the last 24 hours, and the bulks'
pending recipients) is reused by this process's decisions while it is younger than the refresh
interval (on the database's clock) and the organisation's book version
(``quota_book_versions``, moved by triggers in the transaction of every change that adds to
what bulks owe: revision 0021) is the one read before it (``book_reading`` says why that never
under-counts). Each decision reads the version (one indexed row) and the live reservations
fresh. A hold (a bulk's acceptance) always reads the book whole and drops this process's
reading (other processes see the version move); ``read`` (business-accounts) always reads it
whole.

A reservation is a ``quota_reservations`` row with an expiry on the database's clock
(``clock_timestamp()``, so processes whose clocks disagree still agree), long enough for the
send it covers (Meta's send timeout and a margin) and then for every reading reused meanwhile
to be refreshed. A process killed mid-send leaves rows that stop counting when they expire;
each decision deletes its organisation's expired rows. A send that failed gives its slot back
at once (one ``DELETE``). A send whose message is recorded owes nothing to a reading taken
after its record, but a reading reused from before it has not the message in its window: so
with the next decision on the organisation (not a transaction of its own on the hot path) its
row is marked ``recorded_at`` and expires a refresh interval and a margin later; a reading
taken after the mark leaves it out, one taken before still counts it.
"""

from __future__ import annotations

import asyncio
import secrets
from collections import defaultdict
from collections.abc import AsyncIterator, Callable, Collection, Sequence
from contextlib import asynccontextmanager
from datetime import datetime, timedelta

import sqlalchemy as sa
from sqlalchemy.dialects import postgresql
from sqlalchemy.ext.asyncio import AsyncConnection

from mindo_core.adapters.book_reading import DEFAULT_REFRESH_SECONDS, BookReading
from mindo_core.adapters.sql.database import Database
from mindo_core.adapters.sql.quota_window import read_promised_recipients, read_recipient_window
from mindo_core.domain.accounts import OrganisationId
from mindo_core.ports.quota import QuotaBook, ReservationId

__all__ = ["DEFAULT_RESERVATION_SECONDS", "SqlQuotaLedger"]

# Meta's default send timeout (30 s) and a minute for the record to be written after it.
DEFAULT_RESERVATION_SECONDS = 90.0

# The first key of the two-key advisory locks taken on organisations' quotas (the second is
# the organisation's id): a space of its own, apart from the one-key locks (``migrate``).
_QUOTA_LOCK_SPACE = 0x4D51  # "MQ"

# How long after it is known recorded a reservation stays, beyond the refresh interval: the
# time from a decision's check of its reading's age to its reading of the reservations.
_RECORDED_MARGIN_SECONDS = 5.0

_LOCK = sa.text("SELECT pg_advisory_xact_lock(:space, :organisation_id)")
# The expired rows deleted, and those released as recorded marked (a CTE: one statement; the
# DELETE leaves the marked ones, which it would see unmarked).
_FORGET = sa.text(
    """
    WITH marked AS (
        UPDATE quota_reservations
        SET recorded_at = clock_timestamp(),
            expires_at = clock_timestamp() + make_interval(secs => :keep)
        WHERE organisation_id = :organisation_id AND id = ANY(:released)
          AND recorded_at IS NULL
    )
    DELETE FROM quota_reservations
    WHERE organisation_id = :organisation_id AND expires_at <= clock_timestamp()
      AND NOT (id = ANY(:released))
    """
).bindparams(sa.bindparam("released", type_=postgresql.ARRAY(sa.String())))
# Read before the book, so that a change committed after it moves the version a later decision
# reads: a reading with an old version is read again, never one with a new version kept stale.
_VERSION = sa.text(
    """
    SELECT clock_timestamp(),
           COALESCE((SELECT version FROM quota_book_versions
                     WHERE organisation_id = :organisation_id), 0)
    """
)
_RELEASE = sa.text(
    "DELETE FROM quota_reservations WHERE organisation_id = :organisation_id AND id = ANY(:ids)"
).bindparams(sa.bindparam("ids", type_=postgresql.ARRAY(sa.String())))
# Live reservations, but those marked recorded before the reading began (it has their messages).
_HELD = sa.text(
    """
    SELECT wa_id FROM quota_reservations
    WHERE organisation_id = :organisation_id AND expires_at > clock_timestamp()
      AND (recorded_at IS NULL OR recorded_at >= :read_at)
    """
).bindparams(sa.bindparam("read_at", type_=sa.DateTime(timezone=True)))
_RESERVE = sa.text(
    """
    INSERT INTO quota_reservations (id, organisation_id, wa_id, expires_at)
    VALUES (:id, :organisation_id, :wa_id, clock_timestamp() + make_interval(secs => :ttl))
    """
)


class SqlQuotaLedger:
    def __init__(
        self,
        database: Database,
        *,
        reservation_seconds: float = DEFAULT_RESERVATION_SECONDS,
        refresh_seconds: float = DEFAULT_REFRESH_SECONDS,
    ) -> None:
        self._database = database
        self._refresh = timedelta(seconds=refresh_seconds)
        # Recorded reservations stay this long after the mark: every reading reused is younger
        # (none is with no refresh interval).
        margin = _RECORDED_MARGIN_SECONDS if refresh_seconds > 0 else 0.0
        self._keep = refresh_seconds + margin
        # Unmarked, a reservation lasts its send, then as long as a recorded one.
        self._ttl = reservation_seconds + self._keep
        # Per organisation: reservations whose messages are recorded, marked with its next
        # decision (they stay counted meanwhile, unmarked).
        self._recorded: dict[OrganisationId, set[ReservationId]] = {}
        # Per organisation: the last full reading, and when it began on the database's clock.
        self._readings: dict[OrganisationId, tuple[BookReading, datetime]] = {}
        # This process's turn first: at most one of its connections waits for an
        # organisation's lock, so waiters cannot take the pool a holder's writes need.
        self._turns: defaultdict[OrganisationId, asyncio.Lock] = defaultdict(asyncio.Lock)

    async def read(self, organisation_id: OrganisationId, *, since: datetime) -> QuotaBook:
        async with self._database.transaction() as session:
            connection = await session.connection()
            read_at, _ = await _version(connection, organisation_id)
            reading = await _full_reading(connection, organisation_id, since, version=None)
            return reading.book(await _held(connection, organisation_id, read_at))

    async def decide(
        self,
        organisation_id: OrganisationId,
        *,
        since: datetime,
        decision: Callable[[QuotaBook], Sequence[str]],
    ) -> list[ReservationId]:
        async with self._locked(organisation_id) as connection:
            reading, read_at = await self._reading(connection, organisation_id, since)
            held = await _held(connection, organisation_id, read_at)
            reserved = decision(reading.book(held))
            ids = [ReservationId(secrets.token_hex(16)) for _ in reserved]
            if ids:
                rows = [
                    {"id": i, "organisation_id": organisation_id, "wa_id": w, "ttl": self._ttl}
                    for i, w in zip(ids, reserved, strict=True)
                ]
                await connection.execute(_RESERVE, rows)
        return ids

    @asynccontextmanager
    async def holding(
        self, organisation_id: OrganisationId, *, since: datetime
    ) -> AsyncIterator[QuotaBook]:
        # The lock's transaction stays open (and idle) while the block writes on other
        # connections; it commits, releasing the lock, after them.
        async with self._locked(organisation_id) as connection:
            # What the block stores is owed from then on: this process's next decision reads
            # it (others see the version its triggers move).
            self._readings.pop(organisation_id, None)
            read_at, _ = await _version(connection, organisation_id)
            reading = await _full_reading(connection, organisation_id, since, version=None)
            yield reading.book(await _held(connection, organisation_id, read_at))

    async def _reading(
        self, connection: AsyncConnection, organisation_id: OrganisationId, since: datetime
    ) -> tuple[BookReading, datetime]:
        """The organisation's reading and when it began: the last one while fresh (its age on
        the database's clock), else a new one."""
        now, version = await _version(connection, organisation_id)
        kept = self._readings.get(organisation_id)
        if kept is not None:
            reading, read_at = kept
            if reading.reusable(age=now - read_at, version=version, refresh=self._refresh):
                return kept
        reading = await _full_reading(connection, organisation_id, since, version)
        self._readings[organisation_id] = (reading, now)
        return reading, now

    @asynccontextmanager
    async def _locked(self, organisation_id: OrganisationId) -> AsyncIterator[AsyncConnection]:
        """A transaction holding the organisation's lock, its expired reservations deleted and
        those released as recorded marked first."""
        async with self._turns[organisation_id]:
            released = self._recorded.pop(organisation_id, set())
            try:
                async with self._database.transaction() as session:
                    connection = await session.connection()
                    lock = {"space": _QUOTA_LOCK_SPACE, "organisation_id": organisation_id}
                    await connection.execute(_LOCK, lock)
                    forget = {
                        "organisation_id": organisation_id,
                        "released": sorted(released),
                        "keep": self._keep,
                    }
                    await connection.execute(_FORGET, forget)
                    yield connection
            except BaseException:
                # Not marked after all: the next decision tries again (or they expire).
                self._recorded.setdefault(organisation_id, set()).update(released)
                raise

    async def release(
        self,
        organisation_id: OrganisationId,
        reservations: Collection[ReservationId],
        *,
        recorded: bool,
    ) -> None:
        if not reservations:
            return
        if recorded:
            self._recorded.setdefault(organisation_id, set()).update(reservations)
            return
        async with self._database.transaction() as session:
            connection = await session.connection()
            ids = {"organisation_id": organisation_id, "ids": sorted(reservations)}
            await connection.execute(_RELEASE, ids)


async def _version(
    connection: AsyncConnection, organisation_id: OrganisationId
) -> tuple[datetime, int]:
    """The database's time now and the organisation's book version, before its reading."""
    row = (await connection.execute(_VERSION, {"organisation_id": organisation_id})).one()
    return row[0], int(row[1])


async def _full_reading(
    connection: AsyncConnection,
    organisation_id: OrganisationId,
    since: datetime,
    version: int | None,
) -> BookReading:
    window = await read_recipient_window(connection, organisation_id, since)
    promised = await read_promised_recipients(connection, organisation_id)
    return BookReading.of(since=since, version=version, window=window, promised=promised)


async def _held(
    connection: AsyncConnection, organisation_id: OrganisationId, read_at: datetime
) -> list[str]:
    parameters = {"organisation_id": organisation_id, "read_at": read_at}
    return [wa_id for (wa_id,) in await connection.execute(_HELD, parameters)]
