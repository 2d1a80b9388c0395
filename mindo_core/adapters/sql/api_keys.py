"""``SqlApiKeys``: the ``ApiKeyStore`` port over SQL (API keys)."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

from sqlalchemy import update
from sqlalchemy.exc import IntegrityError
from sqlmodel import col, select

from mindo_core.access.api_keys import ApiKey, ApiKeyId, Scope
from mindo_core.adapters.sql import mapping
from mindo_core.adapters.sql.database import Database
from mindo_core.adapters.sql.integrity import conflict_or_reraise
from mindo_core.adapters.sql.tables import ApiKeyRow
from mindo_core.domain.accounts import OrganisationId


class SqlApiKeys:
    def __init__(self, database: Database) -> None:
        self._database = database

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
        row = ApiKeyRow(
            organisation_id=organisation_id,
            name=name,
            display_prefix=display_prefix,
            key_hash=key_hash,
            scopes=mapping.scopes_to_text(scopes),
            created_at=mapping.timestamp(created_at),
            expires_at=None if expires_at is None else mapping.timestamp(expires_at),
        )
        try:
            async with self._database.writing() as session:
                session.add(row)
                await session.flush()
        except IntegrityError as error:
            raise conflict_or_reraise(error, "An API key with this hash exists") from None
        return mapping.api_key(row)

    async def find_api_key_by_hash(self, key_hash: str) -> ApiKey | None:
        query = select(ApiKeyRow).where(ApiKeyRow.key_hash == key_hash)
        async with self._database.transaction() as session:
            row = (await session.exec(query)).first()
        return None if row is None else mapping.api_key(row)

    async def list_api_keys(self, organisation_id: OrganisationId) -> Sequence[ApiKey]:
        query = (
            select(ApiKeyRow)
            .where(ApiKeyRow.organisation_id == organisation_id)
            .order_by(col(ApiKeyRow.id))
        )
        async with self._database.transaction() as session:
            rows = (await session.exec(query)).all()
        return [mapping.api_key(row) for row in rows]

    async def revoke_api_key(self, key_id: ApiKeyId, at: datetime) -> None:
        # Revoking twice keeps the first time: that is when the key stopped working.
        statement = (
            update(ApiKeyRow)
            .where(col(ApiKeyRow.id) == key_id, col(ApiKeyRow.revoked_at).is_(None))
            .values(revoked_at=mapping.timestamp(at))
        )
        async with self._database.writing() as session:
            await session.exec(statement)
