"""The ports the core needs from the outside world. Each has a real adapter and an in-memory one.

Stores (``adapters.sql`` over SQLModel, ``adapters.memory`` for unit tests)
  OrganisationStore, ApiKeyStore, AccountStore, TemplateStore, MessageStore
MetaGateway (``adapters.meta`` over aiohttp; Meta or the sandbox, same protocol)
TokenCipher (``adapters.crypto``: Fernet keyed by MINDO_SECRET_KEY)
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Protocol

from mindo_core.accounts import (
    BusinessAccount,
    BusinessAccountId,
    Organisation,
    OrganisationId,
    PhoneNumber,
)
from mindo_core.api_keys import ApiKey, ApiKeyId, Scope
from mindo_core.messages import MessageRecord, NewMessage
from mindo_core.template_records import JsonObject, StoredTemplate

# --------------------------------------------------------------------------------------------
# Values that cross the ports


@dataclass(frozen=True, kw_only=True)
class PhoneNumberInfo:
    """A phone number as read from Meta, before Mindo gives it an id."""

    phone_number_id: str
    display_phone_number: str
    verified_name: str
    quality_rating: str = "UNKNOWN"
    messaging_limit_tier: str = "TIER_250"
    throughput_level: str = "STANDARD"


@dataclass(frozen=True, kw_only=True)
class TemplateInfo:
    """A template as read from Meta (``GET /{waba_id}/message_templates``)."""

    meta_template_id: str
    name: str
    language: str
    status: str
    category: str
    parameter_format: str
    components: Sequence[JsonObject]


@dataclass(frozen=True, kw_only=True)
class SenderContext:
    """Everything needed to send from one phone number: the number, its account, the token."""

    phone_number: PhoneNumber
    business_account: BusinessAccount
    access_token: str = field(repr=False)


@dataclass(frozen=True, kw_only=True)
class MetaSendResult:
    wamid: str
    wa_id: str
    message_status: str | None = None


# --------------------------------------------------------------------------------------------
# Stores. Every read that a client can reach is scoped by organisation: another organisation's
# rows answer exactly like rows that do not exist.


class OrganisationStore(Protocol):
    async def create_organisation(self, name: str) -> Organisation:
        """Raises ``Conflict`` when the name is taken."""
        ...

    async def find_organisation_by_name(self, name: str) -> Organisation | None: ...

    async def get_organisation(self, organisation_id: OrganisationId) -> Organisation | None: ...


class ApiKeyStore(Protocol):
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
    ) -> ApiKey: ...

    async def find_api_key_by_hash(self, key_hash: str) -> ApiKey | None: ...

    async def list_api_keys(self, organisation_id: OrganisationId) -> Sequence[ApiKey]: ...

    async def revoke_api_key(self, key_id: ApiKeyId, at: datetime) -> None: ...


class AccountStore(Protocol):
    async def upsert_business_account(
        self,
        *,
        organisation_id: OrganisationId,
        waba_id: str,
        name: str,
        encrypted_access_token: bytes,
    ) -> BusinessAccount: ...

    async def upsert_phone_number(
        self, business_account_id: BusinessAccountId, info: PhoneNumberInfo
    ) -> PhoneNumber: ...

    async def list_business_accounts(
        self, organisation_id: OrganisationId | None = None
    ) -> Sequence[BusinessAccount]: ...

    async def list_phone_numbers(
        self, business_account_id: BusinessAccountId
    ) -> Sequence[PhoneNumber]: ...

    async def find_sender(
        self, organisation_id: OrganisationId, phone_number_id: str
    ) -> tuple[PhoneNumber, BusinessAccount, bytes] | None:
        """The number, its account and the account's encrypted token, if the organisation
        owns that number."""
        ...

    async def encrypted_token(self, business_account_id: BusinessAccountId) -> bytes | None: ...


class TemplateStore(Protocol):
    async def upsert_template(
        self, business_account_id: BusinessAccountId, info: TemplateInfo
    ) -> StoredTemplate:
        """Insert or refresh Meta's fields; Mindo's own settings (defaults) are kept."""
        ...

    async def set_variable_defaults(
        self, template: StoredTemplate, defaults: Mapping[str, str]
    ) -> StoredTemplate: ...

    async def find_template(
        self, business_account_id: BusinessAccountId, name: str, language: str
    ) -> StoredTemplate | None: ...

    async def list_templates(
        self, business_account_id: BusinessAccountId
    ) -> Sequence[StoredTemplate]: ...


class MessageStore(Protocol):
    async def add_message(self, message: NewMessage) -> MessageRecord: ...

    async def find_message_by_wamid(
        self, organisation_id: OrganisationId, wamid: str
    ) -> MessageRecord | None: ...


class Store(OrganisationStore, ApiKeyStore, AccountStore, TemplateStore, MessageStore, Protocol):
    """All stores at once; one adapter implements them over one database."""

    async def close(self) -> None: ...


# --------------------------------------------------------------------------------------------
# Meta and secrets


class MetaGateway(Protocol):
    """Meta's Graph API (or the sandbox). Errors come back as ``MetaError``/``MetaUnavailable``."""

    async def send_template(
        self, *, phone_number_id: str, access_token: str, payload: Mapping[str, Any]
    ) -> MetaSendResult: ...

    async def list_phone_numbers(
        self, *, waba_id: str, access_token: str
    ) -> Sequence[PhoneNumberInfo]:
        """Every page, followed to the end."""
        ...

    async def list_templates(self, *, waba_id: str, access_token: str) -> Sequence[TemplateInfo]:
        """Every page, followed to the end."""
        ...

    async def close(self) -> None: ...


class TokenCipher(Protocol):
    def encrypt(self, plaintext: str) -> bytes: ...

    def decrypt(self, ciphertext: bytes) -> str: ...
