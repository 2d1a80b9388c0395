"""The SQL of unknown outcomes (``bulks.unknown_outcomes``): the unconfirmed recipients with what
the webhooks of their number's later calls say, and their settlement.

The evidence of one recipient is read from the next ``LATER_CALLS`` calls its number started
after it (``ix_messages_phone_number_row_id_call_started_at``): the earliest status webhook
among them (``delivered_at`` or ``read_at``, Meta's times). Bounded, so that a sweep costs a
few index reads per unknown recipient whatever the table's size.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncConnection

from mindo_core.adapters.sql import mapping
from mindo_core.adapters.sql.tables import BulkRow, MessageRow
from mindo_core.adapters.sql.types import UTCDateTime
from mindo_core.bulks.model import BulkId
from mindo_core.bulks.unknown_outcomes import LATER_CALLS, NOT_AT_META_REASON, UnknownRecipient
from mindo_core.domain.accounts import OrganisationId
from mindo_core.domain.messages import MessageId

__all__ = ["fail", "reopen", "resend", "unknown_recipients"]

_MESSAGES: Any = MessageRow.__table__  # type: ignore[attr-defined]
_BULKS: Any = BulkRow.__table__  # type: ignore[attr-defined]
# A bulk that ended by itself may run again for a resend; one cancelled or stopped may not.
_REOPENABLE = ("COMPLETED", "PARTIAL", "FAILED")


async def unknown_recipients(
    connection: AsyncConnection, *, started_before: datetime, limit: int
) -> list[UnknownRecipient]:
    m, b = _MESSAGES, _BULKS
    query = (
        sa.select(
            m.c.id,
            m.c.bulk_id,
            m.c.organisation_id,
            m.c.phone_number_row_id,
            m.c.call_started_at,
            m.c.resent_at,
            b.c.status.label("bulk_status"),
            b.c.stop_reason,
        )
        .join(b, b.c.id == m.c.bulk_id)
        .where(m.c.status == "unconfirmed", m.c.call_started_at <= started_before)
        .order_by(m.c.call_started_at)
        .limit(limit)
    )
    rows = (await connection.execute(query)).all()
    found = []
    for row in rows:
        started = mapping.timestamp(row.call_started_at)
        found.append(
            UnknownRecipient(
                message_id=MessageId(row.id),
                bulk_id=BulkId(row.bulk_id),
                organisation_id=OrganisationId(row.organisation_id),
                call_started_at=started,
                later_webhook_at=await _later_webhook_at(
                    connection, row.phone_number_row_id, started
                ),
                resent=row.resent_at is not None,
                may_resend=row.stop_reason is None and row.bulk_status != "CANCELLED",
            )
        )
    return found


async def _later_webhook_at(
    connection: AsyncConnection, number: int, started: datetime
) -> datetime | None:
    m = _MESSAGES
    later = (
        sa.select(m.c.delivered_at, m.c.read_at)
        .where(
            m.c.phone_number_row_id == number,
            m.c.call_started_at.is_not(None),
            m.c.call_started_at > started,
        )
        .order_by(m.c.call_started_at)
        .limit(LATER_CALLS)
        .subquery()
    )
    earliest = sa.select(
        sa.func.min(sa.func.coalesce(later.c.delivered_at, later.c.read_at), type_=UTCDateTime())
    )
    value = (await connection.execute(earliest)).scalar_one_or_none()
    return None if value is None else mapping.timestamp(value)


async def fail(
    connection: AsyncConnection, message_ids: Sequence[MessageId], now: datetime
) -> dict[BulkId, int]:
    """Unconfirmed → failed; how many per bulk."""
    m = _MESSAGES
    statement = (
        sa.update(m)
        .where(m.c.id.in_(list(message_ids)), m.c.status == "unconfirmed")
        .values(status="failed", failed_at=now, error_message=NOT_AT_META_REASON)
        .returning(m.c.bulk_id)
    )
    return _per_bulk((await connection.execute(statement)).all())


async def resend(
    connection: AsyncConnection, message_ids: Sequence[MessageId], now: datetime
) -> dict[BulkId, int]:
    """Unconfirmed and never resent → pending, marked resent; how many per bulk. The bulks
    counted are the caller's to reopen (``reopen``) and count."""
    m = _MESSAGES
    statement = (
        sa.update(m)
        .where(
            m.c.id.in_(list(message_ids)),
            m.c.status == "unconfirmed",
            m.c.resent_at.is_(None),
        )
        .values(status="pending", resent_at=now, retry_at=None, error_message=None)
        .returning(m.c.bulk_id)
    )
    return _per_bulk((await connection.execute(statement)).all())


async def reopen(connection: AsyncConnection, bulk_id: BulkId, resent: int) -> None:
    """The bulk counts ``resent`` more resends and, if it had ended by itself, runs again."""
    b = _BULKS
    await connection.execute(
        sa.update(b).where(b.c.id == bulk_id).values(resent_count=b.c.resent_count + resent)
    )
    await connection.execute(
        sa.update(b)
        .where(b.c.id == bulk_id, b.c.status.in_(_REOPENABLE), b.c.stop_reason.is_(None))
        .values(status="PROCESSING", completed_at=None)
    )


def _per_bulk(rows: Sequence[Any]) -> dict[BulkId, int]:
    counts: dict[BulkId, int] = {}
    for row in rows:
        bulk_id = BulkId(row.bulk_id)
        counts[bulk_id] = counts.get(bulk_id, 0) + 1
    return counts
