"""``InMemoryOptOutPolicies``: each organisation's own opt-out rules over the shared ``Tables``,
with ``SqlOptOutPolicies``' semantics (the contract tests hold both to them)."""

from __future__ import annotations

from collections.abc import Collection, Mapping
from datetime import datetime

from mindo_core.adapters.memory.tables import Tables
from mindo_core.contacts.opt_out import OptOutKeywords, OptOutPolicy
from mindo_core.domain.accounts import OrganisationId

__all__ = ["InMemoryOptOutPolicies"]


class InMemoryOptOutPolicies:
    def __init__(self, tables: Tables) -> None:
        self._tables = tables

    async def opt_out_policy(self, organisation_id: OrganisationId) -> OptOutPolicy:
        return self._tables.opt_out_policies.get(organisation_id) or OptOutPolicy()

    async def set_opt_out_policy(
        self, organisation_id: OrganisationId, policy: OptOutPolicy | None, *, at: datetime
    ) -> None:
        if policy is None:
            self._tables.opt_out_policies.pop(organisation_id, None)
        else:
            self._tables.opt_out_policies[organisation_id] = policy

    async def keywords_by_number(
        self, phone_number_ids: Collection[str]
    ) -> Mapping[str, OptOutKeywords]:
        found: dict[str, OptOutKeywords] = {}
        for number in self._tables.numbers.values():
            if number.phone_number_id not in phone_number_ids:
                continue
            account = self._tables.accounts[number.business_account_id]
            policy = self._tables.opt_out_policies.get(account.organisation_id)
            if policy is not None:
                found[number.phone_number_id] = policy.keywords
        return found
