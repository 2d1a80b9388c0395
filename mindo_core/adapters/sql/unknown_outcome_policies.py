"""``SqlUnknownOutcomePolicies``: each organisation's unknown-outcome policy over SQL, one row per
organisation that set one (an upsert), none for one on the default."""

from __future__ import annotations

from datetime import datetime, timedelta

import sqlalchemy as sa
from sqlmodel import col, select

from mindo_core.adapters.sql.database import Database
from mindo_core.adapters.sql.tables import UnknownOutcomePolicyRow
from mindo_core.adapters.sql.types import require_aware
from mindo_core.adapters.sql.upsert import insert_for
from mindo_core.bulks.unknown_outcomes import UnknownOutcomePolicy, action_named
from mindo_core.domain.accounts import OrganisationId

__all__ = ["SqlUnknownOutcomePolicies"]


class SqlUnknownOutcomePolicies:
    def __init__(self, database: Database) -> None:
        self._database = database

    async def unknown_outcome_policy(self, organisation_id: OrganisationId) -> UnknownOutcomePolicy:
        query = select(UnknownOutcomePolicyRow).where(
            UnknownOutcomePolicyRow.organisation_id == organisation_id
        )
        async with self._database.transaction() as session:
            row = (await session.exec(query)).first()
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
        async with self._database.writing() as session:
            connection = await session.connection()
            if policy is None:
                await connection.execute(
                    sa.delete(UnknownOutcomePolicyRow).where(
                        col(UnknownOutcomePolicyRow.organisation_id) == organisation_id
                    )
                )
                return
            values = {
                "action": policy.action,
                "window_seconds": round(policy.window.total_seconds()),
                "updated_at": at,
            }
            insert = insert_for(self._database.dialect, UnknownOutcomePolicyRow).values(
                organisation_id=organisation_id, **values
            )
            await connection.execute(
                insert.on_conflict_do_update(index_elements=["organisation_id"], set_=values)
            )
