"""Messages sent one at a time, looked up by their wamid. Recording one that Meta accepted also
makes its recipient the organisation's contact (``outbound``) unless it is one already."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Protocol

from mindo_core.domain.accounts import (
    OrganisationId,
)
from mindo_core.domain.messages import MessageRecord, NewMessage


class MessageStore(Protocol):
    async def add_message(self, message: NewMessage) -> MessageRecord:
        """The message; its recipient, when Meta accepted it (``sent``), becomes the
        organisation's contact (``outbound``) unless they are one, in the same transaction."""
        ...

    async def add_messages(self, messages: Sequence[NewMessage]) -> Sequence[MessageRecord]:
        """Several messages in one transaction (group commit), in order, their recipients as
        ``add_message``'s; all or none: a wamid that exists already raises ``Conflict`` and
        stores nothing."""
        ...

    async def find_message_by_wamid(
        self, organisation_id: OrganisationId, wamid: str
    ) -> MessageRecord | None: ...
