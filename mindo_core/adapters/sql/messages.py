"""``SqlMessages``: the ``MessageStore`` port over SQL (messages sent one at a time). A message
recorded is a callback event (``message.sent`` or ``message.failed``), written with it; a
message Meta accepted makes its recipient an ``outbound`` contact, in the same transaction."""

from __future__ import annotations

from collections.abc import Sequence

from sqlalchemy.exc import IntegrityError
from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from mindo_core.adapters.sql import mapping
from mindo_core.adapters.sql.callback_events import write_message_events
from mindo_core.adapters.sql.contacts import ensure_contacts
from mindo_core.adapters.sql.database import Database
from mindo_core.adapters.sql.integrity import conflict_or_reraise
from mindo_core.adapters.sql.tables import MessageRow
from mindo_core.domain.accounts import OrganisationId
from mindo_core.domain.messages import MessageRecord, NewMessage

# Bulk recipients that are no message (not yet, or never: cancelled, skipped, opted out).
_NOT_MESSAGES_YET = ("pending", "in_flight", "cancelled", "skipped", "opted_out")


class SqlMessages:
    def __init__(self, database: Database) -> None:
        self._database = database

    async def add_message(self, message: NewMessage) -> MessageRecord:
        row = mapping.new_message_row(message)
        try:
            async with self._database.transaction() as session:
                session.add(row)
                await session.flush()
                await self._report(session, [row])
                await _recipients_as_contacts(session, [message])
        except IntegrityError as error:
            raise conflict_or_reraise(error, f"Message '{message.wamid}' exists") from None
        return mapping.message(row)

    async def add_messages(self, messages: Sequence[NewMessage]) -> Sequence[MessageRecord]:
        rows = [mapping.new_message_row(message) for message in messages]
        try:
            async with self._database.transaction() as session:
                session.add_all(rows)
                await session.flush()
                await self._report(session, rows)
                await _recipients_as_contacts(session, messages)
        except IntegrityError as error:
            raise conflict_or_reraise(error, "A message of the batch exists") from None
        return [mapping.message(row) for row in rows]

    async def _report(self, session: AsyncSession, rows: Sequence[MessageRow]) -> None:
        ids = [row.id for row in rows if row.id is not None]
        at = max((mapping.timestamp(row.created_at) for row in rows), default=None)
        if ids and at is not None:
            connection = await session.connection()
            subscriptions = self._database.callback_subscriptions
            await write_message_events(connection, subscriptions, ids, at=at)

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


async def _recipients_as_contacts(session: AsyncSession, messages: Sequence[NewMessage]) -> None:
    """Whom Meta accepted a message for becomes the organisation's contact (``outbound``)."""
    accepted = [
        (m.organisation_id, m.recipient_phone, m.created_at) for m in messages if m.status == "sent"
    ]
    await ensure_contacts(await session.connection(), accepted, "outbound")
