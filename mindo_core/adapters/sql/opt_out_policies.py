"""``SqlOptOutPolicies``: each organisation's own opt-out rules over SQL, one row per
organisation that set them (an upsert), none for one on the defaults."""

from __future__ import annotations

from collections.abc import Collection, Mapping
from datetime import datetime

from sqlmodel import col, select

from mindo_core.adapters.sql.database import Database
from mindo_core.adapters.sql.organisation_rows import put_organisation_row, read_organisation_row
from mindo_core.adapters.sql.tables import BusinessAccountRow, OptOutPolicyRow, PhoneNumberRow
from mindo_core.adapters.sql.types import require_aware
from mindo_core.contacts.opt_out import OptOutKeywords, OptOutPolicy
from mindo_core.domain.accounts import OrganisationId

__all__ = ["SqlOptOutPolicies"]


class SqlOptOutPolicies:
    def __init__(self, database: Database) -> None:
        self._database = database

    async def opt_out_policy(self, organisation_id: OrganisationId) -> OptOutPolicy:
        row = await read_organisation_row(self._database, OptOutPolicyRow, organisation_id)
        return OptOutPolicy() if row is None else _policy(row)

    async def set_opt_out_policy(
        self, organisation_id: OrganisationId, policy: OptOutPolicy | None, *, at: datetime
    ) -> None:
        require_aware(at)
        values = None
        if policy is not None:
            values = {
                "stop_words": sorted(policy.keywords.stop),
                "start_words": sorted(policy.keywords.start),
                "suppressed_categories": sorted(policy.suppressed_categories),
                "updated_at": at,
            }
        await put_organisation_row(self._database, OptOutPolicyRow, organisation_id, values)

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
