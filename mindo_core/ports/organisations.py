"""Organisations: the tenants every other row belongs to."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Protocol

from mindo_core.domain.accounts import (
    Organisation,
    OrganisationId,
    OrganisationProfile,
    QualityPolicy,
)


class OrganisationStore(Protocol):
    async def create_organisation(self, name: str) -> Organisation:
        """Raises ``Conflict`` when the name is taken."""
        ...

    async def find_organisation_by_name(self, name: str) -> Organisation | None: ...

    async def get_organisation(self, organisation_id: OrganisationId) -> Organisation | None: ...

    async def list_organisations(self) -> Sequence[Organisation]:
        """Every organisation, in creation order."""
        ...

    async def update_organisation_profile(
        self, organisation_id: OrganisationId, profile: OrganisationProfile
    ) -> Organisation: ...

    async def set_quality_policy(
        self, organisation_id: OrganisationId, policy: QualityPolicy
    ) -> Organisation:
        """What the quality guard does to the organisation's bulks (``OrganisationNotFound``)."""
        ...
