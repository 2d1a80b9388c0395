"""``InMemoryAccounts``: the ``AccountStore`` port over the shared ``Tables``."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import replace

from mindo_core.adapters.memory.tables import Tables
from mindo_core.domain.accounts import (
    BusinessAccount,
    BusinessAccountId,
    OrganisationId,
    PhoneNumber,
    PhoneNumberRowId,
)
from mindo_core.domain.errors import Conflict, PhoneNumberNotFound
from mindo_core.ports.meta import PhoneNumberInfo


class InMemoryAccounts:
    def __init__(self, tables: Tables) -> None:
        self._tables = tables

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
        account_id = BusinessAccountId(self._tables.next_id()) if existing is None else existing.id
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
            id=PhoneNumberRowId(self._tables.next_id()) if existing is None else existing.id,
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
