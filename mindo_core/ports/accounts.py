"""WhatsApp Business accounts and their phone numbers, with the encrypted token.

Every read that a client can reach is scoped by organisation: another organisation's rows
answer exactly like rows that do not exist."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Protocol

from mindo_core.domain.accounts import (
    BusinessAccount,
    BusinessAccountId,
    OrganisationId,
    PhoneNumber,
    PhoneNumberRowId,
)
from mindo_core.ports.meta import PhoneNumberInfo


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

    async def update_phone_number_limits(
        self,
        number_id: PhoneNumberRowId,
        *,
        messaging_limit_tier: str | None = None,
        throughput_level: str | None = None,
    ) -> PhoneNumber:
        """What Meta's account webhooks change; None leaves a field as it is. Raises
        ``PhoneNumberNotFound`` for an unknown number."""
        ...
