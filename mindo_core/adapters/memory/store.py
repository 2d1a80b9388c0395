"""``InMemoryStore``: every store port over dicts, for fast tests of services.

It keeps the SQL store's semantics (the shared contract tests hold both to them): names and keys
are unique (``Conflict``), reads that a client can reach are scoped by organisation, template
refreshes keep the defaults, timestamps must be aware and come back in UTC. Ids come from one
counter for every kind, so an id of one kind passed where another is expected finds nothing.
Values are frozen, so the dicts hold the very values returned; JSON-like fields are copied on
the way in, so a caller's later change to its own dict does not reach the store.
"""

from __future__ import annotations

import copy
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from itertools import count

from mindo_core.access.api_keys import ApiKey, ApiKeyId, Scope
from mindo_core.adapters.memory.delivery_store import InMemoryDeliveryStore
from mindo_core.domain.accounts import (
    BusinessAccount,
    BusinessAccountId,
    Organisation,
    OrganisationId,
    OrganisationProfile,
    PhoneNumber,
    PhoneNumberRowId,
)
from mindo_core.domain.errors import (
    Conflict,
    OrganisationNotFound,
    PhoneNumberNotFound,
    TemplateNotFound,
)
from mindo_core.domain.messages import MessageId, MessageRecord, NewMessage
from mindo_core.domain.templates import StoredTemplate, TemplateId
from mindo_core.ports.meta import PhoneNumberInfo, TemplateInfo


@dataclass
class _Tables:
    organisations: dict[OrganisationId, Organisation] = field(default_factory=dict)
    api_keys: dict[ApiKeyId, ApiKey] = field(default_factory=dict)
    accounts: dict[BusinessAccountId, BusinessAccount] = field(default_factory=dict)
    tokens: dict[BusinessAccountId, bytes] = field(default_factory=dict)
    numbers: dict[PhoneNumberRowId, PhoneNumber] = field(default_factory=dict)
    templates: dict[TemplateId, StoredTemplate] = field(default_factory=dict)
    messages: dict[MessageId, MessageRecord] = field(default_factory=dict)
    # Messages are the table that grows (bulk sends): their lookup is indexed.
    message_by_wamid: dict[str, MessageId] = field(default_factory=dict)


class InMemoryStore(InMemoryDeliveryStore):
    def __init__(self) -> None:
        self._tables = _Tables()
        self._ids = count(1)
        self.closed = False

    def _next_id(self) -> int:
        return next(self._ids)

    async def close(self) -> None:
        self.closed = True

    # ----------------------------------------------------------------------------------------
    # Organisations

    async def create_organisation(self, name: str) -> Organisation:
        if await self.find_organisation_by_name(name) is not None:
            raise Conflict(f"Organisation '{name}' already exists")
        organisation = Organisation(id=OrganisationId(self._next_id()), name=name)
        self._tables.organisations[organisation.id] = organisation
        return organisation

    async def find_organisation_by_name(self, name: str) -> Organisation | None:
        found = (o for o in self._tables.organisations.values() if o.name == name)
        return next(found, None)

    async def get_organisation(self, organisation_id: OrganisationId) -> Organisation | None:
        return self._tables.organisations.get(organisation_id)

    async def list_organisations(self) -> Sequence[Organisation]:
        return sorted(self._tables.organisations.values(), key=lambda o: o.id)

    async def update_organisation_profile(
        self, organisation_id: OrganisationId, profile: OrganisationProfile
    ) -> Organisation:
        current = self._tables.organisations.get(organisation_id)
        if current is None:
            raise OrganisationNotFound(str(organisation_id))
        updated = replace(current, profile=profile)
        self._tables.organisations[organisation_id] = updated
        return updated

    # ----------------------------------------------------------------------------------------
    # API keys

    async def add_api_key(
        self,
        *,
        organisation_id: OrganisationId,
        name: str,
        display_prefix: str,
        key_hash: str,
        scopes: frozenset[Scope],
        created_at: datetime,
        expires_at: datetime | None,
    ) -> ApiKey:
        if await self.find_api_key_by_hash(key_hash) is not None:
            raise Conflict("An API key with this hash exists")
        key = ApiKey(
            id=ApiKeyId(self._next_id()),
            organisation_id=organisation_id,
            name=name,
            display_prefix=display_prefix,
            key_hash=key_hash,
            scopes=frozenset(scopes),
            created_at=_utc(created_at),
            expires_at=_utc_or_none(expires_at),
        )
        self._tables.api_keys[key.id] = key
        return key

    async def find_api_key_by_hash(self, key_hash: str) -> ApiKey | None:
        return next((k for k in self._tables.api_keys.values() if k.key_hash == key_hash), None)

    async def list_api_keys(self, organisation_id: OrganisationId) -> Sequence[ApiKey]:
        return [k for k in self._tables.api_keys.values() if k.organisation_id == organisation_id]

    async def revoke_api_key(self, key_id: ApiKeyId, at: datetime) -> None:
        key = self._tables.api_keys.get(key_id)
        # Revoking twice keeps the first time: that is when the key stopped working.
        if key is not None and key.revoked_at is None:
            self._tables.api_keys[key_id] = replace(key, revoked_at=_utc(at))

    # ----------------------------------------------------------------------------------------
    # Business accounts and phone numbers

    async def upsert_business_account(
        self,
        *,
        organisation_id: OrganisationId,
        waba_id: str,
        name: str,
        encrypted_access_token: bytes,
    ) -> BusinessAccount:
        existing = next((a for a in self._tables.accounts.values() if a.waba_id == waba_id), None)
        if existing is not None and existing.organisation_id != organisation_id:
            raise Conflict(f"WhatsApp Business Account '{waba_id}' belongs to another organisation")
        account_id = BusinessAccountId(self._next_id()) if existing is None else existing.id
        account = BusinessAccount(
            id=account_id, organisation_id=organisation_id, waba_id=waba_id, name=name
        )
        self._tables.accounts[account_id] = account
        self._tables.tokens[account_id] = bytes(encrypted_access_token)
        return account

    async def upsert_phone_number(
        self, business_account_id: BusinessAccountId, info: PhoneNumberInfo
    ) -> PhoneNumber:
        existing = self._number_by_meta_id(info.phone_number_id)
        if existing is not None and existing.business_account_id != business_account_id:
            raise Conflict(f"Phone number '{info.phone_number_id}' belongs to another account")
        number = PhoneNumber(
            id=PhoneNumberRowId(self._next_id()) if existing is None else existing.id,
            business_account_id=business_account_id,
            phone_number_id=info.phone_number_id,
            display_phone_number=info.display_phone_number,
            verified_name=info.verified_name,
            quality_rating=info.quality_rating,
            messaging_limit_tier=info.messaging_limit_tier,
            throughput_level=info.throughput_level,
            # The first number of an account becomes its primary one, and stays so.
            is_primary=self._has_no_primary(business_account_id)
            if existing is None
            else existing.is_primary,
        )
        self._tables.numbers[number.id] = number
        return number

    def _number_by_meta_id(self, phone_number_id: str) -> PhoneNumber | None:
        numbers = self._tables.numbers.values()
        return next((n for n in numbers if n.phone_number_id == phone_number_id), None)

    def _has_no_primary(self, business_account_id: BusinessAccountId) -> bool:
        return not any(
            n.is_primary and n.business_account_id == business_account_id
            for n in self._tables.numbers.values()
        )

    async def list_business_accounts(
        self, organisation_id: OrganisationId | None = None
    ) -> Sequence[BusinessAccount]:
        accounts = self._tables.accounts.values()
        if organisation_id is None:
            return list(accounts)
        return [a for a in accounts if a.organisation_id == organisation_id]

    async def list_phone_numbers(
        self, business_account_id: BusinessAccountId
    ) -> Sequence[PhoneNumber]:
        numbers = self._tables.numbers.values()
        return [n for n in numbers if n.business_account_id == business_account_id]

    async def find_sender(
        self, organisation_id: OrganisationId, phone_number_id: str
    ) -> tuple[PhoneNumber, BusinessAccount, bytes] | None:
        number = self._number_by_meta_id(phone_number_id)
        if number is None:
            return None
        account = self._tables.accounts[number.business_account_id]
        if account.organisation_id != organisation_id:
            return None
        return number, account, self._tables.tokens[account.id]

    async def encrypted_token(self, business_account_id: BusinessAccountId) -> bytes | None:
        return self._tables.tokens.get(business_account_id)

    async def update_phone_number_limits(
        self,
        number_id: PhoneNumberRowId,
        *,
        messaging_limit_tier: str | None = None,
        throughput_level: str | None = None,
    ) -> PhoneNumber:
        number = self._tables.numbers.get(number_id)
        if number is None:
            raise PhoneNumberNotFound(f"#{number_id}")
        updated = replace(
            number,
            messaging_limit_tier=messaging_limit_tier or number.messaging_limit_tier,
            throughput_level=throughput_level or number.throughput_level,
        )
        self._tables.numbers[number_id] = updated
        return updated

    # ----------------------------------------------------------------------------------------
    # Templates

    async def upsert_template(
        self, business_account_id: BusinessAccountId, info: TemplateInfo
    ) -> StoredTemplate:
        existing = await self.find_template(business_account_id, info.name, info.language)
        template = StoredTemplate(
            id=TemplateId(self._next_id()) if existing is None else existing.id,
            business_account_id=business_account_id,
            meta_template_id=info.meta_template_id,
            name=info.name,
            language=info.language,
            status=info.status,
            category=info.category,
            parameter_format=info.parameter_format,
            components=tuple(copy.deepcopy(dict(c)) for c in info.components),
            # Meta's fields are refreshed; the defaults are Mindo's and survive.
            variable_defaults={} if existing is None else existing.variable_defaults,
        )
        self._tables.templates[template.id] = template
        return template

    async def set_variable_defaults(
        self, template: StoredTemplate, defaults: Mapping[str, str]
    ) -> StoredTemplate:
        stored = self._tables.templates.get(template.id)
        if stored is None:
            raise TemplateNotFound(template.name, template.language)
        updated = replace(stored, variable_defaults=dict(defaults))
        self._tables.templates[updated.id] = updated
        return updated

    async def find_template(
        self, business_account_id: BusinessAccountId, name: str, language: str
    ) -> StoredTemplate | None:
        key = (business_account_id, name, language)
        found = (
            t
            for t in self._tables.templates.values()
            if (t.business_account_id, t.name, t.language) == key
        )
        return next(found, None)

    async def list_templates(
        self, business_account_id: BusinessAccountId
    ) -> Sequence[StoredTemplate]:
        templates = self._tables.templates.values()
        mine = [t for t in templates if t.business_account_id == business_account_id]
        return sorted(mine, key=lambda t: (t.name, t.language))

    async def get_template(self, template_id: TemplateId) -> StoredTemplate | None:
        return self._tables.templates.get(template_id)

    async def set_template_status(self, template_id: TemplateId, status: str) -> StoredTemplate:
        stored = self._tables.templates.get(template_id)
        if stored is None:
            raise TemplateNotFound(f"#{template_id}", "?")
        updated = replace(stored, status=status)
        self._tables.templates[template_id] = updated
        return updated

    # ----------------------------------------------------------------------------------------
    # Messages

    async def add_message(self, message: NewMessage) -> MessageRecord:
        if message.wamid is not None and self._message_by_wamid(message.wamid) is not None:
            raise Conflict(f"Message '{message.wamid}' exists")
        record = MessageRecord(
            id=MessageId(self._next_id()),
            organisation_id=message.organisation_id,
            phone_number_row_id=message.phone_number_row_id,
            template_id=message.template_id,
            recipient_phone=message.recipient_phone,
            variables_used=dict(message.variables_used),
            wamid=message.wamid,
            status=message.status,
            created_at=_utc(message.created_at),
            sent_at=_utc_or_none(message.sent_at),
            failed_at=_utc_or_none(message.failed_at),
            error_code=message.error_code,
            error_message=message.error_message,
        )
        self._tables.messages[record.id] = record
        if record.wamid is not None:
            self._tables.message_by_wamid[record.wamid] = record.id
        return record

    def _message_by_wamid(self, wamid: str) -> MessageRecord | None:
        message_id = self._tables.message_by_wamid.get(wamid)
        if message_id is None:
            return self._bulk_message_by_wamid(wamid)
        return self._tables.messages[message_id]

    async def find_message_by_wamid(
        self, organisation_id: OrganisationId, wamid: str
    ) -> MessageRecord | None:
        message = self._message_by_wamid(wamid)
        if message is None or message.organisation_id != organisation_id:
            return None
        return message


def _utc(value: datetime) -> datetime:
    if value.tzinfo is None or value.utcoffset() is None:
        raise ValueError(f"naive datetime {value.isoformat()}: timestamps must be timezone-aware")
    return value.astimezone(UTC)


def _utc_or_none(value: datetime | None) -> datetime | None:
    return None if value is None else _utc(value)
