"""What a key can see of its business: accounts, numbers with their quota, sendable templates.

The portfolio whose messaging limit Meta enforces is, in Mindo, the organisation: every number
of every account it connected shares one rolling-24 h window of unique recipients, shown on
each number as ``OrganisationQuota`` reads it (``portfolio_tier``: the tier; ``remaining``: the
room a single send to a new recipient gets).
"""

from __future__ import annotations

from dataclasses import dataclass

from mindo_core.domain.accounts import BusinessAccount, Organisation, PhoneNumber
from mindo_core.domain.errors import InvalidRequest
from mindo_core.domain.templates import StoredTemplate
from mindo_core.domain.tiers import Tier
from mindo_core.ports.accounts import AccountStore
from mindo_core.ports.templates import TemplateStore
from mindo_core.quota.window import QuotaSnapshot
from mindo_core.services.authenticate import Principal
from mindo_core.services.organisation_quota import OrganisationQuota, portfolio_tier
from mindo_core.templating.model import VariableSpec, parse_template


@dataclass(frozen=True, kw_only=True)
class NumberOverview:
    phone_number: PhoneNumber
    tier: Tier
    quota: QuotaSnapshot


@dataclass(frozen=True, kw_only=True)
class TemplateOverview:
    template: StoredTemplate
    variables: tuple[VariableSpec, ...]


@dataclass(frozen=True, kw_only=True)
class AccountOverview:
    business_account: BusinessAccount
    phone_numbers: tuple[NumberOverview, ...]
    templates: tuple[TemplateOverview, ...]


@dataclass(frozen=True, kw_only=True)
class BusinessOverview:
    organisation: Organisation
    api_key_name: str
    accounts: tuple[AccountOverview, ...]


class BusinessOverviewQuery:
    def __init__(
        self,
        *,
        accounts: AccountStore,
        templates: TemplateStore,
        quota: OrganisationQuota,
    ) -> None:
        self._accounts = accounts
        self._templates = templates
        self._quota = quota

    async def __call__(self, principal: Principal) -> BusinessOverview:
        organisation = principal.organisation
        accounts = await self._accounts.list_business_accounts(organisation.id)
        numbers = {a.id: await self._accounts.list_phone_numbers(a.id) for a in accounts}
        tier = portfolio_tier([n for found in numbers.values() for n in found])
        quota = (await self._quota.read(organisation.id, tier)).snapshot()
        overviews = [
            AccountOverview(
                business_account=account,
                phone_numbers=tuple(
                    NumberOverview(phone_number=n, tier=tier, quota=quota)
                    for n in numbers[account.id]
                ),
                templates=await self._sendable_templates(account),
            )
            for account in accounts
        ]
        return BusinessOverview(
            organisation=organisation,
            api_key_name=principal.api_key.name,
            accounts=tuple(overviews),
        )

    async def _sendable_templates(self, account: BusinessAccount) -> tuple[TemplateOverview, ...]:
        overviews = []
        for template in await self._templates.list_templates(account.id):
            if not template.is_approved:
                continue
            try:
                variables = parse_template(template).variables()
            except InvalidRequest:
                continue  # a definition Mindo cannot send (e.g. a carousel) is not offered
            overviews.append(TemplateOverview(template=template, variables=variables))
        return tuple(overviews)
