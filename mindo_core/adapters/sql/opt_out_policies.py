"""``SqlOptOutPolicies``: each organisation's own opt-out rules over SQL, one row per
organisation that set them (an upsert), none for one on the defaults."""

from __future__ import annotations

from collections.abc import Collection, Mapping
from datetime import datetime

import sqlalchemy as sa
from sqlmodel import col, select

from mindo_core.adapters.sql.database import Database
from mindo_core.adapters.sql.tables import BusinessAccountRow, OptOutPolicyRow, PhoneNumberRow
from mindo_core.adapters.sql.types import require_aware
from mindo_core.adapters.sql.upsert import insert_for
from mindo_core.contacts.opt_out import OptOutKeywords, OptOutPolicy
from mindo_core.domain.accounts import OrganisationId

__all__ = ["SqlOptOutPolicies"]


class SqlOptOutPolicies:
    def __init__(self, database: Database) -> None:
        self._database = database

    async def opt_out_policy(self, organisation_id: OrganisationId) -> OptOutPolicy:
        query = select(OptOutPolicyRow).where(OptOutPolicyRow.organisation_id == organisation_id)
        async with self._database.transaction() as session:
            row = (await session.exec(query)).first()
        return OptOutPolicy() if row is None else _policy(row)

    async def set_opt_out_policy(
        self, organisation_id: OrganisationId, policy: OptOutPolicy | None, *, at: datetime
    ) -> None:
        require_aware(at)
        async with self._database.writing() as session:
            connection = await session.connection()
            if policy is None:
                await connection.execute(
                    sa.delete(OptOutPolicyRow).where(
                        col(OptOutPolicyRow.organisation_id) == organisation_id
                    )
                )
                return
            values = {
                "stop_words": sorted(policy.keywords.stop),
                "start_words": sorted(policy.keywords.start),
                "suppressed_categories": sorted(policy.suppressed_categories),
                "updated_at": at,
            }
            insert = insert_for(self._database.dialect, OptOutPolicyRow).values(
                organisation_id=organisation_id, **values
            )
            await connection.execute(
                insert.on_conflict_do_update(index_elements=["organisation_id"], set_=values)
            )

    async def keywords_by_number(
        self, phone_number_ids: Collection[str]
    ) -> Mapping[str, OptOutKeywords]:
        if not phone_number_ids:
            return {}
        query = (
            select(PhoneNumberRow.phone_number_id, OptOutPolicyRow)
            .join(
                BusinessAccountRow,
                col(BusinessAccountRow.id) == col(PhoneNumberRow.business_account_id),
            )
            .join(
                OptOutPolicyRow,
                col(OptOutPolicyRow.organisation_id) == col(BusinessAccountRow.organisation_id),
            )
            .where(col(PhoneNumberRow.phone_number_id).in_(set(phone_number_ids)))
        )
        async with self._database.transaction() as session:
            rows = (await session.exec(query)).all()
        return {number: _policy(row).keywords for number, row in rows}


def _policy(row: OptOutPolicyRow) -> OptOutPolicy:
    return OptOutPolicy(
        keywords=OptOutKeywords(stop=frozenset(row.stop_words), start=frozenset(row.start_words)),
        suppressed_categories=frozenset(row.suppressed_categories),
    )
