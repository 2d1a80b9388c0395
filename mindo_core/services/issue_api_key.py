"""Operators issue, list and revoke API keys. A new key is shown once and stored as a hash."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from mindo_core.access import api_keys
from mindo_core.access.api_keys import ALL_SCOPES, ApiKey, Scope
from mindo_core.domain.clock import Clock
from mindo_core.domain.errors import InvalidRequest, NotFound, OrganisationNotFound
from mindo_core.ports.api_keys import ApiKeyStore
from mindo_core.ports.organisations import OrganisationStore


@dataclass(frozen=True, kw_only=True)
class IssuedKey:
    """The plaintext key exists only in this value, returned once to the operator."""

    plaintext: str = field(repr=False)
    api_key: ApiKey


@dataclass(frozen=True, kw_only=True)
class KeyListing:
    """An organisation's keys, and the time at which to judge which are still usable."""

    keys: Sequence[ApiKey]
    as_of: datetime


class ApiKeyAdmin:
    def __init__(
        self,
        *,
        api_keys: ApiKeyStore,
        organisations: OrganisationStore,
        clock: Clock,
    ) -> None:
        self._api_keys = api_keys
        self._organisations = organisations
        self._clock = clock

    async def issue(
        self,
        organisation_name: str,
        *,
        name: str = "default",
        scopes: frozenset[Scope] = ALL_SCOPES,
        expires_in: timedelta | None = None,
        plaintext: str | None = None,
    ) -> IssuedKey:
        """``plaintext`` lets an operator pin a key (the demo's MINDO_DEMO_API_KEY)."""
        organisation = await self._organisations.find_organisation_by_name(organisation_name)
        if organisation is None:
            raise OrganisationNotFound(organisation_name)
        key = plaintext or api_keys.generate_key()
        if not api_keys.is_well_formed(key):
            raise InvalidRequest.for_field(
                "api_key", "must be 'mindo_' followed by 24 letters or digits"
            )
        now = self._clock.now()
        stored = await self._api_keys.add_api_key(
            organisation_id=organisation.id,
            name=name,
            display_prefix=api_keys.display_prefix(key),
            key_hash=api_keys.hash_key(key),
            scopes=scopes,
            created_at=now,
            expires_at=now + expires_in if expires_in is not None else None,
        )
        return IssuedKey(plaintext=key, api_key=stored)

    async def list(self, organisation_name: str) -> Sequence[ApiKey]:
        organisation = await self._organisations.find_organisation_by_name(organisation_name)
        if organisation is None:
            raise OrganisationNotFound(organisation_name)
        return await self._api_keys.list_api_keys(organisation.id)

    async def listing(self, organisation_name: str) -> KeyListing:
        return KeyListing(keys=await self.list(organisation_name), as_of=self._clock.now())

    async def revoke(self, organisation_name: str, display_prefix: str) -> ApiKey:
        keys = [k for k in await self.list(organisation_name) if k.revoked_at is None]
        matching = [k for k in keys if k.display_prefix.startswith(display_prefix)]
        if len(matching) != 1:
            found = "no active key" if not matching else f"{len(matching)} active keys"
            raise NotFound(f"{found} with prefix '{display_prefix}'")
        await self._api_keys.revoke_api_key(matching[0].id, self._clock.now())
        return matching[0]
