"""``SqlStore``: every store port over one SQLAlchemy asyncio engine (SQLite or PostgreSQL).

Each method is one short transaction. The schema comes from the migrations
(``upgrade_database``), never from ``create_all``: what the service runs on is what Alembic built.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Mapping, Sequence
from contextlib import asynccontextmanager
from datetime import datetime

from sqlalchemy import update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncEngine, async_sessionmaker
from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from mindo_core.access.api_keys import ApiKey, ApiKeyId, Scope
from mindo_core.adapters.sql import mapping
from mindo_core.adapters.sql.delivery_store import SqlDeliveryStore
from mindo_core.adapters.sql.engine import make_async_engine
from mindo_core.adapters.sql.integrity import is_unique_violation
from mindo_core.adapters.sql.tables import (
    ApiKeyRow,
    BusinessAccountRow,
    MessageRow,
    OrganisationRow,
    PhoneNumberRow,
    TemplateRow,
)
from mindo_core.adapters.sql.upsert import insert_for
from mindo_core.domain.accounts import (
    BusinessAccount,
    BusinessAccountId,
    Organisation,
    OrganisationId,
    OrganisationProfile,
    PhoneNumber,
    PhoneNumberRowId,
)
from mindo_core.domain.errors import (
    Conflict,
    OrganisationNotFound,
    PhoneNumberNotFound,
    TemplateNotFound,
)
from mindo_core.domain.messages import MessageRecord, NewMessage
from mindo_core.domain.templates import StoredTemplate, TemplateId
from mindo_core.ports.meta import PhoneNumberInfo, TemplateInfo

# Bulk recipients that are no message yet (``mapping.message``).
_NOT_MESSAGES_YET = ("pending", "in_flight", "cancelled")

# Upserts return the row as it is after the statement, not a stale copy from the identity map.
_FRESH = {"populate_existing": True}


async def open_store(url: str) -> SqlStore:
    """A store over ``url`` as users write it (see ``urls``). Connects on first use."""
    return SqlStore(make_async_engine(url))


class SqlStore(SqlDeliveryStore):
    def __init__(self, engine: AsyncEngine) -> None:
        self._engine = engine
        self._sessions = async_sessionmaker(engine, class_=AsyncSession, expire_on_commit=False)

    @property
    def engine(self) -> AsyncEngine:
        """For adapters that share this database."""
        return self._engine

    async def close(self) -> None:
        await self._engine.dispose()

    @asynccontextmanager
    async def _transaction(self) -> AsyncIterator[AsyncSession]:
        async with self._sessions() as session, session.begin():
            yield session

    @property
    def _dialect(self) -> str:
        return self._engine.dialect.name

    # ----------------------------------------------------------------------------------------
    # Organisations

    async def create_organisation(self, name: str) -> Organisation:
        row = OrganisationRow(name=name, profile=OrganisationProfile().to_json())
        try:
            async with self._transaction() as session:
                session.add(row)
                await session.flush()
        except IntegrityError as error:
            raise _conflict_or_reraise(error, f"Organisation '{name}' already exists") from None
        return mapping.organisation(row)

    async def update_organisation_profile(
        self, organisation_id: OrganisationId, profile: OrganisationProfile
    ) -> Organisation:
        async with self._transaction() as session:
            row = await session.get(OrganisationRow, organisation_id)
            if row is None:
                raise OrganisationNotFound(str(organisation_id))
            row.profile = profile.to_json()
            session.add(row)
            await session.flush()
            return mapping.organisation(row)

    async def find_organisation_by_name(self, name: str) -> Organisation | None:
        query = select(OrganisationRow).where(OrganisationRow.name == name)
        async with self._transaction() as session:
            row = (await session.exec(query)).first()
        return None if row is None else mapping.organisation(row)

    async def get_organisation(self, organisation_id: OrganisationId) -> Organisation | None:
        async with self._transaction() as session:
            row = await session.get(OrganisationRow, organisation_id)
        return None if row is None else mapping.organisation(row)

    async def list_organisations(self) -> Sequence[Organisation]:
        query = select(OrganisationRow).order_by(col(OrganisationRow.id))
        async with self._transaction() as session:
            rows = (await session.exec(query)).all()
        return [mapping.organisation(row) for row in rows]

    # ----------------------------------------------------------------------------------------
    # API keys

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
            async with self._transaction() as session:
                session.add(row)
                await session.flush()
        except IntegrityError as error:
            raise _conflict_or_reraise(error, "An API key with this hash exists") from None
        return mapping.api_key(row)

    async def find_api_key_by_hash(self, key_hash: str) -> ApiKey | None:
        query = select(ApiKeyRow).where(ApiKeyRow.key_hash == key_hash)
        async with self._transaction() as session:
            row = (await session.exec(query)).first()
        return None if row is None else mapping.api_key(row)

    async def list_api_keys(self, organisation_id: OrganisationId) -> Sequence[ApiKey]:
        query = (
            select(ApiKeyRow)
            .where(ApiKeyRow.organisation_id == organisation_id)
            .order_by(col(ApiKeyRow.id))
        )
        async with self._transaction() as session:
            rows = (await session.exec(query)).all()
        return [mapping.api_key(row) for row in rows]

    async def revoke_api_key(self, key_id: ApiKeyId, at: datetime) -> None:
        # Revoking twice keeps the first time: that is when the key stopped working.
        statement = (
            update(ApiKeyRow)
            .where(col(ApiKeyRow.id) == key_id, col(ApiKeyRow.revoked_at).is_(None))
            .values(revoked_at=mapping.timestamp(at))
        )
        async with self._transaction() as session:
            await session.exec(statement)

    # ----------------------------------------------------------------------------------------
    # Business accounts and phone numbers

    async def upsert_business_account(
        self,
        *,
        organisation_id: OrganisationId,
        waba_id: str,
        name: str,
        encrypted_access_token: bytes,
    ) -> BusinessAccount:
        insert = insert_for(self._dialect, BusinessAccountRow).values(
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
        async with self._transaction() as session:
            row = (await session.exec(statement, execution_options=_FRESH)).scalars().first()
        if row is None:
            raise Conflict(f"WhatsApp Business Account '{waba_id}' belongs to another organisation")
        return mapping.business_account(row)

    async def upsert_phone_number(
        self, business_account_id: BusinessAccountId, info: PhoneNumberInfo
    ) -> PhoneNumber:
        async with self._transaction() as session:
            first = await self._has_no_primary(session, business_account_id)
            insert = insert_for(self._dialect, PhoneNumberRow).values(
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
            row = (await session.exec(statement, execution_options=_FRESH)).scalars().first()
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
        async with self._transaction() as session:
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
        async with self._transaction() as session:
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
        async with self._transaction() as session:
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
        async with self._transaction() as session:
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
        async with self._transaction() as session:
            row = await session.get(PhoneNumberRow, number_id, with_for_update=True)
            if row is None:
                raise PhoneNumberNotFound(f"#{number_id}")
            for name, value in values.items():
                setattr(row, name, value)
            await session.flush()
            return mapping.phone_number(row)

    # ----------------------------------------------------------------------------------------
    # Templates

    async def upsert_template(
        self, business_account_id: BusinessAccountId, info: TemplateInfo
    ) -> StoredTemplate:
        columns = mapping.template_columns(info)
        insert = insert_for(self._dialect, TemplateRow).values(
            business_account_id=business_account_id, variable_defaults={}, **columns
        )
        statement = insert.on_conflict_do_update(
            index_elements=["business_account_id", "name", "language"],
            # Meta's fields only: the defaults are Mindo's and survive every refresh.
            set_={key: insert.excluded[key] for key in columns},
        ).returning(TemplateRow)
        async with self._transaction() as session:
            row = (await session.exec(statement, execution_options=_FRESH)).scalars().one()
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
        async with self._transaction() as session:
            row = (await session.exec(statement, execution_options=_FRESH)).scalars().first()
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
        async with self._transaction() as session:
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
        async with self._transaction() as session:
            rows = (await session.exec(query)).all()
        return [mapping.template(row) for row in rows]

    async def get_template(self, template_id: TemplateId) -> StoredTemplate | None:
        async with self._transaction() as session:
            row = await session.get(TemplateRow, template_id)
        return None if row is None else mapping.template(row)

    async def set_template_status(self, template_id: TemplateId, status: str) -> StoredTemplate:
        statement = (
            update(TemplateRow)
            .where(col(TemplateRow.id) == template_id)
            .values(status=status)
            .returning(TemplateRow)
        )
        async with self._transaction() as session:
            row = (await session.exec(statement, execution_options=_FRESH)).scalars().first()
        if row is None:
            raise TemplateNotFound(f"#{template_id}", "?")
        return mapping.template(row)

    # ----------------------------------------------------------------------------------------
    # Messages

    async def add_message(self, message: NewMessage) -> MessageRecord:
        row = mapping.new_message_row(message)
        try:
            async with self._transaction() as session:
                session.add(row)
                await session.flush()
        except IntegrityError as error:
            raise _conflict_or_reraise(error, f"Message '{message.wamid}' exists") from None
        return mapping.message(row)

    async def find_message_by_wamid(
        self, organisation_id: OrganisationId, wamid: str
    ) -> MessageRecord | None:
        query = select(MessageRow).where(
            MessageRow.organisation_id == organisation_id,
            MessageRow.wamid == wamid,
            # Bulk recipients not sent yet have no wamid; this only makes sure of it.
            col(MessageRow.status).not_in(_NOT_MESSAGES_YET),
        )
        async with self._transaction() as session:
            row = (await session.exec(query)).first()
        return None if row is None else mapping.message(row)


def _conflict_or_reraise(error: IntegrityError, message: str) -> Exception:
    """The error to raise instead: ``Conflict`` for a duplicate, the original otherwise."""
    return Conflict(message) if is_unique_violation(error) else error
