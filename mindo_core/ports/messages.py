"""Messages sent one at a time, looked up by their wamid."""

from __future__ import annotations

from typing import Protocol

from mindo_core.domain.accounts import (
    OrganisationId,
)
from mindo_core.domain.messages import MessageRecord, NewMessage


class MessageStore(Protocol):
    async def add_message(self, message: NewMessage) -> MessageRecord: ...

    async def find_message_by_wamid(
        self, organisation_id: OrganisationId, wamid: str
    ) -> MessageRecord | None: ...
