"""API keys, stored as hashes: what authentication looks up."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Protocol

from mindo_core.access.api_keys import ApiKey, ApiKeyId, Scope
from mindo_core.domain.accounts import (
    OrganisationId,
)


class ApiKeyStore(Protocol):
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
    ) -> ApiKey: ...

    async def find_api_key_by_hash(self, key_hash: str) -> ApiKey | None: ...

    async def list_api_keys(self, organisation_id: OrganisationId) -> Sequence[ApiKey]: ...

    async def revoke_api_key(self, key_id: ApiKeyId, at: datetime) -> None: ...
