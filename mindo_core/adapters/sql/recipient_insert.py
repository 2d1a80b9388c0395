"""Writing a bulk's recipients (100,000 message rows from one request, any number streamed),
within the transaction that creates the bulk.

Row by row, even through ``executemany``, the Python side of the drivers dominates: binding
a dozen parameters per row, encoding each ``variables_used`` as JSON. Instead:

* SQLite: the recipients go in ``SQLITE_CHUNK`` (1,000) at a time, each chunk as ONE JSON array
  parameter, encoded by one ``json.dumps`` call (in C), and ``INSERT … SELECT … FROM
  json_each(?)`` unpacks it inside SQLite. Chunks bound the memory a streamed bulk takes, and
  they overlap: the next chunk is read and encoded while SQLite writes the previous one in the
  driver's thread (the driver lets go of the GIL while SQLite works), so a big bulk costs about
  the larger of the two, not their sum.
* PostgreSQL: ``COPY messages (…) FROM STDIN`` through psycopg, PostgreSQL's bulk-load path,
  row by row as the recipients come (psycopg buffers and sends in large blocks).

Either way the columns every recipient shares (organisation, number, template, bulk,
``created_at``, status ``pending``, no attempt yet) are bound once, and the rows are written in
position order, so their ids follow their positions. The recipients are read once, as they are
written; positions must be 0, 1, 2, … (``ValueError`` otherwise, and the transaction rolls
back).
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import Callable, Iterable, Iterator, Mapping
from datetime import datetime
from itertools import islice
from typing import Any, cast

import aiosqlite
import psycopg
from sqlalchemy.ext.asyncio import AsyncConnection

from mindo_core.adapters.sql.types import UTCDateTime, require_aware
from mindo_core.ports import NewBulk, NewBulkRecipient

__all__ = ["SQLITE_CHUNK", "insert_recipients"]

# Rows per SQLite statement: enough that a statement's own cost (a hop to the driver's thread)
# is small next to its rows', few enough that a chunk's objects die young. Chunks of 10,000
# lived long enough for the garbage collector to promote them, which brought full collections
# over the whole heap: 0.3 to 0.9 s of a 100,000-recipient request, against none at 1,000.
SQLITE_CHUNK = 1_000

_SHARED_COLUMNS = (
    "organisation_id",
    "phone_number_row_id",
    "template_id",
    "bulk_id",
    "created_at",
    "status",
    "attempts",
)
_OWN_COLUMNS = ("position", "recipient_phone", "variables_used", "not_before")

# Each element of :recipients is [position, e164, {variables}, not_before or null].
# json_extract of an object returns its JSON text, which is what variables_used holds.
# Run by the driver itself (sqlite3 named parameters), the shared values already converted.
_SQLITE_INSERT = f"""
    INSERT INTO messages ({", ".join(_SHARED_COLUMNS + _OWN_COLUMNS)})
    SELECT :organisation_id, :phone_number_row_id, :template_id, :bulk_id, :created_at,
           :status, :attempts,
           json_extract(r.value, '$[0]'), json_extract(r.value, '$[1]'),
           json_extract(r.value, '$[2]'), json_extract(r.value, '$[3]')
    FROM json_each(:recipients) AS r  -- walks the array in order
"""

_POSTGRES_COPY = f"COPY messages ({', '.join(_SHARED_COLUMNS + _OWN_COLUMNS)}) FROM STDIN"

_compact_json = json.JSONEncoder(separators=(",", ":"), ensure_ascii=False, default=dict).encode
# Distinct ``variables_used`` mappings whose JSON the PostgreSQL path remembers at once.
_ENCODED_MAX = 4096


async def insert_recipients(
    connection: AsyncConnection, bulk: NewBulk, recipients: Iterable[NewBulkRecipient]
) -> int:
    """Write ``recipients`` (in position order from 0) as ``bulk``'s; returns how many."""
    ordered = _in_order(recipients)
    if connection.dialect.name == "postgresql":
        return await _copy_into_postgres(connection, bulk, ordered)
    return await _insert_into_sqlite(connection, bulk, ordered)


def _in_order(recipients: Iterable[NewBulkRecipient]) -> Iterator[NewBulkRecipient]:
    for expected, recipient in enumerate(recipients):
        if recipient.position != expected:
            raise ValueError(
                f"recipient positions must be 0..n-1 in order: {recipient.position} "
                f"came where {expected} was due"
            )
        yield recipient


async def _insert_into_sqlite(
    connection: AsyncConnection, bulk: NewBulk, recipients: Iterator[NewBulkRecipient]
) -> int:
    # aiosqlite's connection, in the transaction SQLAlchemy began: one hop to its thread per
    # statement, queued at once (SQLAlchemy's own path takes several, each after the loop
    # runs again, so the statement would start only when awaited).
    raw = await connection.get_raw_connection()
    driver = cast(aiosqlite.Connection, raw.driver_connection)
    stored = _StoredTimes(_timestamp_storage(connection))
    shared = {**_shared(bulk), "created_at": stored(bulk.created_at)}
    written = 0
    writing: asyncio.Task[None] | None = None
    try:
        while chunk := list(islice(recipients, SQLITE_CHUNK)):
            payload = _compact_json(
                [
                    [r.position, r.e164, r.variables_used, r.not_before and stored(r.not_before)]
                    for r in chunk
                ]
            )
            written += len(chunk)
            del chunk
            if writing is not None:
                await writing
            writing = asyncio.create_task(_execute(driver, {**shared, "recipients": payload}))
            del payload
            # Lets the task queue its statement before this loop reads and encodes the next
            # chunk, which then overlaps with SQLite writing this one.
            await asyncio.sleep(0)
        if writing is not None:
            await writing
    except BaseException:
        if writing is not None and not writing.done():
            # The transaction rolls back; the statement must be over before it does.
            await asyncio.wait([writing])
        raise
    return written


async def _execute(driver: aiosqlite.Connection, parameters: Mapping[str, Any]) -> None:
    cursor = await driver.execute(_SQLITE_INSERT, parameters)
    await cursor.close()


async def _copy_into_postgres(
    connection: AsyncConnection, bulk: NewBulk, recipients: Iterator[NewBulkRecipient]
) -> int:
    shared = tuple(_shared(bulk).values())
    # Recipients with the same variables share one mapping (see bulk_submission): encode once.
    encoded: dict[int, tuple[Mapping[str, str], str]] = {}

    def variables_json(variables: Mapping[str, str]) -> str:
        found = encoded.get(id(variables))
        if found is None or found[0] is not variables:
            found = encoded[id(variables)] = (variables, _compact_json(variables))
        return found[1]

    raw = await connection.get_raw_connection()
    driver = cast(psycopg.AsyncConnection[Any], raw.driver_connection)
    written = 0
    async with driver.cursor() as cursor, cursor.copy(_POSTGRES_COPY) as copy:
        for r in recipients:
            not_before = None if r.not_before is None else require_aware(r.not_before)
            own = (r.position, r.e164, variables_json(r.variables_used), not_before)
            await copy.write_row(shared + own)
            written += 1
            if len(encoded) > _ENCODED_MAX:
                encoded.clear()  # a streamed bulk of all-different variables: keep it bounded
    return written


def _shared(bulk: NewBulk) -> dict[str, object]:
    values: tuple[object, ...] = (
        bulk.organisation_id,
        bulk.phone_number_row_id,
        bulk.template_id,
        bulk.id,
        bulk.created_at,
        "pending",
        0,
    )
    return dict(zip(_SHARED_COLUMNS, values, strict=True))


def _timestamp_storage(connection: AsyncConnection) -> Callable[[datetime], Any]:
    dialect = connection.dialect
    process = UTCDateTime().dialect_impl(dialect).bind_processor(dialect)
    if process is None:
        return lambda value: value
    return process


class _StoredTimes:
    """A ``not_before`` as SQLAlchemy stores it (naive UTC text on SQLite), None as None.

    A bulk beyond its quota room has a time for almost every recipient, and runs of them share
    one (a refill): the last conversion is reused."""

    def __init__(self, convert: Callable[[datetime], Any]) -> None:
        self._convert = convert
        self._last: tuple[datetime | None, Any] = (None, None)

    def __call__(self, value: datetime | None) -> Any:
        last, stored = self._last
        if value is last or value == last:
            return stored
        stored = self._convert(value) if value is not None else None
        self._last = (value, stored)
        return stored
