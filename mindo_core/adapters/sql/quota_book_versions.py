"""``SqlQuotaBookVersions``: an organisation's quota book version as SQLite's one service process
reads it for ``ProcessQuotaLedger`` (triggers move it: revision 0021). PostgreSQL's ledger reads
it inside its decision (``quota_ledger``)."""

from __future__ import annotations

import sqlalchemy as sa

from mindo_core.adapters.sql.database import Database
from mindo_core.domain.accounts import OrganisationId

__all__ = ["SqlQuotaBookVersions"]

_VERSION = sa.text(
    "SELECT version FROM quota_book_versions WHERE organisation_id = :organisation_id"
)


class SqlQuotaBookVersions:
    def __init__(self, database: Database) -> None:
        self._database = database

    async def version(self, organisation_id: OrganisationId) -> int:
        async with self._database.transaction() as session:
            connection = await session.connection()
            found = await connection.execute(_VERSION, {"organisation_id": organisation_id})
            return int(found.scalar_one_or_none() or 0)
