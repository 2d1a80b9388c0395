"""``SqlTemplates``: the ``TemplateStore`` port over SQL (templates)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from sqlalchemy import update
from sqlmodel import col, select

from mindo_core.adapters.sql import mapping
from mindo_core.adapters.sql.database import FRESH, Database
from mindo_core.adapters.sql.tables import TemplateRow
from mindo_core.adapters.sql.upsert import insert_for
from mindo_core.domain.accounts import BusinessAccountId
from mindo_core.domain.errors import TemplateNotFound
from mindo_core.domain.templates import StoredTemplate, TemplateId
from mindo_core.ports.meta import TemplateInfo


class SqlTemplates:
    def __init__(self, database: Database) -> None:
        self._database = database

    async def upsert_template(
        self, business_account_id: BusinessAccountId, info: TemplateInfo
    ) -> StoredTemplate:
        columns = mapping.template_columns(info)
        insert = insert_for(self._database.dialect, TemplateRow).values(
            business_account_id=business_account_id, variable_defaults={}, **columns
        )
        statement = insert.on_conflict_do_update(
            index_elements=["business_account_id", "name", "language"],
            # Meta's fields only: the defaults are Mindo's and survive every refresh.
            set_={key: insert.excluded[key] for key in columns},
        ).returning(TemplateRow)
        async with self._database.writing() as session:
            row = (await session.exec(statement, execution_options=FRESH)).scalars().one()
        return mapping.template(row)

    async def set_variable_defaults(
        self, template: StoredTemplate, defaults: Mapping[str, str]
    ) -> StoredTemplate:
        statement = (
            update(TemplateRow)
            .where(col(TemplateRow.id) == template.id)
            .values(variable_defaults=mapping.variable_defaults_column(defaults))
            .returning(TemplateRow)
        )
        async with self._database.writing() as session:
            row = (await session.exec(statement, execution_options=FRESH)).scalars().first()
        if row is None:
            raise TemplateNotFound(template.name, template.language)
        return mapping.template(row)

    async def find_template(
        self, business_account_id: BusinessAccountId, name: str, language: str
    ) -> StoredTemplate | None:
        query = select(TemplateRow).where(
            TemplateRow.business_account_id == business_account_id,
            TemplateRow.name == name,
            TemplateRow.language == language,
        )
        async with self._database.transaction() as session:
            row = (await session.exec(query)).first()
        return None if row is None else mapping.template(row)

    async def list_templates(
        self, business_account_id: BusinessAccountId
    ) -> Sequence[StoredTemplate]:
        query = (
            select(TemplateRow)
            .where(TemplateRow.business_account_id == business_account_id)
            .order_by(col(TemplateRow.name), col(TemplateRow.language))
        )
        async with self._database.transaction() as session:
            rows = (await session.exec(query)).all()
        return [mapping.template(row) for row in rows]

    async def get_template(self, template_id: TemplateId) -> StoredTemplate | None:
        async with self._database.transaction() as session:
            row = await session.get(TemplateRow, template_id)
        return None if row is None else mapping.template(row)

    async def set_template_status(self, template_id: TemplateId, status: str) -> StoredTemplate:
        statement = (
            update(TemplateRow)
            .where(col(TemplateRow.id) == template_id)
            .values(status=status)
            .returning(TemplateRow)
        )
        async with self._database.writing() as session:
            row = (await session.exec(statement, execution_options=FRESH)).scalars().first()
        if row is None:
            raise TemplateNotFound(f"#{template_id}", "?")
        return mapping.template(row)
