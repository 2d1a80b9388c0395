"""``SqlQuotaLedger``: the ``QuotaLedger`` port on PostgreSQL, shared by every process on the
database (API processes deciding single sends, each batching its own).

A decision is one transaction: ``pg_advisory_xact_lock`` on the organisation, so decisions on
one organisation run one after another across processes (and other organisations' do not
wait); the window, the bulks' pending recipients and the live reservations read after the lock,
so they include every decision committed before it; then the new reservations written, and the
lock released at commit. A transaction-scoped lock lives and dies with its transaction, so it
works through a transaction-mode pooler and no session can hold it after a crash.

A reservation is a ``quota_reservations`` row with an expiry on the database's clock
(``clock_timestamp()``, so processes whose clocks disagree still agree), long enough for the
send it covers: Meta's send timeout and a margin. A process killed mid-send leaves rows that
stop counting when they expire; each decision deletes its organisation's expired rows. A send
that failed gives its slot back at once (one ``DELETE``). A send whose message is recorded owes
nothing more (the window has its recipient, and ``owed`` minus the window is what holds room),
so its row is deleted with the next decision on the organisation, not by a transaction of its
own on the hot path.
"""

from __future__ import annotations

import asyncio
import secrets
from collections import defaultdict
from collections.abc import AsyncIterator, Callable, Collection, Sequence
from contextlib import asynccontextmanager
from datetime import datetime

import sqlalchemy as sa
from sqlalchemy.dialects import postgresql
from sqlalchemy.ext.asyncio import AsyncConnection

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

_LOCK = sa.text("SELECT pg_advisory_xact_lock(:space, :organisation_id)")
_FORGET = sa.text(
    """
    DELETE FROM quota_reservations
    WHERE organisation_id = :organisation_id
      AND (expires_at <= clock_timestamp() OR id = ANY(:released))
    """
).bindparams(sa.bindparam("released", type_=postgresql.ARRAY(sa.String())))
_RELEASE = sa.text(
    "DELETE FROM quota_reservations WHERE organisation_id = :organisation_id AND id = ANY(:ids)"
).bindparams(sa.bindparam("ids", type_=postgresql.ARRAY(sa.String())))
_HELD = sa.text(
    "SELECT wa_id FROM quota_reservations "
    "WHERE organisation_id = :organisation_id AND expires_at > clock_timestamp()"
)
_RESERVE = sa.text(
    """
    INSERT INTO quota_reservations (id, organisation_id, wa_id, expires_at)
    VALUES (:id, :organisation_id, :wa_id, clock_timestamp() + make_interval(secs => :ttl))
    """
)


class SqlQuotaLedger:
    def __init__(
        self, database: Database, *, reservation_seconds: float = DEFAULT_RESERVATION_SECONDS
    ) -> None:
        self._database = database
        self._ttl = reservation_seconds
        # Per organisation: reservations whose messages are recorded, deleted with its next
        # decision (they owe nothing meanwhile).
        self._recorded: dict[OrganisationId, set[ReservationId]] = {}
        # This process's turn first: at most one of its connections waits for an
        # organisation's lock, so waiters cannot take the pool a holder's writes need.
        self._turns: defaultdict[OrganisationId, asyncio.Lock] = defaultdict(asyncio.Lock)

    async def read(self, organisation_id: OrganisationId, *, since: datetime) -> QuotaBook:
        async with self._database.transaction() as session:
            return await _book(await session.connection(), organisation_id, since)

    async def decide(
        self,
        organisation_id: OrganisationId,
        *,
        since: datetime,
        decision: Callable[[QuotaBook], Sequence[str]],
    ) -> list[ReservationId]:
        async with self._locked(organisation_id) as connection:
            reserved = decision(await _book(connection, organisation_id, since))
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
            yield await _book(connection, organisation_id, since)

    @asynccontextmanager
    async def _locked(self, organisation_id: OrganisationId) -> AsyncIterator[AsyncConnection]:
        """A transaction holding the organisation's lock, its expired reservations and those
        released as recorded deleted first."""
        async with self._turns[organisation_id]:
            released = self._recorded.pop(organisation_id, set())
            try:
                async with self._database.transaction() as session:
                    connection = await session.connection()
                    lock = {"space": _QUOTA_LOCK_SPACE, "organisation_id": organisation_id}
                    await connection.execute(_LOCK, lock)
                    forget = {"organisation_id": organisation_id, "released": sorted(released)}
                    await connection.execute(_FORGET, forget)
                    yield connection
            except BaseException:
                # Not deleted after all: the next decision tries again (or they expire).
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


async def _book(
    connection: AsyncConnection, organisation_id: OrganisationId, since: datetime
) -> QuotaBook:
    window = await read_recipient_window(connection, organisation_id, since)
    owed = set(await read_promised_recipients(connection, organisation_id))
    held = await connection.execute(_HELD, {"organisation_id": organisation_id})
    owed.update(wa_id for (wa_id,) in held)
    return QuotaBook(window=window, owed=owed)
