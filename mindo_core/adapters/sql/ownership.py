"""``SqlNumberOwnership``: the ``NumberOwnership`` port as lease rows on PostgreSQL.

A lease is a ``number_leases`` row (number → worker, ``expires_at``), kept when the lease ends
for its ``paced_until`` (``number_pacing``); a heartbeat an ``engine_workers`` row. Every time
is the database server's ``clock_timestamp()``, never a worker's clock, so workers on hosts
whose clocks disagree still agree on who holds what.
Taking a number is one ``INSERT … ON CONFLICT DO UPDATE … WHERE expires_at <= now``: the row
lock serialises two workers racing for it, and the loser's ``WHERE`` sees the winner's fresh
lease and returns nothing. Lease rows rather than session advisory locks: a lease survives a
connection pool's reconnects and a transaction-mode pooler, expires on a known clock whatever
the network does (a half-open TCP connection would hold an advisory lock until keepalives give
up), and can be read by anyone (``mindo`` operators, tests).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from collections.abc import Set as AbstractSet

import sqlalchemy as sa

from mindo_core.adapters.sql.database import Database
from mindo_core.domain.accounts import PhoneNumberRowId
from mindo_core.ports.ownership import Tenancy

__all__ = ["DEFAULT_LEASE_SECONDS", "HANDOVER_GAP_SECONDS", "SqlNumberOwnership"]

DEFAULT_LEASE_SECONDS = 6.0
# After a lease ends, the next sender's first send waits this long: the spacing of the slowest
# number (20 messages/s), so that the two senders' sends together keep it.
HANDOVER_GAP_SECONDS = 0.05

_HEARTBEAT = sa.text(
    """
    INSERT INTO engine_workers (worker_id, expires_at)
    VALUES (:worker, clock_timestamp() + make_interval(secs => :ttl))
    ON CONFLICT (worker_id) DO UPDATE SET expires_at = EXCLUDED.expires_at
    """
)
_EXTEND = sa.text(
    """
    UPDATE number_leases
    SET expires_at = clock_timestamp() + make_interval(secs => :ttl)
    WHERE worker_id = :worker AND expires_at > clock_timestamp()
    RETURNING phone_number_row_id
    """
)
_LIVE_WORKERS = sa.text("SELECT count(*) FROM engine_workers WHERE expires_at > clock_timestamp()")
# Heartbeats of workers long gone, so that the table stays the size of the cluster.
_FORGET_DEAD = sa.text(
    "DELETE FROM engine_workers WHERE expires_at < clock_timestamp() - interval '1 hour'"
)
_TAKE = sa.text(
    """
    INSERT INTO number_leases (phone_number_row_id, worker_id, expires_at, acquired_at)
    VALUES (:number, :worker, clock_timestamp() + make_interval(secs => :ttl), clock_timestamp())
    ON CONFLICT (phone_number_row_id) DO UPDATE
    SET worker_id = EXCLUDED.worker_id,
        expires_at = EXCLUDED.expires_at,
        acquired_at = EXCLUDED.acquired_at
    WHERE number_leases.expires_at <= clock_timestamp()
    RETURNING phone_number_row_id
    """
)
# An ended lease keeps its row: its ``paced_until`` tells the next sender when it may start.
_END_LEASE = """
    UPDATE number_leases
    SET expires_at = clock_timestamp(),
        paced_until = greatest(paced_until, clock_timestamp() + make_interval(secs => :gap))
    WHERE worker_id = :worker AND expires_at > clock_timestamp()
"""
_RELEASE = sa.text(_END_LEASE + " AND phone_number_row_id = :number")
_RELEASE_ALL = sa.text(_END_LEASE)
_PACED_BY_OTHERS = sa.text(
    """
    SELECT phone_number_row_id, extract(epoch FROM paced_until - clock_timestamp())
    FROM number_leases
    WHERE phone_number_row_id IN :numbers AND paced_until > clock_timestamp()
    """
).bindparams(sa.bindparam("numbers", expanding=True))
_STOP_HEARTBEAT = sa.text("DELETE FROM engine_workers WHERE worker_id = :worker")


class SqlNumberOwnership:
    def __init__(self, database: Database, *, lease_seconds: float = DEFAULT_LEASE_SECONDS):
        if database.dialect != "postgresql":
            raise ValueError("number leases need PostgreSQL (SQLite runs one engine per file)")
        if lease_seconds <= 0:
            raise ValueError("lease_seconds must be positive")
        self._database = database
        self._lease_seconds = lease_seconds

    @property
    def lease_seconds(self) -> float:
        return self._lease_seconds

    @property
    def sole_engine(self) -> bool:
        return False

    async def renew(self, worker: str) -> Tenancy:
        parameters = {"worker": worker, "ttl": self._lease_seconds}
        async with self._database.transaction() as session:
            connection = await session.connection()
            await connection.execute(_HEARTBEAT, parameters)
            held = (await connection.execute(_EXTEND, parameters)).scalars().all()
            live = (await connection.execute(_LIVE_WORKERS)).scalar_one()
            await connection.execute(_FORGET_DEAD)
        return Tenancy(
            held=frozenset(PhoneNumberRowId(number) for number in held),
            live_workers=int(live),
        )

    async def acquire(
        self, worker: str, numbers: Sequence[PhoneNumberRowId], *, limit: int
    ) -> AbstractSet[PhoneNumberRowId]:
        taken: set[PhoneNumberRowId] = set()
        for number in numbers:
            if len(taken) >= limit:
                break
            # One short transaction per number: a row lock is never held while waiting for
            # another (two workers taking numbers in different orders cannot deadlock).
            async with self._database.transaction() as session:
                connection = await session.connection()
                parameters = {"number": number, "worker": worker, "ttl": self._lease_seconds}
                if (await connection.execute(_TAKE, parameters)).first() is not None:
                    taken.add(number)
        return frozenset(taken)

    async def paced_by_others(
        self, numbers: Iterable[PhoneNumberRowId]
    ) -> Mapping[PhoneNumberRowId, float]:
        wanted = list(numbers)
        if not wanted:
            return {}
        async with self._database.transaction() as session:
            rows = await (await session.connection()).execute(_PACED_BY_OTHERS, {"numbers": wanted})
            return {PhoneNumberRowId(number): float(seconds) for number, seconds in rows}

    async def release(self, worker: str, numbers: Iterable[PhoneNumberRowId]) -> None:
        parameters = [
            {"worker": worker, "number": number, "gap": HANDOVER_GAP_SECONDS} for number in numbers
        ]
        if not parameters:
            return
        async with self._database.transaction() as session:
            await (await session.connection()).execute(_RELEASE, parameters)

    async def leave(self, worker: str) -> None:
        async with self._database.transaction() as session:
            connection = await session.connection()
            await connection.execute(_RELEASE_ALL, {"worker": worker, "gap": HANDOVER_GAP_SECONDS})
            await connection.execute(_STOP_HEARTBEAT, {"worker": worker})
