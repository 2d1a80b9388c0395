"""``SqlContactDirectory``: imported contacts and contact lists over SQL.

An import is one transaction of upserts on (organisation, phone), a few hundred rows a
statement: a row sets the fields it has (``COALESCE`` with what is stored), so importing phones
alone never erases a name, and two imports racing on one phone both land. The list is created
with ``ON CONFLICT DO NOTHING`` on (organisation, name) and read back, for the same reason.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any, Final

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncConnection
from sqlmodel import col

from mindo_core.adapters.sql.database import Database
from mindo_core.adapters.sql.tables import ContactListRow, ContactRow
from mindo_core.adapters.sql.types import require_aware
from mindo_core.adapters.sql.upsert import insert_for
from mindo_core.contacts.imports import ContactEntry, ImportReport
from mindo_core.contacts.model import ContactList, ContactListId
from mindo_core.domain.accounts import OrganisationId

__all__ = ["SqlContactDirectory"]

_LIST_COLUMNS: Final = (
    col(ContactListRow.id),
    col(ContactListRow.organisation_id),
    col(ContactListRow.name),
    col(ContactListRow.created_at),
)
# Rows per upsert statement: well under SQLite's bound on a statement's parameters.
_CHUNK: Final = 500


class SqlContactDirectory:
    def __init__(self, database: Database) -> None:
        self._database = database

    async def import_contacts(
        self,
        organisation_id: OrganisationId,
        entries: Sequence[ContactEntry],
        *,
        list_name: str | None,
        merged: int,
        at: datetime,
    ) -> ImportReport:
        require_aware(at)
        async with self._database.writing() as session:
            connection = await session.connection()
            listed = None
            if list_name is not None:
                listed = await self._ensure_list(connection, organisation_id, list_name, at)
            created = 0
            for start in range(0, len(entries), _CHUNK):
                chunk = entries[start : start + _CHUNK]
                created += await self._upsert(connection, organisation_id, chunk, listed, at)
            contact_list = None if listed is None else await self._list(connection, listed)
        return ImportReport(
            created=created,
            updated=len(entries) - created,
            merged=merged,
            contact_list=contact_list,
        )

    async def _upsert(
        self,
        connection: AsyncConnection,
        organisation_id: OrganisationId,
        chunk: Sequence[ContactEntry],
        listed: ContactListRow | None,
        at: datetime,
    ) -> int:
        """Upserts the chunk; how many of its phones were not contacts yet."""
        phones = [entry.phone for entry in chunk]
        existing = await connection.execute(
            sa.select(col(ContactRow.phone)).where(
                col(ContactRow.organisation_id) == organisation_id,
                col(ContactRow.phone).in_(phones),
            )
        )
        known = {phone for (phone,) in existing}
        insert = insert_for(self._database.dialect, ContactRow)
        kept = {
            name: sa.func.coalesce(getattr(insert.excluded, name), getattr(ContactRow, name))
            for name in ("full_name", "email", "contact_list_id", "contact_list_name")
        }
        upsert = insert.on_conflict_do_update(
            index_elements=["organisation_id", "phone"], set_=kept
        )
        rows = [
            {
                "organisation_id": organisation_id,
                "phone": entry.phone,
                "source": "imported",
                "created_at": at,
                "full_name": entry.full_name,
                "email": entry.email,
                "contact_list_id": None if listed is None else listed.id,
                "contact_list_name": None if listed is None else listed.name,
            }
            for entry in chunk
        ]
        await connection.execute(upsert, rows)
        return len(chunk) - len(known)

    async def _ensure_list(
        self, connection: AsyncConnection, organisation_id: OrganisationId, name: str, at: datetime
    ) -> ContactListRow:
        insert = (
            insert_for(self._database.dialect, ContactListRow)
            .values(organisation_id=organisation_id, name=name, created_at=at)
            .on_conflict_do_nothing(index_elements=["organisation_id", "name"])
        )
        await connection.execute(insert)
        query = sa.select(*_LIST_COLUMNS).where(
            col(ContactListRow.organisation_id) == organisation_id,
            col(ContactListRow.name) == name,
        )
        return _list_row((await connection.execute(query)).one())

    async def _list(self, connection: AsyncConnection, listed: ContactListRow) -> ContactList:
        assert listed.id is not None
        size = await connection.scalar(
            sa.select(sa.func.count()).where(col(ContactRow.contact_list_id) == listed.id)
        )
        return _contact_list(listed, int(size or 0))

    async def contact_lists(self, organisation_id: OrganisationId) -> Sequence[ContactList]:
        size = sa.func.count(col(ContactRow.id))
        query = (
            sa.select(*_LIST_COLUMNS, size)
            .outerjoin(ContactRow, col(ContactRow.contact_list_id) == col(ContactListRow.id))
            .where(col(ContactListRow.organisation_id) == organisation_id)
            .group_by(col(ContactListRow.id))
            .order_by(col(ContactListRow.name))
        )
        async with self._database.transaction() as session:
            rows = (await (await session.connection()).execute(query)).all()
        return [_contact_list(_list_row(row), int(row[-1])) for row in rows]


def _list_row(row: Any) -> ContactListRow:
    """A row of ``_LIST_COLUMNS`` (and maybe more) as the table's model."""
    return ContactListRow(
        id=row.id, organisation_id=row.organisation_id, name=row.name, created_at=row.created_at
    )


def _contact_list(row: ContactListRow, size: int) -> ContactList:
    assert row.id is not None
    return ContactList(
        id=ContactListId(row.id),
        organisation_id=OrganisationId(row.organisation_id),
        name=row.name,
        created_at=row.created_at,
        size=size,
    )
