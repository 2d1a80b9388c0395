"""GET a message's delivery status by its wamid (the documented Message status page).

Only the organisation that sent the message sees it; another's wamid answers exactly like an
unknown one (``MessageNotFound``). Bulk recipients are messages too once Meta has them.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Final

from mindo_core.contacts.model import Contact
from mindo_core.domain.errors import MessageNotFound
from mindo_core.domain.messages import MessageRecord
from mindo_core.domain.templates import StoredTemplate
from mindo_core.ports.contacts import ContactStore
from mindo_core.ports.messages import MessageStore
from mindo_core.ports.templates import TemplateStore
from mindo_core.services.authenticate import Principal

__all__ = ["MessageStatusQuery", "MessageView"]

# Meta's wamids are about 60 characters; anything far longer is no wamid.
MAX_WAMID_LENGTH: Final = 128


@dataclass(frozen=True, kw_only=True)
class MessageView:
    message: MessageRecord
    # None only if the template row is gone (templates are never deleted today).
    template: StoredTemplate | None
    contact: Contact | None = None  # the organisation's contact with the recipient's phone

    @property
    def was_successful(self) -> bool:
        """Whether Meta accepted the send: it has a wamid, whatever its delivery did since (a
        failed status can even beat the engine's record of the acceptance)."""
        return self.message.wamid is not None

    @property
    def send_error(self) -> str | None:
        """The error of the send itself; a later delivery failure is not one."""
        return None if self.was_successful else self.message.error_message


class MessageStatusQuery:
    def __init__(
        self,
        *,
        messages: MessageStore,
        templates: TemplateStore,
        contacts: ContactStore,
    ) -> None:
        self._contacts = contacts
        self._messages = messages
        self._templates = templates

    async def __call__(self, principal: Principal, wamid: str) -> MessageView:
        wamid = wamid.strip()
        if not wamid or len(wamid) > MAX_WAMID_LENGTH:
            raise MessageNotFound(wamid[:MAX_WAMID_LENGTH])
        message = await self._messages.find_message_by_wamid(principal.organisation.id, wamid)
        if message is None:
            raise MessageNotFound(wamid)
        template = await self._templates.get_template(message.template_id)
        contact = await self._contacts.find_contact(
            principal.organisation.id, message.recipient_phone
        )
        return MessageView(message=message, template=template, contact=contact)
