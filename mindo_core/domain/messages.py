"""Messages Mindo sent or tried to send, and their delivery statuses."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Literal, NewType

from mindo_core.domain.accounts import OrganisationId, PhoneNumberRowId
from mindo_core.domain.templates import TemplateId

MessageId = NewType("MessageId", int)

DeliveryState = Literal["sent", "delivered", "read", "failed"]


@dataclass(frozen=True, kw_only=True)
class NewMessage:
    """A message Meta accepted (``wamid`` set) or refused (``error_code`` set)."""

    organisation_id: OrganisationId
    phone_number_row_id: PhoneNumberRowId
    template_id: TemplateId
    recipient_phone: str
    variables_used: Mapping[str, str]
    wamid: str | None
    status: DeliveryState
    created_at: datetime
    sent_at: datetime | None = None
    failed_at: datetime | None = None
    error_code: int | None = None
    error_message: str | None = None


@dataclass(frozen=True, kw_only=True)
class MessageRecord:
    id: MessageId
    organisation_id: OrganisationId
    phone_number_row_id: PhoneNumberRowId
    template_id: TemplateId
    recipient_phone: str
    variables_used: Mapping[str, str]
    wamid: str | None
    status: DeliveryState
    created_at: datetime
    sent_at: datetime | None = None
    delivered_at: datetime | None = None
    read_at: datetime | None = None
    failed_at: datetime | None = None
    error_code: int | None = None
    error_message: str | None = None
