"""``InMemoryOrganisations``: the ``OrganisationStore`` port over the shared ``Tables``."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import replace

from mindo_core.adapters.memory.tables import Tables
from mindo_core.domain.accounts import (
    Organisation,
    OrganisationId,
    OrganisationProfile,
    QualityPolicy,
)
from mindo_core.domain.errors import Conflict, OrganisationNotFound


class InMemoryOrganisations:
    def __init__(self, tables: Tables) -> None:
        self._tables = tables

    async def create_organisation(self, name: str) -> Organisation:
        if await self.find_organisation_by_name(name) is not None:
            raise Conflict(f"Organisation '{name}' already exists")
        organisation = Organisation(id=OrganisationId(self._tables.next_id()), name=name)
        self._tables.organisations[organisation.id] = organisation
        return organisation

    async def find_organisation_by_name(self, name: str) -> Organisation | None:
        found = (o for o in self._tables.organisations.values() if o.name == name)
        return next(found, None)

    async def get_organisation(self, organisation_id: OrganisationId) -> Organisation | None:
        return self._tables.organisations.get(organisation_id)

    async def list_organisations(self) -> Sequence[Organisation]:
        return sorted(self._tables.organisations.values(), key=lambda o: o.id)

    async def update_organisation_profile(
        self, organisation_id: OrganisationId, profile: OrganisationProfile
    ) -> Organisation:
        current = self._tables.organisations.get(organisation_id)
        if current is None:
            raise OrganisationNotFound(str(organisation_id))
        updated = replace(current, profile=profile)
        self._tables.organisations[organisation_id] = updated
        return updated

    async def set_quality_policy(
        self, organisation_id: OrganisationId, policy: QualityPolicy
    ) -> Organisation:
        current = self._tables.organisations.get(organisation_id)
        if current is None:
            raise OrganisationNotFound(str(organisation_id))
        updated = replace(current, quality_policy=policy)
        self._tables.organisations[organisation_id] = updated
        return updated
