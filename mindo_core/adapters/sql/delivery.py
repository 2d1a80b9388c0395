"""``SqlDelivery``: the ``DeliveryStore`` port over SQL (status webhooks → messages).

One batch is one writing transaction (``Database.writing``): on PostgreSQL, the bulks of
the batch are locked first, in id order, then its messages (here in id order). Every writer that
touches a bulk's messages (outcomes, stops, settling) locks the bulk rows first, in id order,
and claims never wait (``SKIP LOCKED``), so a webhook batch and the engine never wait for each
other in a circle. Single sends have no bulk row; only webhooks and their one insert touch them.

Per batch: find each status's message by wamid; for a wamid not recorded yet, the bulk
recipient its callback data names, if it is still in flight or unconfirmed with no wamid
(the webhook beat the engine's own commit; the wamid is recorded with the status). The rules of
``delivery`` decide every move; changed rows are written with one ``executemany``; bulk counters
move by increments (``CounterMoves``) and finished bulks refresh their final status. What finds
no message is parked in ``parked_statuses`` for ``apply_parked``.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from datetime import datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncConnection
from sqlmodel.ext.asyncio.session import AsyncSession

from mindo_core.adapters.sql import mapping

# Shared with the engine's writes: the same lock order and counter settling.
from mindo_core.adapters.sql.bulks import lock_bulks, settle_counters
from mindo_core.adapters.sql.callback_events import write_message_events
from mindo_core.adapters.sql.counter_moves import CounterMoves
from mindo_core.adapters.sql.database import Database
from mindo_core.adapters.sql.tables import MessageRow, ParkedStatusRow, PhoneNumberRow, metadata
from mindo_core.bulks.model import BulkId, RecipientState
from mindo_core.delivery.status_rules import (
    PARKED_STATUS_TTL,
    DeliveryFields,
    DeliveryReport,
    apply_status,
    settles_as_attempted,
)
from mindo_core.delivery.webhook_payloads import StatusUpdate
from mindo_core.domain.messages import DeliveryState
from mindo_core.engine.bulk_messages import parse_callback_data

__all__ = ["SqlDelivery"]

_MESSAGES = metadata.tables[MessageRow.__tablename__]
_PARKED = metadata.tables[ParkedStatusRow.__tablename__]
# SQLite allows 32,766 bound parameters per statement; PostgreSQL 65,535.
_CHUNK = 500
# A recipient a callback may settle: Meta may have it, and Mindo has no wamid for it yet. That
# includes one pending again after an attempt (``settles_as_attempted``).
_SETTLEABLE: tuple[RecipientState, ...] = ("in_flight", "unconfirmed")
_FIELDS = (
    "status",
    "wamid",
    "sent_at",
    "delivered_at",
    "read_at",
    "failed_at",
    "error_code",
    "error_message",
)


class SqlDelivery:
    def __init__(self, database: Database) -> None:
        self._database = database

    async def apply_statuses(
        self, updates: Sequence[StatusUpdate], *, received_at: datetime
    ) -> DeliveryReport:
        received_at = mapping.timestamp(received_at)
        if not updates:
            return DeliveryReport()
        async with self._database.writing() as session:
            report, unmatched = await _apply(session, updates, self._database, received_at)
            connection = await session.connection()
            ours = await _of_known_numbers(connection, unmatched)
            await _park(connection, ours, received_at)
        ignored = len(unmatched) - len(ours)
        return report + DeliveryReport(parked=len(ours), unchanged=ignored)

    async def apply_parked(self, *, now: datetime) -> DeliveryReport:
        now = mapping.timestamp(now)
        expiry = now - PARKED_STATUS_TTL
        # Read first: the sweep runs every second while anything is parked, and SQLite's one
        # write lock is for work, not for finding there is none.
        async with self._database.transaction() as session:
            connection = await session.connection()
            if not await connection.scalar(_work_for_sweep(expiry)):
                return DeliveryReport()
        async with self._database.writing() as session:
            connection = await session.connection()
            expired = await connection.execute(
                sa.delete(_PARKED).where(_PARKED.c.received_at < expiry)
            )
            found = (
                sa.select(_PARKED)
                .where(sa.exists().where(_MESSAGES.c.wamid == _PARKED.c.wamid))
                .order_by(_PARKED.c.id)
            )
            rows = (await connection.execute(found)).mappings().all()
            if not rows:
                return DeliveryReport(unchanged=int(expired.rowcount))
            updates = [_parked_update(row) for row in rows]
            report, _ = await _apply(session, updates, self._database, now)
            ids = [row["id"] for row in rows]
            for chunk in _chunks(ids):
                await connection.execute(sa.delete(_PARKED).where(_PARKED.c.id.in_(chunk)))
        return report + DeliveryReport(unchanged=int(expired.rowcount))

    async def parked_count(self) -> int:
        async with self._database.transaction() as session:
            connection = await session.connection()
            count = await connection.scalar(sa.select(sa.func.count()).select_from(_PARKED))
        return int(count or 0)


# -- one batch ---------------------------------------------------------------------------------


async def _apply(
    session: AsyncSession, updates: Sequence[StatusUpdate], database: Database, at: datetime
) -> tuple[DeliveryReport, list[StatusUpdate]]:
    """Applies what finds its message; returns the report and the statuses that found none.
    A message whose status moved is a callback event, written in the same transaction."""
    connection = await session.connection()
    owners = await _owners_by_wamid(connection, {u.wamid for u in updates})
    owners.update(await _owners_by_callback(connection, updates, owners))
    unmatched = [u for u in updates if u.wamid not in owners]
    bulks = await lock_bulks(session, {bulk_id for _, bulk_id in owners.values()})
    rows = await _locked_rows(connection, {message_id for message_id, _ in owners.values()})
    moves = CounterMoves()
    changed_bulks: dict[BulkId, None] = {}
    writes: list[dict[str, Any]] = []
    moved_status: list[int] = []
    applied = unchanged = 0
    for message_id, batch in _by_message(updates, owners).items():
        row = rows.get(message_id)
        if row is None:
            unchanged += len(batch)
            continue
        before = _fields(row)
        after = before
        for update in batch:
            moved = apply_status(after, update)
            if moved is after:
                unchanged += 1
            else:
                applied += 1
            after = moved
        # The first webhook heard is noted even when it changes nothing (a single send's
        # "sent"): the sweep of unknown outcomes reads it (``bulks.unknown_outcomes``).
        if after is before and row["first_webhook_at"] is not None:
            continue
        writes.append(_write(message_id, after, heard_at=at))
        if after.state != before.state:
            moved_status.append(message_id)
        bulk_id = row["bulk_id"]
        if bulk_id is not None and bulk_id in bulks:
            moves.move(BulkId(bulk_id), before.state, after.state)
            changed_bulks.setdefault(BulkId(bulk_id))
    if writes:
        await connection.execute(_UPDATE, writes)
        await write_message_events(connection, database.callback_subscriptions, moved_status, at=at)
    changed = await settle_counters(
        session, moves, changed_bulks, subscriptions=database.callback_subscriptions
    )
    report = DeliveryReport(applied=applied, unchanged=unchanged, bulks=tuple(changed))
    return report, unmatched


async def _owners_by_wamid(
    connection: AsyncConnection, wamids: Iterable[str]
) -> dict[str, tuple[int, str | None]]:
    """wamid → (message id, bulk id) of the messages that have one of ``wamids``."""
    owners: dict[str, tuple[int, str | None]] = {}
    for chunk in _chunks(sorted(wamids)):
        query = sa.select(_MESSAGES.c.wamid, _MESSAGES.c.id, _MESSAGES.c.bulk_id).where(
            _MESSAGES.c.wamid.in_(chunk)
        )
        for wamid, message_id, bulk_id in (await connection.execute(query)).all():
            owners[wamid] = (message_id, bulk_id)
    return owners


async def _owners_by_callback(
    connection: AsyncConnection,
    updates: Sequence[StatusUpdate],
    known: Mapping[str, tuple[int, str | None]],
) -> dict[str, tuple[int, str | None]]:
    """wamid → (message id, bulk id) for statuses of unknown wamids whose callback data names
    a recipient that Meta may have received and that has no wamid yet."""
    named: dict[int, tuple[str, str]] = {}
    for update in updates:
        if update.wamid in known or update.callback_data is None:
            continue
        parsed = parse_callback_data(update.callback_data)
        if parsed is not None:
            named.setdefault(parsed[1], (update.wamid, parsed[0]))
    owners: dict[str, tuple[int, str | None]] = {}
    for chunk in _chunks(sorted(named)):
        query = sa.select(_MESSAGES.c.id, _MESSAGES.c.bulk_id).where(
            _MESSAGES.c.id.in_(chunk),
            _MESSAGES.c.wamid.is_(None),
            sa.or_(
                _MESSAGES.c.status.in_(_SETTLEABLE),
                sa.and_(_MESSAGES.c.status == "pending", _MESSAGES.c.attempts > 0),
            ),
        )
        for message_id, bulk_id in (await connection.execute(query)).all():
            wamid, named_bulk = named[message_id]
            if bulk_id == named_bulk:
                owners[wamid] = (message_id, bulk_id)
    return owners


async def _locked_rows(
    connection: AsyncConnection, message_ids: Iterable[int]
) -> dict[int, sa.RowMapping]:
    rows: dict[int, sa.RowMapping] = {}
    columns = [
        _MESSAGES.c.id,
        _MESSAGES.c.bulk_id,
        _MESSAGES.c.first_webhook_at,
        *(_MESSAGES.c[name] for name in _FIELDS),
    ]
    for chunk in _chunks(sorted(message_ids)):
        query = (
            sa.select(*columns)
            .where(_MESSAGES.c.id.in_(chunk))
            .order_by(_MESSAGES.c.id)
            .with_for_update()
        )
        for row in (await connection.execute(query)).mappings().all():
            rows[row["id"]] = row
    return rows


def _by_message(
    updates: Sequence[StatusUpdate], owners: Mapping[str, tuple[int, str | None]]
) -> dict[int, list[StatusUpdate]]:
    """The statuses of each message, in arrival order."""
    grouped: dict[int, list[StatusUpdate]] = {}
    for update in updates:
        owner = owners.get(update.wamid)
        if owner is not None:
            grouped.setdefault(owner[0], []).append(update)
    return grouped


def _fields(row: sa.RowMapping) -> DeliveryFields:
    return DeliveryFields(
        state=settles_as_attempted(mapping.recipient_state(row["status"])),
        wamid=row["wamid"],
        sent_at=_aware_or_none(row["sent_at"]),
        delivered_at=_aware_or_none(row["delivered_at"]),
        read_at=_aware_or_none(row["read_at"]),
        failed_at=_aware_or_none(row["failed_at"]),
        error_code=row["error_code"],
        error_message=row["error_message"],
    )


_UPDATE = (
    sa.update(_MESSAGES)
    .where(_MESSAGES.c.id == sa.bindparam("message_id"))
    .values(
        {
            **{name: sa.bindparam(f"new_{name}", type_=_MESSAGES.c[name].type) for name in _FIELDS},
            "first_webhook_at": sa.func.coalesce(
                _MESSAGES.c.first_webhook_at,
                sa.bindparam("heard_at", type_=_MESSAGES.c.first_webhook_at.type),
            ),
        }
    )
)


def _write(message_id: int, fields: DeliveryFields, *, heard_at: datetime) -> dict[str, Any]:
    return {
        "message_id": message_id,
        "heard_at": heard_at,
        "new_status": fields.state,
        "new_wamid": fields.wamid,
        "new_sent_at": fields.sent_at,
        "new_delivered_at": fields.delivered_at,
        "new_read_at": fields.read_at,
        "new_failed_at": fields.failed_at,
        "new_error_code": fields.error_code,
        "new_error_message": fields.error_message,
    }


# -- parking -----------------------------------------------------------------------------------


_NUMBERS = metadata.tables[PhoneNumberRow.__tablename__]


def _work_for_sweep(expiry: datetime) -> sa.Select[tuple[bool]]:
    """Whether a parked status has found its message, or has expired."""
    found = sa.exists().where(_MESSAGES.c.wamid == _PARKED.c.wamid)
    due = sa.exists().where(sa.or_(_PARKED.c.received_at < expiry, found))
    return sa.select(due)


async def _of_known_numbers(
    connection: AsyncConnection, updates: Sequence[StatusUpdate]
) -> list[StatusUpdate]:
    """The statuses about one of Mindo's numbers; Meta also posts those of other senders."""
    wanted = sorted({u.phone_number_id for u in updates})
    known: set[str] = set()
    for chunk in _chunks(wanted):
        query = sa.select(_NUMBERS.c.phone_number_id).where(_NUMBERS.c.phone_number_id.in_(chunk))
        known.update((await connection.execute(query)).scalars().all())
    return [u for u in updates if u.phone_number_id in known]


async def _park(
    connection: AsyncConnection, updates: Sequence[StatusUpdate], received_at: datetime
) -> None:
    if not updates:
        return
    rows = [
        {
            "wamid": u.wamid,
            "status": u.status,
            "at": mapping.timestamp(u.at),
            "recipient_id": u.recipient_id[:32],
            "phone_number_id": u.phone_number_id[:64],
            "callback_data": u.callback_data,
            "error_code": u.error_code,
            "error_title": u.error_title,
            "error_details": u.error_details,
            "received_at": received_at,
        }
        for u in updates
    ]
    await connection.execute(sa.insert(_PARKED), rows)


def _parked_update(row: sa.RowMapping) -> StatusUpdate:
    status: DeliveryState = row["status"]
    return StatusUpdate(
        wamid=row["wamid"],
        status=status,
        at=mapping.timestamp(row["at"]),
        recipient_id=row["recipient_id"],
        phone_number_id=row["phone_number_id"],
        callback_data=row["callback_data"],
        error_code=row["error_code"],
        error_title=row["error_title"],
        error_details=row["error_details"],
    )


def _aware_or_none(value: datetime | None) -> datetime | None:
    return None if value is None else mapping.timestamp(value)


def _chunks(values: Sequence[Any]) -> Iterable[Sequence[Any]]:
    for start in range(0, len(values), _CHUNK):
        yield values[start : start + _CHUNK]
