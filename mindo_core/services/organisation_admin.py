"""Operators create, find, list and describe organisations: the tenants every other row
belongs to."""

from __future__ import annotations

from collections.abc import Sequence

from mindo_core.domain.accounts import QUALITY_POLICIES, Organisation, parse_quality_policy
from mindo_core.domain.errors import InvalidRequest, OrganisationNotFound
from mindo_core.ports.organisations import OrganisationStore
from mindo_core.services.organisation_profile import changed_profile


class OrganisationAdmin:
    def __init__(self, *, organisations: OrganisationStore) -> None:
        self._organisations = organisations

    async def create(self, name: str) -> Organisation:
        """Raises ``Conflict`` when the name is taken."""
        return await self._organisations.create_organisation(name)

    async def named(self, name: str) -> Organisation:
        organisation = await self._organisations.find_organisation_by_name(name)
        if organisation is None:
            raise OrganisationNotFound(name)
        return organisation

    async def list(self) -> Sequence[Organisation]:
        """Every organisation, in creation order."""
        return await self._organisations.list_organisations()

    async def update_profile(
        self,
        organisation_name: str,
        *,
        email: str | None = None,
        phone: str | None = None,
        website: str | None = None,
        address: str | None = None,
        description: str | None = None,
        timezone: str | None = None,
        company_size: str | None = None,
        company_types: Sequence[str] | None = None,
        categories: Sequence[str] | None = None,
        unknown_outcome_policy: str | None = None,
        unknown_outcome_window_minutes: int | None = None,
    ) -> Organisation:
        """Changes only what is given; every value is checked before anything is stored."""
        organisation = await self.named(organisation_name)
        updated = changed_profile(
            organisation.profile,
            email=email,
            phone=phone,
            website=website,
            address=address,
            description=description,
            timezone=timezone,
            company_size=company_size,
            company_types=company_types,
            categories=categories,
            unknown_outcome_policy=unknown_outcome_policy,
            unknown_outcome_window_minutes=unknown_outcome_window_minutes,
        )
        return await self._organisations.update_organisation_profile(organisation.id, updated)

    async def set_quality_policy(self, organisation_name: str, policy: str) -> Organisation:
        """What the quality guard does to the organisation's bulks when Meta reports a number's
        or a template's quality dropping: "pause" them (the default) or "continue"."""
        chosen = parse_quality_policy(policy)
        if chosen is None:
            raise InvalidRequest.for_field(
                "quality_guard", f"{policy[:32]!r} is not one of {', '.join(QUALITY_POLICIES)}"
            )
        organisation = await self.named(organisation_name)
        return await self._organisations.set_quality_policy(organisation.id, chosen)
