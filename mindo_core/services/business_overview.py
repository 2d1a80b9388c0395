"""What a key can see of its business: accounts, numbers with their quota, sendable templates.

The portfolio whose messaging limit Meta enforces is, in Mindo, the organisation: every number
of every account it connected shares one rolling-24 h window of unique recipients. Meta reports
the portfolio's limit on each of its numbers; should they disagree (one number read before a
tier change), the highest is shown, as Meta applies the new tier to the whole portfolio.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from mindo_core.domain.accounts import BusinessAccount, Organisation, OrganisationId, PhoneNumber
from mindo_core.domain.clock import Clock
from mindo_core.domain.errors import InvalidRequest
from mindo_core.domain.templates import StoredTemplate
from mindo_core.domain.tiers import DEFAULT_TIER, QUOTA_WINDOW, Tier, tier_or_default
from mindo_core.ports.accounts import AccountStore
from mindo_core.ports.bulks import BulkStore
from mindo_core.ports.templates import TemplateStore
from mindo_core.quota.window import QuotaSnapshot, quota_snapshot
from mindo_core.services.authenticate import Principal
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
        bulks: BulkStore,
        clock: Clock,
    ) -> None:
        self._accounts = accounts
        self._templates = templates
        self._bulks = bulks
        self._clock = clock

    async def __call__(self, principal: Principal) -> BusinessOverview:
        organisation = principal.organisation
        accounts = await self._accounts.list_business_accounts(organisation.id)
        numbers = {a.id: await self._accounts.list_phone_numbers(a.id) for a in accounts}
        tier = portfolio_tier([n for found in numbers.values() for n in found])
        quota = quota_snapshot(tier, unique_sent_24h=await self._unique_sent(organisation.id))
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

    async def _unique_sent(self, organisation_id: OrganisationId) -> int:
        since = self._clock.now() - QUOTA_WINDOW
        return len(await self._bulks.recipient_window(organisation_id, since))

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


def portfolio_tier(numbers: Sequence[PhoneNumber]) -> Tier:
    tiers = [tier_or_default(n.messaging_limit_tier) for n in numbers]
    if not tiers:
        return DEFAULT_TIER
    unlimited = [t for t in tiers if t.daily_limit is None]
    if unlimited:
        return unlimited[0]
    return max(tiers, key=lambda t: t.daily_limit or 0)
