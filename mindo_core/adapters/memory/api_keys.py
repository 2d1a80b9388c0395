"""``InMemoryApiKeys``: the ``ApiKeyStore`` port over the shared ``Tables``."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import replace
from datetime import datetime

from mindo_core.access.api_keys import ApiKey, ApiKeyId, Scope
from mindo_core.adapters.memory.tables import Tables, aware, aware_or_none
from mindo_core.domain.accounts import OrganisationId
from mindo_core.domain.errors import Conflict


class InMemoryApiKeys:
    def __init__(self, tables: Tables) -> None:
        self._tables = tables

    async def add_api_key(
        self,
        *,
        organisation_id: OrganisationId,
        name: str,
        display_prefix: str,
        key_hash: str,
        scopes: frozenset[Scope],
        created_at: datetime,
        expires_at: datetime | None,
    ) -> ApiKey:
        if await self.find_api_key_by_hash(key_hash) is not None:
            raise Conflict("An API key with this hash exists")
        key = ApiKey(
            id=ApiKeyId(self._tables.next_id()),
            organisation_id=organisation_id,
            name=name,
            display_prefix=display_prefix,
            key_hash=key_hash,
            scopes=frozenset(scopes),
            created_at=aware(created_at),
            expires_at=aware_or_none(expires_at),
        )
        self._tables.api_keys[key.id] = key
        return key

    async def find_api_key_by_hash(self, key_hash: str) -> ApiKey | None:
        return next((k for k in self._tables.api_keys.values() if k.key_hash == key_hash), None)

    async def list_api_keys(self, organisation_id: OrganisationId) -> Sequence[ApiKey]:
        return [k for k in self._tables.api_keys.values() if k.organisation_id == organisation_id]

    async def revoke_api_key(self, key_id: ApiKeyId, at: datetime) -> None:
        key = self._tables.api_keys.get(key_id)
        # Revoking twice keeps the first time: that is when the key stopped working.
        if key is not None and key.revoked_at is None:
            self._tables.api_keys[key_id] = replace(key, revoked_at=aware(at))
