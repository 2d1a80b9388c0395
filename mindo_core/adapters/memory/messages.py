"""``InMemoryMessages``: the ``MessageStore`` port over the shared ``Tables`` (a message Meta
accepted makes its recipient an ``outbound`` contact, as in SQL)."""

from __future__ import annotations

from collections.abc import Sequence

from mindo_core.adapters.memory.bulks import bulk_message_by_wamid
from mindo_core.adapters.memory.contacts import ensure_contact
from mindo_core.adapters.memory.tables import Tables, aware, aware_or_none
from mindo_core.domain.accounts import OrganisationId
from mindo_core.domain.errors import Conflict
from mindo_core.domain.messages import MessageId, MessageRecord, NewMessage


class InMemoryMessages:
    def __init__(self, tables: Tables) -> None:
        self._tables = tables

    async def add_message(self, message: NewMessage) -> MessageRecord:
        if message.wamid is not None and self._message_by_wamid(message.wamid) is not None:
            raise Conflict(f"Message '{message.wamid}' exists")
        record = MessageRecord(
            id=MessageId(self._tables.next_id()),
            organisation_id=message.organisation_id,
            phone_number_row_id=message.phone_number_row_id,
            template_id=message.template_id,
            recipient_phone=message.recipient_phone,
            variables_used=dict(message.variables_used),
            wamid=message.wamid,
            status=message.status,
            created_at=aware(message.created_at),
            sent_at=aware_or_none(message.sent_at),
            failed_at=aware_or_none(message.failed_at),
            error_code=message.error_code,
            error_message=message.error_message,
        )
        self._tables.messages[record.id] = record
        if record.wamid is not None:
            self._tables.message_by_wamid[record.wamid] = record.id
        if record.status == "sent":
            phone, at = record.recipient_phone, record.created_at
            ensure_contact(self._tables, record.organisation_id, phone, "outbound", at)
        return record

    async def add_messages(self, messages: Sequence[NewMessage]) -> Sequence[MessageRecord]:
        wamids = [m.wamid for m in messages if m.wamid is not None]
        taken = [w for w in wamids if self._message_by_wamid(w) is not None]
        if taken or len(set(wamids)) != len(wamids):
            raise Conflict(f"Message '{(taken or wamids)[0]}' exists")
        return [await self.add_message(message) for message in messages]

    def _message_by_wamid(self, wamid: str) -> MessageRecord | None:
        message_id = self._tables.message_by_wamid.get(wamid)
        if message_id is None:
            return bulk_message_by_wamid(self._tables, wamid)
        return self._tables.messages[message_id]

    async def find_message_by_wamid(
        self, organisation_id: OrganisationId, wamid: str
    ) -> MessageRecord | None:
        message = self._message_by_wamid(wamid)
        if message is None or message.organisation_id != organisation_id:
            return None
        return message
