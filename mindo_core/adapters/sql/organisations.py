"""``SqlOrganisations``: the ``OrganisationStore`` port over SQL (organisations)."""

from __future__ import annotations

from collections.abc import Sequence

from sqlalchemy.exc import IntegrityError
from sqlmodel import col, select

from mindo_core.adapters.sql import mapping
from mindo_core.adapters.sql.database import Database
from mindo_core.adapters.sql.integrity import conflict_or_reraise
from mindo_core.adapters.sql.tables import OrganisationRow
from mindo_core.domain.accounts import (
    Organisation,
    OrganisationId,
    OrganisationProfile,
    QualityPolicy,
)
from mindo_core.domain.errors import OrganisationNotFound


class SqlOrganisations:
    def __init__(self, database: Database) -> None:
        self._database = database

    async def create_organisation(self, name: str) -> Organisation:
        row = OrganisationRow(name=name, profile=OrganisationProfile().to_json())
        try:
            async with self._database.writing() as session:
                session.add(row)
                await session.flush()
        except IntegrityError as error:
            raise conflict_or_reraise(error, f"Organisation '{name}' already exists") from None
        return mapping.organisation(row)

    async def update_organisation_profile(
        self, organisation_id: OrganisationId, profile: OrganisationProfile
    ) -> Organisation:
        async with self._database.writing() as session:
            row = await session.get(OrganisationRow, organisation_id)
            if row is None:
                raise OrganisationNotFound(str(organisation_id))
            row.profile = profile.to_json()
            session.add(row)
            await session.flush()
            return mapping.organisation(row)

    async def set_quality_policy(
        self, organisation_id: OrganisationId, policy: QualityPolicy
    ) -> Organisation:
        async with self._database.writing() as session:
            row = await session.get(OrganisationRow, organisation_id)
            if row is None:
                raise OrganisationNotFound(str(organisation_id))
            row.quality_policy = policy
            session.add(row)
            await session.flush()
            return mapping.organisation(row)

    async def find_organisation_by_name(self, name: str) -> Organisation | None:
        query = select(OrganisationRow).where(OrganisationRow.name == name)
        async with self._database.transaction() as session:
            row = (await session.exec(query)).first()
        return None if row is None else mapping.organisation(row)

    async def list_organisations(self) -> Sequence[Organisation]:
        query = select(OrganisationRow).order_by(col(OrganisationRow.id))
        async with self._database.transaction() as session:
            rows = (await session.exec(query)).all()
        return [mapping.organisation(row) for row in rows]

    async def get_organisation(self, organisation_id: OrganisationId) -> Organisation | None:
        async with self._database.transaction() as session:
            row = await session.get(OrganisationRow, organisation_id)
        return None if row is None else mapping.organisation(row)
