"""``SqlAccounts``: the ``AccountStore`` port over SQL (business accounts, their numbers)."""

from __future__ import annotations

from collections.abc import Sequence

from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from mindo_core.adapters.sql import mapping
from mindo_core.adapters.sql.database import FRESH, Database
from mindo_core.adapters.sql.tables import BusinessAccountRow, PhoneNumberRow
from mindo_core.adapters.sql.upsert import insert_for
from mindo_core.domain.accounts import (
    BusinessAccount,
    BusinessAccountId,
    OrganisationId,
    PhoneNumber,
    PhoneNumberRowId,
)
from mindo_core.domain.errors import Conflict, PhoneNumberNotFound
from mindo_core.ports.meta import PhoneNumberInfo


class SqlAccounts:
    def __init__(self, database: Database) -> None:
        self._database = database

    async def upsert_business_account(
        self,
        *,
        organisation_id: OrganisationId,
        waba_id: str,
        name: str,
        encrypted_access_token: bytes,
    ) -> BusinessAccount:
        insert = insert_for(self._database.dialect, BusinessAccountRow).values(
            organisation_id=organisation_id,
            waba_id=waba_id,
            name=name,
            encrypted_access_token=encrypted_access_token,
        )
        statement = insert.on_conflict_do_update(
            index_elements=["waba_id"],
            set_={
                "name": insert.excluded.name,
                "encrypted_access_token": insert.excluded.encrypted_access_token,
            },
            # An account connected by another organisation is not taken over.
            where=col(BusinessAccountRow.organisation_id) == insert.excluded.organisation_id,
        ).returning(BusinessAccountRow)
        async with self._database.writing() as session:
            row = (await session.exec(statement, execution_options=FRESH)).scalars().first()
        if row is None:
            raise Conflict(f"WhatsApp Business Account '{waba_id}' belongs to another organisation")
        return mapping.business_account(row)

    async def upsert_phone_number(
        self, business_account_id: BusinessAccountId, info: PhoneNumberInfo
    ) -> PhoneNumber:
        async with self._database.writing() as session:
            first = await self._has_no_primary(session, business_account_id)
            insert = insert_for(self._database.dialect, PhoneNumberRow).values(
                business_account_id=business_account_id,
                is_primary=first,
                **mapping.phone_number_columns(info),
            )
            statement = insert.on_conflict_do_update(
                index_elements=["phone_number_id"],
                set_={key: insert.excluded[key] for key in mapping.phone_number_columns(info)},
                where=col(PhoneNumberRow.business_account_id)
                == insert.excluded.business_account_id,
            ).returning(PhoneNumberRow)
            row = (await session.exec(statement, execution_options=FRESH)).scalars().first()
        if row is None:
            raise Conflict(f"Phone number '{info.phone_number_id}' belongs to another account")
        return mapping.phone_number(row)

    async def _has_no_primary(
        self, session: AsyncSession, business_account_id: BusinessAccountId
    ) -> bool:
        """The first number of an account becomes its primary one."""
        query = select(PhoneNumberRow.id).where(
            PhoneNumberRow.business_account_id == business_account_id,
            col(PhoneNumberRow.is_primary).is_(True),
        )
        return (await session.exec(query)).first() is None

    async def list_business_accounts(
        self, organisation_id: OrganisationId | None = None
    ) -> Sequence[BusinessAccount]:
        query = select(BusinessAccountRow).order_by(col(BusinessAccountRow.id))
        if organisation_id is not None:
            query = query.where(BusinessAccountRow.organisation_id == organisation_id)
        async with self._database.transaction() as session:
            rows = (await session.exec(query)).all()
        return [mapping.business_account(row) for row in rows]

    async def list_phone_numbers(
        self, business_account_id: BusinessAccountId
    ) -> Sequence[PhoneNumber]:
        query = (
            select(PhoneNumberRow)
            .where(PhoneNumberRow.business_account_id == business_account_id)
            .order_by(col(PhoneNumberRow.id))
        )
        async with self._database.transaction() as session:
            rows = (await session.exec(query)).all()
        return [mapping.phone_number(row) for row in rows]

    async def find_sender(
        self, organisation_id: OrganisationId, phone_number_id: str
    ) -> tuple[PhoneNumber, BusinessAccount, bytes] | None:
        query = (
            select(PhoneNumberRow, BusinessAccountRow)
            .join(
                BusinessAccountRow,
                col(BusinessAccountRow.id) == col(PhoneNumberRow.business_account_id),
            )
            .where(
                PhoneNumberRow.phone_number_id == phone_number_id,
                BusinessAccountRow.organisation_id == organisation_id,
            )
        )
        async with self._database.transaction() as session:
            found = (await session.exec(query)).first()
        if found is None:
            return None
        number, account = found
        return (
            mapping.phone_number(number),
            mapping.business_account(account),
            account.encrypted_access_token,
        )

    async def encrypted_token(self, business_account_id: BusinessAccountId) -> bytes | None:
        query = select(BusinessAccountRow.encrypted_access_token).where(
            BusinessAccountRow.id == business_account_id
        )
        async with self._database.transaction() as session:
            return (await session.exec(query)).first()

    async def update_phone_number_limits(
        self,
        number_id: PhoneNumberRowId,
        *,
        messaging_limit_tier: str | None = None,
        throughput_level: str | None = None,
    ) -> PhoneNumber:
        values = {
            name: value
            for name, value in (
                ("messaging_limit_tier", messaging_limit_tier),
                ("throughput_level", throughput_level),
            )
            if value is not None
        }
        async with self._database.writing() as session:
            row = await session.get(PhoneNumberRow, number_id, with_for_update=True)
            if row is None:
                raise PhoneNumberNotFound(f"#{number_id}")
            for name, value in values.items():
                setattr(row, name, value)
            await session.flush()
            return mapping.phone_number(row)
