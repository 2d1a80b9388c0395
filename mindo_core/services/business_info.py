"""The business profile a client reads about its own organisation (GetBusinessInfo)."""

from __future__ import annotations

from mindo_core.domain.accounts import Organisation
from mindo_core.ports.organisations import OrganisationStore
from mindo_core.services.authenticate import Principal


class BusinessInfoQuery:
    def __init__(self, *, organisations: OrganisationStore) -> None:
        self._organisations = organisations

    async def __call__(self, principal: Principal) -> Organisation:
        # Read again: the key's cached principal may predate a profile update.
        organisation = await self._organisations.get_organisation(principal.organisation.id)
        return organisation or principal.organisation
