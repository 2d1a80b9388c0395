"""Claiming a bulk's due recipients: the one piece of SQL where two workers meet.

A claim moves up to ``limit`` due pending recipients of one bulk to ``in_flight`` and returns
them; it is committed before the caller sends anything. A claimed recipient's call has not
started (``call_started_at`` NULL) until ``mark_calls_started`` says so, just before the call.
Two claims, in two processes or two tasks, must never return the same recipient. Each backend
gets its own statement, and both pass the same contract tests.

PostgreSQL (many ``mindo worker`` processes): one statement; the selection is a
``MATERIALIZED`` CTE with ``FOR UPDATE SKIP LOCKED``. It runs once, locks at most ``limit``
rows, and rows another claim has locked are skipped rather than waited for. Not
``UPDATE … WHERE id IN (SELECT … LIMIT n FOR UPDATE SKIP LOCKED)``: the planner may run such a
subquery more than once (as the inner side of a join) and so claim more than ``n`` rows.

A PostgreSQL claim also yields nothing for a bulk whose number's lease another worker holds
(``ownership``): a worker cut off from its numbers cannot claim behind the new owner's back.

SQLite (one process): no row locks, no SKIP LOCKED. The claim runs in a ``BEGIN IMMEDIATE``
transaction (``Database.writing``): the database's one writer, taken before the selection reads
anything, so no other claim can select the same rows before this one commits; others wait
(``busy_timeout``). SQLite runs the ``IN`` subquery once, before updating.

A claim never waits for a lock on messages or on the bulk row (SKIP LOCKED, and the bulk row is
only updated if free). When it makes staged recipients into rows (``staged_recipients``) it
takes the bulk row's KEY SHARE lock first, skipping a bulk locked for an update, and may then
wait for a chunk that another claim is making into rows; that claim waits for nothing this one
holds. So a claim can never be part of a deadlock with the transactions that lock a bulk and
then what hangs off it.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncConnection

from mindo_core.adapters.sql.types import UTCDateTime
from mindo_core.bulks.model import BulkId
from mindo_core.domain.messages import MessageId
from mindo_core.ports.bulks import ClaimedRecipient

__all__ = ["claim", "mark_calls_started", "mark_started"]

_RETURNED: dict[str, sa.types.TypeEngine[Any]] = {
    "id": sa.BigInteger(),
    "position": sa.Integer(),
    "recipient_phone": sa.String(),
    "variables_used": sa.JSON(),
    "attempts": sa.Integer(),
}

_POSTGRES_CLAIM = """
WITH due AS MATERIALIZED (
    SELECT m.id
    FROM messages AS m
    -- ix_messages_bulk_id_status_position: the bulk's pending rows, in position order.
    WHERE m.bulk_id = :bulk_id
      AND m.status = 'pending'
      AND (m.not_before IS NULL OR m.not_before <= :now)  -- the quota window has room
      AND (m.retry_at IS NULL OR m.retry_at <= :now)      -- a retry's back-off is over
      -- A cancelled or stopped bulk yields nothing, whatever is left pending; nor does one
      -- whose number another worker holds (a worker that lost its lease claims nothing).
      AND EXISTS (
          SELECT 1 FROM bulks AS b
          WHERE b.id = :bulk_id AND b.status IN ('QUEUED', 'PROCESSING')
            AND NOT EXISTS (
                SELECT 1 FROM number_leases AS l
                WHERE l.phone_number_row_id = b.phone_number_row_id
                  AND l.worker_id <> :worker
                  AND l.expires_at > clock_timestamp()
            )
      )
    ORDER BY m.position
    LIMIT :limit
    -- Rows locked by a concurrent claim (or a stop, or an outcome) are passed over.
    FOR UPDATE OF m SKIP LOCKED
)
UPDATE messages AS m
SET status = 'in_flight',
    claimed_by = :worker,
    claimed_at = :now,
    call_started_at = NULL,  -- not started until ``mark_calls_started`` says so
    attempts = m.attempts + 1
FROM due
WHERE m.id = due.id
RETURNING m.id, m.position, m.recipient_phone, m.variables_used, m.attempts
"""

_SQLITE_CLAIM = """
UPDATE messages
SET status = 'in_flight',
    claimed_by = :worker,
    claimed_at = :now,
    call_started_at = NULL,
    attempts = attempts + 1
WHERE id IN (
    SELECT id
    FROM messages
    -- ix_messages_bulk_id_status_position: the bulk's pending rows, in position order.
    WHERE bulk_id = :bulk_id
      AND status = 'pending'
      AND (not_before IS NULL OR not_before <= :now)
      AND (retry_at IS NULL OR retry_at <= :now)
      AND EXISTS (
          SELECT 1 FROM bulks
          WHERE id = :bulk_id AND status IN ('QUEUED', 'PROCESSING')
      )
    ORDER BY position
    LIMIT :limit
)
RETURNING id, position, recipient_phone, variables_used, attempts
"""

# The first claim starts the bulk. On PostgreSQL a bulk row locked by someone else is left
# alone rather than waited for: the locker is another claim starting it, or a stop ending it.
# NO KEY UPDATE (what an UPDATE of non-key columns takes) does not conflict with the KEY SHARE
# locks of claims making staged recipients into rows (``staged_recipients``).
_POSTGRES_START = """
UPDATE bulks
SET status = 'PROCESSING', started_at = :now
WHERE id = (
    SELECT id FROM bulks
    WHERE id = :bulk_id AND status = 'QUEUED'
    FOR NO KEY UPDATE SKIP LOCKED
)
"""

_SQLITE_START = """
UPDATE bulks
SET status = 'PROCESSING', started_at = :now
WHERE id = :bulk_id AND status = 'QUEUED'
"""


def _statement(sql: str) -> sa.TextClause:
    return sa.text(sql).bindparams(sa.bindparam("now", type_=UTCDateTime()))


_CLAIMS = {"postgresql": _statement(_POSTGRES_CLAIM), "sqlite": _statement(_SQLITE_CLAIM)}
_STARTS = {"postgresql": _statement(_POSTGRES_START), "sqlite": _statement(_SQLITE_START)}


async def claim(
    connection: AsyncConnection, bulk_id: BulkId, *, worker: str, limit: int, now: datetime
) -> Sequence[ClaimedRecipient]:
    """The claimed recipients in position order (``attempts`` counts this one)."""
    statement = _CLAIMS[connection.dialect.name].columns(
        *(sa.column(name, type_) for name, type_ in _RETURNED.items())
    )
    parameters = {"bulk_id": bulk_id, "worker": worker, "limit": limit, "now": now}
    rows = (await connection.execute(statement, parameters)).all()
    claimed = [
        ClaimedRecipient(
            message_id=MessageId(row.id),
            bulk_id=bulk_id,
            position=row.position,
            e164=row.recipient_phone,
            variables_used=dict(row.variables_used),
            attempts=row.attempts,
        )
        for row in rows
    ]
    # RETURNING gives no order.
    return sorted(claimed, key=lambda recipient: recipient.position)


async def mark_started(connection: AsyncConnection, bulk_id: BulkId, now: datetime) -> None:
    """QUEUED → PROCESSING, with ``started_at``, if the bulk is still queued."""
    await connection.execute(_STARTS[connection.dialect.name], {"bulk_id": bulk_id, "now": now})


# The calls about to start, marked in one statement (``engine.start_marks``), only while still in
# flight under this worker's claim: a worker that lost them (settled by a taker) marks nothing,
# and so starts nothing.
_MARK_CALLS_STARTED = sa.text(
    """
    UPDATE messages
    SET call_started_at = :at
    WHERE id IN :ids AND status = 'in_flight' AND claimed_by = :worker
    RETURNING id
    """
).bindparams(sa.bindparam("ids", expanding=True), sa.bindparam("at", type_=UTCDateTime()))


async def mark_calls_started(
    connection: AsyncConnection, message_ids: Sequence[MessageId], *, worker: str, at: datetime
) -> set[MessageId]:
    """The ids marked (the others are no longer this worker's to send)."""
    parameters = {"ids": list(message_ids), "worker": worker, "at": at}
    rows = (await connection.execute(_MARK_CALLS_STARTED, parameters)).scalars().all()
    return {MessageId(int(row_id)) for row_id in rows}
