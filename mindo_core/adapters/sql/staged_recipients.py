"""A bulk's recipients are stored twice over their life: staged at acceptance, one row per
``CHUNK`` (1,000) recipients, and made into ``messages`` rows (materialised) when they are needed.

Why. Acceptance has to be durable and fast: 100,000 recipients in well under a second. As
``messages`` rows they are 36 MB of table and index pages for SQLite to write and sync, at
0.65 s; as 100 ``staged_recipients`` rows of JSON they are 9.5 MB and 0.07 s, and the rows
are made later, inside SQLite (``json_each``) or PostgreSQL (``json_array_elements``), with no
Python per recipient. Sending then pays a chunk's materialisation (≈ 7 ms of SQLite work, off
the event loop) once per 1,000 recipients claimed.

When. Every path that reads or writes a bulk's recipients as messages materialises first, in
its own transaction:

* a claim (``SqlBulks.claim_recipients``) materialises the next chunk, in position order,
  whenever it finds fewer due recipients than it wants, until it has enough or none is left
  staged. So recipients are claimed in position order as before. A claim that comes back
  short has left nothing staged, except on PostgreSQL when another transaction held the
  bulk's row; ``next_due_at`` counts a bulk with staged recipients as due now, so the next
  claim makes them rows.
* stopping or cancelling a bulk materialises what is left straight into its closed state;
* listing a bulk's recipients materialises all of it first.

Invariant: only a bulk that is not over (SCHEDULED, QUEUED, PROCESSING or PAUSED) has staged
recipients. They count as pending in the bulk's counters from the start, so progress and totals
never depend on how much is materialised. A crash between the two steps loses nothing: staging and
materialising are each one transaction, and a chunk is deleted in the transaction that makes
its rows.

A chunk is a JSON array whose k-th element is the recipient at ``first_position + k``:
``[e164, variables_used]``, or ``[e164, variables_used, not_before]`` for a recipient that
waits for quota (in the form the backend stores timestamps: naive UTC text on SQLite, ISO 8601
with offset for PostgreSQL's ``timestamptz``). ``variables_used`` is the JSON object on SQLite;
on PostgreSQL it is a JSON string holding the object's JSON text, cast back to ``json`` as it
is: PostgreSQL's JSON operators refuse to turn an escaped NUL (``\u0000``, a value the
template rules let through) into text, and a chunk holding one could then never be made into
rows. The rows are inserted in position order, so within a bulk their ids follow their
positions.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping, Sequence
from datetime import datetime
from typing import Any

import orjson
import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncConnection

from mindo_core.adapters.sql.types import UTCDateTime, require_aware
from mindo_core.bulks.model import BulkId, RecipientState
from mindo_core.ports.bulks import NewBulk, NewRecipientChunk

__all__ = ["CHUNK", "has_staged", "materialise", "stage_recipients"]

# Recipients per staged row: big enough that a bulk is few rows and a statement's own cost is
# small next to its recipients', small enough that one chunk's materialisation is a short
# transaction and a chunk's Python objects die young (chunks of 10,000 lived long enough for
# the garbage collector to promote them and then walk them in full collections).
CHUNK = 1_000

_STAGE = sa.text(
    "INSERT INTO staged_recipients (bulk_id, first_position, recipients, payload) "
    "VALUES (:bulk_id, :first_position, :recipients, :payload)"
)

# Only a running bulk's recipients are made rows: the invariant says no other has any staged, and
# were it ever broken, pending rows must not appear in a bulk that is over.
_RUNNING_BULK = (
    "SELECT 1 FROM bulks WHERE id = :bulk_id "
    "AND status IN ('SCHEDULED', 'QUEUED', 'PROCESSING', 'PAUSED')"
)
# PostgreSQL locks. The rows made reference the bulk, which takes a KEY SHARE lock on its row;
# taken first and explicitly, it keeps the order every writer follows (bulks, then what hangs off
# them) and so no deadlock with a stop, which locks the bulk and then materialises. A claim
# never waits for the bulk (SKIP LOCKED: a bulk locked for an update is materialised by a later
# claim); it may wait for a chunk another claim is making into rows, and then finds it gone.
_LOCKED_RUNNING_BULK = {
    "sqlite": sa.text(_RUNNING_BULK),  # the transaction is the one writer already
    "postgresql": sa.text(f"{_RUNNING_BULK} FOR KEY SHARE"),
}
_SKIPPED_IF_LOCKED = {
    "sqlite": sa.text(_RUNNING_BULK),
    "postgresql": sa.text(f"{_RUNNING_BULK} FOR KEY SHARE SKIP LOCKED"),
}
_NEXT_CHUNK = {
    "sqlite": sa.text(
        "SELECT id, recipients FROM staged_recipients WHERE bulk_id = :bulk_id "
        "ORDER BY first_position LIMIT 1"
    ),
    "postgresql": sa.text(
        "SELECT id, recipients FROM staged_recipients WHERE bulk_id = :bulk_id "
        "ORDER BY first_position LIMIT 1 FOR UPDATE"
    ),
}

_MESSAGE_COLUMNS = (
    "organisation_id, phone_number_row_id, template_id, bulk_id, created_at, status, attempts, "
    "position, recipient_phone, variables_used, not_before"
)

# The shared columns come from the bulk's row; json_extract of an object is its JSON text,
# which is what variables_used holds. json_each walks the array in order (``key`` is the index).
_SQLITE_MATERIALISE = sa.text(f"""
    INSERT INTO messages ({_MESSAGE_COLUMNS})
    SELECT b.organisation_id, b.phone_number_row_id, b.template_id, b.id, b.created_at,
           :status, 0, s.first_position + r.key,
           json_extract(r.value, '$[0]'), json_extract(r.value, '$[1]'),
           json_extract(r.value, '$[2]')
    FROM staged_recipients AS s
    JOIN bulks AS b ON b.id = s.bulk_id
    JOIN json_each(s.payload) AS r
    WHERE s.id = :chunk
    ORDER BY r.key
""")

_POSTGRES_MATERIALISE = sa.text(f"""
    INSERT INTO messages ({_MESSAGE_COLUMNS})
    SELECT b.organisation_id, b.phone_number_row_id, b.template_id, b.id, b.created_at,
           :status, 0, s.first_position + r.n - 1,
           r.value ->> 0, (r.value ->> 1)::json, (r.value ->> 2)::timestamptz
    FROM staged_recipients AS s
    JOIN bulks AS b ON b.id = s.bulk_id
    CROSS JOIN LATERAL json_array_elements(s.payload::json) WITH ORDINALITY AS r(value, n)
    WHERE s.id = :chunk
    ORDER BY r.n
""")

_MATERIALISE = {"sqlite": _SQLITE_MATERIALISE, "postgresql": _POSTGRES_MATERIALISE}
_DELETE_CHUNK = sa.text("DELETE FROM staged_recipients WHERE id = :chunk")
_ANY_STAGED = sa.text("SELECT 1 FROM staged_recipients WHERE bulk_id = :bulk_id LIMIT 1")


async def stage_recipients(
    connection: AsyncConnection, bulk: NewBulk, recipients: Iterable[NewRecipientChunk]
) -> int:
    """Stage ``recipients`` (positions from 0, in order) as ``bulk``'s; returns how many.

    The chunks are read once, each split at ``CHUNK``, so a streamed bulk of any size takes one
    chunk's memory. Positions out of order raise ``ValueError`` (the transaction rolls back).
    """
    stored = _StoredTimes(_json_timestamp(connection))
    variables_as_text = connection.dialect.name == "postgresql"
    staged = 0
    for chunk in recipients:
        chunk.check(expected_position=staged)
        for start in range(0, len(chunk), CHUNK):
            end = start + CHUNK
            count = min(end, len(chunk)) - start
            parameters = {
                "bulk_id": bulk.id,
                "first_position": staged,
                "recipients": count,
                "payload": _payload(chunk, start, end, stored, variables_as_text),
            }
            await connection.execute(_STAGE, parameters)
            staged += count
    return staged


def _payload(
    chunk: NewRecipientChunk, start: int, end: int, stored: _StoredTimes, variables_as_text: bool
) -> str:
    """Recipients ``start:end`` of ``chunk`` as a staged row's JSON (orjson: 5× the standard
    library's speed, which was a tenth of a 100,000-recipient request)."""
    e164s = chunk.e164s[start:end]
    used: Sequence[Mapping[str, str] | str] = chunk.variables_used[start:end]
    if variables_as_text:
        used = [_json_text(variables) for variables in chunk.variables_used[start:end]]
    if chunk.not_before is None:
        rows: list[Any] = list(zip(e164s, used, strict=True))
    else:
        waits = chunk.not_before[start:end]
        rows = [
            (e164, variables) if wait is None else (e164, variables, stored(wait))
            for e164, variables, wait in zip(e164s, used, waits, strict=True)
        ]
    # Mappings that are not dicts (a shared read-only empty one) are written as dicts.
    return orjson.dumps(rows, default=dict).decode()


async def materialise(
    connection: AsyncConnection,
    bulk_id: BulkId,
    *,
    status: RecipientState = "pending",
    at_least: int | None = None,
    wait_for_bulk: bool = True,
) -> int:
    """Make the running bulk's staged recipients ``messages`` rows in ``status``, lowest
    positions first: all of them, or chunks until ``at_least`` rows were made. Returns how
    many. ``wait_for_bulk=False`` (claims) makes none while another transaction holds the
    bulk's row for an update (PostgreSQL)."""
    dialect = connection.dialect.name
    locking = _LOCKED_RUNNING_BULK if wait_for_bulk else _SKIPPED_IF_LOCKED
    if (await connection.execute(locking[dialect], {"bulk_id": bulk_id})).first() is None:
        return 0
    made = 0
    while at_least is None or made < at_least:
        found = (await connection.execute(_NEXT_CHUNK[dialect], {"bulk_id": bulk_id})).first()
        if found is None:
            break
        parameters = {"chunk": found.id, "status": status}
        await connection.execute(_MATERIALISE[dialect], parameters)
        await connection.execute(_DELETE_CHUNK, {"chunk": found.id})
        made += int(found.recipients)
    return made


async def has_staged(connection: AsyncConnection, bulk_id: BulkId) -> bool:
    return (await connection.execute(_ANY_STAGED, {"bulk_id": bulk_id})).first() is not None


def _json_text(variables: Mapping[str, str]) -> str:
    return orjson.dumps(variables, default=dict).decode()


def _json_timestamp(connection: AsyncConnection) -> Callable[[datetime], Any]:
    """A time as the materialising SQL reads it back into ``not_before``."""
    dialect = connection.dialect
    if dialect.name == "postgresql":
        return lambda value: require_aware(value).isoformat()
    # SQLite: exactly the text SQLAlchemy stores for a UTCDateTime.
    process = UTCDateTime().dialect_impl(dialect).bind_processor(dialect)
    assert process is not None, "SQLite stores timestamps as text"
    return process


class _StoredTimes:
    """A ``not_before`` as stored; a bulk beyond its quota room has a time for almost every
    recipient, and runs of them share one (a refill): the last conversion is reused."""

    def __init__(self, convert: Callable[[datetime], Any]) -> None:
        self._convert = convert
        self._last: tuple[datetime | None, Any] = (None, None)

    def __call__(self, value: datetime) -> Any:
        last, stored = self._last
        if value is last or value == last:
            return stored
        stored = self._convert(value)
        self._last = (value, stored)
        return stored
