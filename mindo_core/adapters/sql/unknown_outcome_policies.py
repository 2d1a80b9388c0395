"""``SqlUnknownOutcomePolicies``: each organisation's unknown-outcome policy over SQL, one row per
organisation that set one (an upsert), none for one on the default."""

from __future__ import annotations

from datetime import datetime, timedelta

from mindo_core.adapters.sql.database import Database
from mindo_core.adapters.sql.organisation_rows import put_organisation_row, read_organisation_row
from mindo_core.adapters.sql.tables import UnknownOutcomePolicyRow
from mindo_core.adapters.sql.types import require_aware
from mindo_core.bulks.unknown_outcomes import UnknownOutcomePolicy, action_named
from mindo_core.domain.accounts import OrganisationId

__all__ = ["SqlUnknownOutcomePolicies"]


class SqlUnknownOutcomePolicies:
    def __init__(self, database: Database) -> None:
        self._database = database

    async def unknown_outcome_policy(self, organisation_id: OrganisationId) -> UnknownOutcomePolicy:
        row = await read_organisation_row(self._database, UnknownOutcomePolicyRow, organisation_id)
        if row is None:
            return UnknownOutcomePolicy()
        return UnknownOutcomePolicy(
            action=action_named(row.action), window=timedelta(seconds=row.window_seconds)
        )

    async def set_unknown_outcome_policy(
        self,
        organisation_id: OrganisationId,
        policy: UnknownOutcomePolicy | None,
        *,
        at: datetime,
    ) -> None:
        require_aware(at)
        values = None
        if policy is not None:
            values = {
                "action": policy.action,
                "window_seconds": round(policy.window.total_seconds()),
                "updated_at": at,
            }
        await put_organisation_row(self._database, UnknownOutcomePolicyRow, organisation_id, values)
