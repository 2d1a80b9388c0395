"""``SqlNumberPacing``: the ``NumberPacing`` port on PostgreSQL, in the number's lease row.

One statement: an upsert of the ``number_leases`` row that moves ``paced_until`` on by one
slot's spacing, only if the lease has expired (``expires_at``) and the next slot is close
enough. The row lock orders it with a worker taking the lease: a reservation made first is seen
by the worker (``paced_by_others``), one made after sees the lease and takes nothing. Every time
is the database's ``clock_timestamp()``; the answer is in seconds from it, so the clocks of the
processes never meet.
"""

from __future__ import annotations

import sqlalchemy as sa

from mindo_core.adapters.sql.database import Database
from mindo_core.domain.accounts import PhoneNumberRowId
from mindo_core.ports.number_pacing import PacedSlot

__all__ = ["SqlNumberPacing"]

_RESERVE = sa.text(
    """
    WITH reserved AS (
        INSERT INTO number_leases AS l
            (phone_number_row_id, worker_id, expires_at, acquired_at, paced_until)
        VALUES (
            :number, '', '-infinity', clock_timestamp(),
            clock_timestamp() + make_interval(secs => :spacing)
        )
        ON CONFLICT (phone_number_row_id) DO UPDATE
        SET paced_until = greatest(l.paced_until, clock_timestamp())
            + make_interval(secs => :spacing)
        WHERE l.expires_at <= clock_timestamp()
          AND coalesce(l.paced_until, '-infinity')
              <= clock_timestamp() + make_interval(secs => :within)
        RETURNING extract(epoch FROM l.paced_until - clock_timestamp()) - :spacing AS wait
    )
    SELECT
        (SELECT wait FROM reserved),
        coalesce(bool_or(n.expires_at > clock_timestamp()), false),
        coalesce(max(extract(epoch FROM n.paced_until - clock_timestamp())), 0)
    FROM (SELECT 1) AS one
    LEFT JOIN number_leases AS n ON n.phone_number_row_id = :number
    """
)


class SqlNumberPacing:
    def __init__(self, database: Database) -> None:
        if database.dialect != "postgresql":
            raise ValueError("shared pacing needs PostgreSQL (SQLite runs one process per file)")
        self._database = database

    async def reserve(
        self, number: PhoneNumberRowId, *, spacing: float, within: float
    ) -> PacedSlot:
        parameters = {"number": number, "spacing": spacing, "within": within}
        async with self._database.transaction() as session:
            row = (await (await session.connection()).execute(_RESERVE, parameters)).one()
        wait, owned, busy_for = row
        return PacedSlot(
            wait=None if wait is None else max(0.0, float(wait)),
            owned=bool(owned),
            busy_for=max(0.0, float(busy_for)),
        )
