"""What every contract test starts from: a tenant (an organisation with an account, a number
and a template) and the messages it sends."""

from __future__ import annotations

import uuid
from dataclasses import dataclass, replace
from datetime import UTC, datetime, timedelta, timezone
from typing import Any

from mindo_core.bulks.model import BulkId
from mindo_core.domain.accounts import BusinessAccount, Organisation, PhoneNumber
from mindo_core.domain.messages import NewMessage
from mindo_core.domain.templates import StoredTemplate
from mindo_core.ports.bulks import NewBulk
from mindo_core.ports.meta import PhoneNumberInfo, TemplateInfo
from mindo_core.ports.stores import Stores

T0 = datetime(2025, 3, 1, 12, 0, tzinfo=UTC)
MADRID_SUMMER = timezone(timedelta(hours=2))
TOKEN = b"gAAAAAB-not-really-fernet-\x00\xff-bytes"

GREETING_COMPONENTS: list[dict[str, Any]] = [
    {"type": "BODY", "text": "Hola {{nombre}}", "example": {"body_text_named_params": []}},
    {"type": "BUTTONS", "buttons": [{"type": "URL", "text": "Ver", "url": "https://x/{{1}}"}]},
]


def number_info(phone_number_id: str = "1000", **changes: str) -> PhoneNumberInfo:
    info = PhoneNumberInfo(
        phone_number_id=phone_number_id,
        display_phone_number="+34 600 000 000",
        verified_name="Acme",
        quality_rating="GREEN",
        messaging_limit_tier="TIER_1000",
        throughput_level="STANDARD",
    )
    return replace(info, **changes)


def template_info(name: str = "greeting", language: str = "es", **changes: Any) -> TemplateInfo:
    info = TemplateInfo(
        meta_template_id="tmpl-1",
        name=name,
        language=language,
        status="APPROVED",
        category="UTILITY",
        parameter_format="NAMED",
        components=GREETING_COMPONENTS,
    )
    return replace(info, **changes)


@dataclass(frozen=True, kw_only=True)
class Tenant:
    organisation: Organisation
    account: BusinessAccount
    number: PhoneNumber
    template: StoredTemplate


async def tenant(stores: Stores, name: str = "acme", suffix: str = "1") -> Tenant:
    """An organisation with one account, one number and one template."""
    organisation = await stores.organisations.create_organisation(name)
    account = await stores.accounts.upsert_business_account(
        organisation_id=organisation.id,
        waba_id=f"waba-{suffix}",
        name=f"{name} WABA",
        encrypted_access_token=TOKEN + suffix.encode(),
    )
    number = await stores.accounts.upsert_phone_number(account.id, number_info(f"10{suffix}"))
    template = await stores.templates.upsert_template(account.id, template_info())
    return Tenant(organisation=organisation, account=account, number=number, template=template)


def new_bulk(owner: Tenant, **changes: Any) -> NewBulk:
    """A bulk of ``owner``'s template on its number, created at T0, with a fresh id."""
    bulk = NewBulk(
        id=BulkId(str(uuid.uuid4())),
        task_id=f"task-{uuid.uuid4().hex[:8]}",
        organisation_id=owner.organisation.id,
        phone_number_row_id=owner.number.id,
        template_id=owner.template.id,
        pacing="max",
        total_recipients=1,
        estimated_time_minutes=1.5,
        created_at=T0,
    )
    return replace(bulk, **changes)


def sent_message(owner: Tenant, wamid: str | None = "wamid.A", **changes: Any) -> NewMessage:
    message = NewMessage(
        organisation_id=owner.organisation.id,
        phone_number_row_id=owner.number.id,
        template_id=owner.template.id,
        recipient_phone="+34611222333",
        variables_used={"nombre": "Ana"},
        wamid=wamid,
        status="sent",
        created_at=T0,
        sent_at=T0,
    )
    return replace(message, **changes)
