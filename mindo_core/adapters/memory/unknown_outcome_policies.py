"""``InMemoryUnknownOutcomePolicies``: each organisation's unknown-outcome policy over the shared
``Tables``, with ``SqlUnknownOutcomePolicies``' semantics (the contract tests hold both to them)."""

from __future__ import annotations

from datetime import datetime

from mindo_core.adapters.memory.tables import Tables, aware
from mindo_core.bulks.unknown_outcomes import UnknownOutcomePolicy
from mindo_core.domain.accounts import OrganisationId

__all__ = ["InMemoryUnknownOutcomePolicies"]


class InMemoryUnknownOutcomePolicies:
    def __init__(self, tables: Tables) -> None:
        self._tables = tables

    async def unknown_outcome_policy(self, organisation_id: OrganisationId) -> UnknownOutcomePolicy:
        return self._tables.unknown_outcome_policies.get(organisation_id) or UnknownOutcomePolicy()

    async def set_unknown_outcome_policy(
        self,
        organisation_id: OrganisationId,
        policy: UnknownOutcomePolicy | None,
        *,
        at: datetime,
    ) -> None:
        aware(at)
        if policy is None:
            self._tables.unknown_outcome_policies.pop(organisation_id, None)
        else:
            self._tables.unknown_outcome_policies[organisation_id] = policy
