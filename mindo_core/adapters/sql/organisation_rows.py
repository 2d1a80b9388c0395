"""An organisation's one row of settings (its opt-out policy, its unknown-outcome policy): read,
written whole by an upsert, or deleted to put the organisation back on the defaults. One row
per organisation that set something, keyed by ``organisation_id``."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, TypeVar

import sqlalchemy as sa
from sqlmodel import SQLModel, select

from mindo_core.adapters.sql.database import Database
from mindo_core.adapters.sql.upsert import insert_for
from mindo_core.domain.accounts import OrganisationId

__all__ = ["put_organisation_row", "read_organisation_row"]

Row = TypeVar("Row", bound=SQLModel)


async def read_organisation_row(
    database: Database, row_type: type[Row], organisation_id: OrganisationId
) -> Row | None:
    query = select(row_type).where(_key(row_type) == organisation_id)
    async with database.transaction() as session:
        return (await session.exec(query)).first()


async def put_organisation_row(
    database: Database,
    row_type: type[SQLModel],
    organisation_id: OrganisationId,
    values: Mapping[str, Any] | None,
) -> None:
    """The organisation's row with ``values``; None deletes it (the defaults apply)."""
    key = _key(row_type)
    async with database.writing() as session:
        connection = await session.connection()
        if values is None:
            await connection.execute(sa.delete(row_type).where(key == organisation_id))
            return
        insert = insert_for(database.dialect, row_type).values(
            organisation_id=organisation_id, **values
        )
        await connection.execute(
            insert.on_conflict_do_update(index_elements=["organisation_id"], set_=dict(values))
        )


def _key(row_type: type[SQLModel]) -> sa.ColumnElement[Any]:
    column: sa.ColumnElement[Any] = sa.inspect(row_type).columns["organisation_id"]
    return column
