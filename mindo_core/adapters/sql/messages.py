"""``SqlMessages``: the ``MessageStore`` port over SQL (messages sent one at a time). A message
recorded is a callback event (``message.sent`` or ``message.failed``), written with it; a
message Meta accepted makes its recipient an ``outbound`` contact, in the same transaction."""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncConnection
from sqlmodel import col, select

from mindo_core.adapters.sql import mapping
from mindo_core.adapters.sql.callback_events import write_message_events
from mindo_core.adapters.sql.contacts import ensure_contacts
from mindo_core.adapters.sql.database import Database
from mindo_core.adapters.sql.integrity import conflict_or_reraise
from mindo_core.adapters.sql.tables import MessageRow, metadata
from mindo_core.domain.accounts import OrganisationId
from mindo_core.domain.messages import MessageRecord, NewMessage

_MESSAGES = metadata.tables[MessageRow.__tablename__]
# Many rows in one statement (SQLAlchemy's "insertmanyvalues"), their ids in the rows' order.
_INSERT_RETURNING_ID = sa.insert(_MESSAGES).returning(_MESSAGES.c.id, sort_by_parameter_order=True)
# SQLite: SQLAlchemy cannot promise that order there, so the statement above runs once per row
# (a round trip to aiosqlite's thread each: 100 for a group commit of 100 sends). One statement
# instead, its ids sorted: each row inserted gets a rowid above every one before it (the table
# has no explicit ids), and a multi-row VALUES is inserted in its order, under the write lock.
_INSERT_RETURNING_IDS_ANY_ORDER = sa.insert(_MESSAGES).returning(_MESSAGES.c.id)

# Bulk recipients that are no message (not yet, or never: cancelled, skipped, opted out).
_NOT_MESSAGES_YET = ("pending", "in_flight", "cancelled", "skipped", "opted_out")


class SqlMessages:
    def __init__(self, database: Database) -> None:
        self._database = database

    async def add_message(self, message: NewMessage) -> MessageRecord:
        try:
            return (await self._add([message]))[0]
        except IntegrityError as error:
            raise conflict_or_reraise(error, f"Message '{message.wamid}' exists") from None

    async def add_messages(self, messages: Sequence[NewMessage]) -> Sequence[MessageRecord]:
        try:
            return await self._add(messages)
        except IntegrityError as error:
            raise conflict_or_reraise(error, "A message of the batch exists") from None

    async def _add(self, messages: Sequence[NewMessage]) -> list[MessageRecord]:
        """One transaction: the rows in one Core insert (ids returned in order), their callback
        events and their recipients as contacts."""
        if not messages:
            return []
        values = [mapping.new_message_values(message) for message in messages]
        async with self._database.writing(urgent=True) as session:
            connection = await session.connection()
            ids = await _inserted_ids(connection, values)
            at = max(mapping.timestamp(message.created_at) for message in messages)
            await write_message_events(
                connection, self._database.callback_subscriptions, list(ids), at=at
            )
            await _recipients_as_contacts(connection, messages)
        return [mapping.added_message(m, i) for m, i in zip(messages, ids, strict=True)]

    async def find_message_by_wamid(
        self, organisation_id: OrganisationId, wamid: str
    ) -> MessageRecord | None:
        query = select(MessageRow).where(
            MessageRow.organisation_id == organisation_id,
            MessageRow.wamid == wamid,
            # Bulk recipients not sent yet have no wamid; this only makes sure of it.
            col(MessageRow.status).not_in(_NOT_MESSAGES_YET),
        )
        async with self._database.transaction() as session:
            row = (await session.exec(query)).first()
        return None if row is None else mapping.message(row)


async def _inserted_ids(connection: AsyncConnection, values: list[dict[str, object]]) -> list[int]:
    """The rows inserted, their ids in the order of ``values``."""
    if connection.dialect.name == "sqlite":
        inserted = await connection.execute(_INSERT_RETURNING_IDS_ANY_ORDER, values)
        return sorted(inserted.scalars().all())
    return list((await connection.execute(_INSERT_RETURNING_ID, values)).scalars().all())


async def _recipients_as_contacts(
    connection: AsyncConnection, messages: Sequence[NewMessage]
) -> None:
    """Whom Meta accepted a message for becomes the organisation's contact (``outbound``)."""
    accepted = [
        (m.organisation_id, m.recipient_phone, m.created_at) for m in messages if m.status == "sent"
    ]
    await ensure_contacts(connection, accepted, "outbound")
