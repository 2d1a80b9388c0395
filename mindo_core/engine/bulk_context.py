"""What a bulk refers to by id: its phone number, that number's account, its template.

The stores answer by Meta's ids and names; a bulk keeps Mindo's row ids. ``BulkContexts``
finds them through the organisation's accounts, reading each account's numbers and templates
once per instance: make one per request (a page of bulks) or per engine runner.
"""

from __future__ import annotations

from dataclasses import dataclass

from mindo_core.bulks.model import Bulk
from mindo_core.domain.accounts import (
    BusinessAccount,
    BusinessAccountId,
    OrganisationId,
    PhoneNumber,
)
from mindo_core.domain.templates import StoredTemplate
from mindo_core.ports.accounts import AccountStore
from mindo_core.ports.templates import TemplateStore

__all__ = ["BulkContext", "BulkContexts"]


@dataclass(frozen=True, kw_only=True)
class BulkContext:
    phone_number: PhoneNumber
    business_account: BusinessAccount
    template: StoredTemplate


class BulkContexts:
    def __init__(self, *, accounts: AccountStore, templates: TemplateStore) -> None:
        self._account_store = accounts
        self._template_store = templates
        self._accounts: dict[OrganisationId, list[BusinessAccount]] = {}
        self._numbers: dict[BusinessAccountId, list[PhoneNumber]] = {}
        self._templates: dict[BusinessAccountId, list[StoredTemplate]] = {}

    async def of(self, bulk: Bulk) -> BulkContext | None:
        """None when the number or the template is no longer in the store."""
        for account in await self._accounts_of(bulk.organisation_id):
            numbers = await self._numbers_of(account.id)
            number = next((n for n in numbers if n.id == bulk.phone_number_row_id), None)
            if number is None:
                continue
            templates = await self._templates_of(account.id)
            template = next((t for t in templates if t.id == bulk.template_id), None)
            if template is None:
                return None
            return BulkContext(phone_number=number, business_account=account, template=template)
        return None

    async def _accounts_of(self, organisation_id: OrganisationId) -> list[BusinessAccount]:
        if organisation_id not in self._accounts:
            accounts = await self._account_store.list_business_accounts(organisation_id)
            self._accounts[organisation_id] = list(accounts)
        return self._accounts[organisation_id]

    async def _numbers_of(self, account_id: BusinessAccountId) -> list[PhoneNumber]:
        if account_id not in self._numbers:
            self._numbers[account_id] = list(
                await self._account_store.list_phone_numbers(account_id)
            )
        return self._numbers[account_id]

    async def _templates_of(self, account_id: BusinessAccountId) -> list[StoredTemplate]:
        if account_id not in self._templates:
            self._templates[account_id] = list(
                await self._template_store.list_templates(account_id)
            )
        return self._templates[account_id]
