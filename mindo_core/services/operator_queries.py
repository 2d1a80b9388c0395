"""What operators read about connected accounts: an organisation's accounts and numbers, or
every organisation's accounts with their owner."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from mindo_core.domain.accounts import (
    BusinessAccount,
    Organisation,
    OrganisationId,
    PhoneNumber,
)
from mindo_core.domain.errors import NotFound, OrganisationNotFound
from mindo_core.ports.accounts import AccountStore
from mindo_core.ports.organisations import OrganisationStore


@dataclass(frozen=True, kw_only=True)
class OwnedAccount:
    organisation: Organisation
    business_account: BusinessAccount


class OperatorQueries:
    def __init__(self, *, organisations: OrganisationStore, accounts: AccountStore) -> None:
        self._organisations = organisations
        self._accounts = accounts

    async def organisation_named(self, name: str) -> Organisation:
        organisation = await self._organisations.find_organisation_by_name(name)
        if organisation is None:
            raise OrganisationNotFound(name)
        return organisation

    async def organisation(self, organisation_id: OrganisationId) -> Organisation:
        organisation = await self._organisations.get_organisation(organisation_id)
        if organisation is None:  # a row that references a missing organisation: a broken database
            raise NotFound(f"Organisation #{organisation_id} not found")
        return organisation

    async def accounts_of(self, organisation_name: str | None) -> Sequence[OwnedAccount]:
        """The accounts of one organisation, or of every organisation when no name is given."""
        if organisation_name is not None:
            organisation = await self.organisation_named(organisation_name)
            accounts = await self._accounts.list_business_accounts(organisation.id)
            return [OwnedAccount(organisation=organisation, business_account=a) for a in accounts]
        owners: dict[OrganisationId, Organisation] = {}
        owned: list[OwnedAccount] = []
        for account in await self._accounts.list_business_accounts():
            owner = owners.get(account.organisation_id)
            if owner is None:
                owner = await self.organisation(account.organisation_id)
                owners[owner.id] = owner
            owned.append(OwnedAccount(organisation=owner, business_account=account))
        return owned

    async def numbers_of(self, account: BusinessAccount) -> Sequence[PhoneNumber]:
        return await self._accounts.list_phone_numbers(account.id)

    async def phone_numbers_of(self, organisation_name: str) -> Sequence[PhoneNumber]:
        """Every number of every account the organisation connected."""
        numbers: list[PhoneNumber] = []
        for owned in await self.accounts_of(organisation_name):
            numbers.extend(await self.numbers_of(owned.business_account))
        return numbers
