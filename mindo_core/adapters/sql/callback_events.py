"""The callback events of the changes the repositories write, built from the rows as they are
after the change and written to the outbox in the same transaction (``outbox``).

Nothing is read or built unless some organisation wants an event of the kind (the cached
subscriptions), so the bulk hot path of an installation without endpoints pays one dictionary
lookup per batch.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from datetime import UTC, datetime

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncConnection

from mindo_core.adapters.sql import mapping
from mindo_core.adapters.sql.outbox import CallbackSubscriptions, any_wanted, write_events
from mindo_core.adapters.sql.tables import MessageRow, metadata
from mindo_core.bulks.model import Bulk, message_status
from mindo_core.callbacks.model import NewEvent
from mindo_core.callbacks.payloads import MessageFacts, bulk_event, message_event
from mindo_core.domain.accounts import OrganisationId

_MESSAGES = metadata.tables[MessageRow.__tablename__]
_CHUNK = 500
_MESSAGE_COLUMNS = (
    "id",
    "organisation_id",
    "status",
    "recipient_phone",
    "wamid",
    "bulk_id",
    "position",
    "sent_at",
    "delivered_at",
    "read_at",
    "failed_at",
    "error_code",
    "error_message",
)


async def write_message_events(
    connection: AsyncConnection,
    subscriptions: CallbackSubscriptions,
    message_ids: Iterable[int],
    *,
    at: datetime,
) -> int:
    """An event for each message's current status (sent, delivered, read, failed), for the
    organisations that want it."""
    ids = sorted(set(message_ids))
    if not ids or not await any_wanted(connection, subscriptions, "message."):
        return 0
    subscribed = await subscriptions.current(connection)
    events: list[NewEvent] = []
    columns = [_MESSAGES.c[name] for name in _MESSAGE_COLUMNS]
    for start in range(0, len(ids), _CHUNK):
        query = sa.select(*columns).where(_MESSAGES.c.id.in_(ids[start : start + _CHUNK]))
        for row in (await connection.execute(query)).mappings().all():
            organisation = OrganisationId(row["organisation_id"])
            if organisation not in subscribed:
                continue
            event = message_event(_facts(row), fallback_at=at)
            if event is not None:
                events.append(event)
    return await write_events(connection, subscriptions, events)


async def write_bulk_events(
    connection: AsyncConnection,
    subscriptions: CallbackSubscriptions,
    bulks: Sequence[Bulk],
    *,
    at: datetime | None = None,
) -> int:
    """A ``bulk.status_changed`` event for each bulk as it now is. ``at``: the change's time;
    the wall clock when the change carries none (a pause, a counter that finished it)."""
    if not bulks or not await any_wanted(connection, subscriptions, "bulk."):
        return 0
    when = at if at is not None else datetime.now(UTC)
    return await write_events(connection, subscriptions, [bulk_event(b, at=when) for b in bulks])


async def wants_bulk_events(
    connection: AsyncConnection, subscriptions: CallbackSubscriptions
) -> bool:
    return await any_wanted(connection, subscriptions, "bulk.")


def _facts(row: sa.RowMapping) -> MessageFacts:
    state = mapping.recipient_state(row["status"])
    return MessageFacts(
        organisation_id=OrganisationId(row["organisation_id"]),
        status=message_status(state) or state,
        phone=row["recipient_phone"],
        wamid=row["wamid"],
        bulk_id=row["bulk_id"],
        position=row["position"],
        sent_at=_aware_or_none(row["sent_at"]),
        delivered_at=_aware_or_none(row["delivered_at"]),
        read_at=_aware_or_none(row["read_at"]),
        failed_at=_aware_or_none(row["failed_at"]),
        error_code=row["error_code"],
        error_message=row["error_message"],
    )


def _aware_or_none(value: datetime | None) -> datetime | None:
    return None if value is None else mapping.timestamp(value)
