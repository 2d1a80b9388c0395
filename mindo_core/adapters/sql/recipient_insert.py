"""Writing a bulk's recipients (up to 100,000 message rows) in one statement, within the
transaction that creates the bulk.

Row by row, even through ``executemany``, the Python side of the drivers dominates: binding
a dozen parameters per row, encoding each ``variables_used`` as JSON. Instead:

* SQLite: the recipients go in as ONE JSON array parameter, encoded by one ``json.dumps``
  call (in C), and ``INSERT … SELECT … FROM json_each(?)`` unpacks it inside SQLite.
* PostgreSQL: ``COPY messages (…) FROM STDIN`` through psycopg, PostgreSQL's bulk-load path.

Either way the columns every recipient shares (organisation, number, template, bulk,
``created_at``, status ``pending``, no attempt yet) are bound once, and the rows are written in
position order, so their ids follow their positions.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping, Sequence
from datetime import datetime
from typing import Any, cast

import psycopg
import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncConnection

from mindo_core.adapters.sql.types import UTCDateTime, require_aware
from mindo_core.ports import NewBulk, NewBulkRecipient

__all__ = ["insert_recipients"]

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
_SQLITE_INSERT = sa.text(
    f"""
    INSERT INTO messages ({", ".join(_SHARED_COLUMNS + _OWN_COLUMNS)})
    SELECT :organisation_id, :phone_number_row_id, :template_id, :bulk_id, :created_at,
           :status, :attempts,
           json_extract(r.value, '$[0]'), json_extract(r.value, '$[1]'),
           json_extract(r.value, '$[2]'), json_extract(r.value, '$[3]')
    FROM json_each(:recipients) AS r  -- walks the array in order
    """
).bindparams(sa.bindparam("created_at", type_=UTCDateTime()))

_POSTGRES_COPY = f"COPY messages ({', '.join(_SHARED_COLUMNS + _OWN_COLUMNS)}) FROM STDIN"

_compact_json = json.JSONEncoder(separators=(",", ":"), ensure_ascii=False, default=dict).encode


async def insert_recipients(
    connection: AsyncConnection, bulk: NewBulk, recipients: Sequence[NewBulkRecipient]
) -> None:
    ordered = sorted(recipients, key=lambda r: r.position)
    if connection.dialect.name == "postgresql":
        await _copy_into_postgres(connection, bulk, ordered)
    else:
        await _insert_into_sqlite(connection, bulk, ordered)


async def _insert_into_sqlite(
    connection: AsyncConnection, bulk: NewBulk, recipients: Sequence[NewBulkRecipient]
) -> None:
    # Timestamps inside the JSON are stored as SQLAlchemy stores them (naive UTC text).
    stored = _timestamp_storage(connection)
    payload = _compact_json(
        [[r.position, r.e164, r.variables_used, _or_none(stored, r.not_before)] for r in recipients]
    )
    await connection.execute(_SQLITE_INSERT, {**_shared(bulk), "recipients": payload})


async def _copy_into_postgres(
    connection: AsyncConnection, bulk: NewBulk, recipients: Sequence[NewBulkRecipient]
) -> None:
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
    async with driver.cursor() as cursor, cursor.copy(_POSTGRES_COPY) as copy:
        for r in recipients:
            not_before = None if r.not_before is None else require_aware(r.not_before)
            own = (r.position, r.e164, variables_json(r.variables_used), not_before)
            await copy.write_row(shared + own)


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


def _or_none(convert: Callable[[datetime], Any], value: datetime | None) -> Any:
    return None if value is None else convert(value)
