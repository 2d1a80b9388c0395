"""``SqlContacts`` and ``SqlEventMarks``: the contact ports over SQL.

Inbound messages are inserted with ``ON CONFLICT DO NOTHING`` on their wamid, and contacts
created the same way on (organisation, phone), so that two transactions recording the same
webhook (Meta posts concurrently, and again) neither fail nor store it twice. A contact's last
inbound time only moves forward, in one guarded ``UPDATE``.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import datetime

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncConnection
from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from mindo_core.adapters.sql.database import Database
from mindo_core.adapters.sql.outbox import write_events
from mindo_core.adapters.sql.tables import (
    AccountEventMarkRow,
    BusinessAccountRow,
    ContactRow,
    InboundMessageRow,
    PhoneNumberRow,
)
from mindo_core.adapters.sql.types import UTCDateTime, require_aware
from mindo_core.adapters.sql.upsert import insert_for
from mindo_core.callbacks.model import NewEvent
from mindo_core.callbacks.payloads import inbound_event, opt_out_event
from mindo_core.contacts.model import (
    CONTACT_SOURCES,
    Contact,
    ContactId,
    ContactSource,
    InboundRecord,
)
from mindo_core.contacts.opt_out import OptChange
from mindo_core.delivery.webhook_payloads import InboundMessage
from mindo_core.domain.accounts import OrganisationId, PhoneNumberRowId
from mindo_core.ports.bulks import Page
from mindo_core.ports.contacts import InboundReport, OptEvent

__all__ = ["SqlContacts", "SqlEventMarks"]

_SOURCES: dict[str, ContactSource] = {source: source for source in CONTACT_SOURCES}
_Owners = dict[str, tuple[int, int]]  # phone_number_id -> (organisation id, number row id)


class SqlContacts:
    def __init__(self, database: Database) -> None:
        self._database = database

    async def record_inbound(
        self,
        messages: Sequence[InboundMessage],
        *,
        received_at: datetime,
        opt_changes: Mapping[str, OptChange] | None = None,
    ) -> InboundReport:
        require_aware(received_at)
        changes = opt_changes or {}
        recorded = duplicates = unmanaged = 0
        events: list[NewEvent] = []
        async with self._database.writing() as session:
            owners = await _owners(session, {m.phone_number_id for m in messages})
            for message in messages:
                owner = owners.get(message.phone_number_id)
                if owner is None:
                    unmanaged += 1
                elif await self._record(session, message, *owner, received_at=received_at):
                    change = changes.get(message.wamid)
                    organisation_id = OrganisationId(owner[0])
                    events.append(_inbound_event(organisation_id, message))
                    if await _opt(session, owner[0], message.sender_phone, message.at, change):
                        events.append(
                            opt_out_event(organisation_id, message.sender_phone, message.at)
                        )
                    recorded += 1
                else:
                    duplicates += 1
            await self._report(session, events)
        return InboundReport(recorded=recorded, duplicates=duplicates, unmanaged=unmanaged)

    async def _record(
        self,
        session: AsyncSession,
        message: InboundMessage,
        organisation_id: int,
        number_row_id: int,
        *,
        received_at: datetime,
    ) -> bool:
        contact_id = await self._contact_id(
            session, organisation_id, message.sender_phone, "organic", message.at
        )
        insert = (
            insert_for(self._database.dialect, InboundMessageRow)
            .values(
                wamid=message.wamid,
                organisation_id=organisation_id,
                phone_number_row_id=number_row_id,
                contact_id=contact_id,
                type=message.type,
                text=message.text,
                payload=message.payload,
                context_wamid=message.context_wamid,
                sent_at=message.at,
                received_at=received_at,
            )
            .on_conflict_do_nothing(index_elements=["wamid"])
            .returning(col(InboundMessageRow.id))
        )
        # RETURNING, not rowcount: it says whether this statement inserted on both backends.
        connection = await session.connection()
        if (await connection.execute(insert)).first() is None:
            return False
        last = col(ContactRow.last_inbound_at)
        changes: dict[str, object] = {"last_inbound_at": message.at}
        if message.profile_name:
            changes["profile_name"] = message.profile_name
        await connection.execute(
            sa.update(ContactRow)
            .where(
                col(ContactRow.id) == contact_id,
                sa.or_(last.is_(None), last < message.at),
            )
            .values(**changes)
        )
        return True

    async def _contact_id(
        self,
        session: AsyncSession,
        organisation_id: int,
        phone: str,
        source: ContactSource,
        at: datetime,
    ) -> int:
        await self._ensure_contact(session, organisation_id, phone, source, at)
        query = select(ContactRow.id).where(
            ContactRow.organisation_id == organisation_id, ContactRow.phone == phone
        )
        contact_id = (await session.exec(query)).one()
        assert contact_id is not None  # a row read back always has its key
        return contact_id

    async def _ensure_contact(
        self,
        session: AsyncSession,
        organisation_id: int,
        phone: str,
        source: ContactSource,
        at: datetime,
    ) -> None:
        """The contact, created with ``source`` unless it exists (whose source never changes)."""
        await ensure_contacts(await session.connection(), [(organisation_id, phone, at)], source)

    async def apply_opt_events(self, events: Sequence[OptEvent]) -> int:
        managed = 0
        reported: list[NewEvent] = []
        async with self._database.writing() as session:
            owners = await _owners(session, {e.phone_number_id for e in events})
            for event in events:
                owner = owners.get(event.phone_number_id)
                if owner is None:
                    continue
                organisation_id = owner[0]
                await self._ensure_contact(
                    session, organisation_id, event.phone, "outbound", event.at
                )
                if await _opt(session, organisation_id, event.phone, event.at, event.change):
                    reported.append(
                        opt_out_event(OrganisationId(organisation_id), event.phone, event.at)
                    )
                managed += 1
            await self._report(session, reported)
        return managed

    async def _report(self, session: AsyncSession, events: Sequence[NewEvent]) -> None:
        """The callback events of this transaction's changes, written with them."""
        connection = await session.connection()
        await write_events(connection, self._database.callback_subscriptions, events)

    async def opted_out_among(
        self, organisation_id: OrganisationId, phones: Sequence[str]
    ) -> frozenset[str]:
        if not phones:
            return frozenset()
        query = select(ContactRow.phone).where(
            ContactRow.organisation_id == organisation_id,
            col(ContactRow.phone).in_(set(phones)),
            col(ContactRow.opted_out_at).is_not(None),
        )
        async with self._database.transaction() as session:
            return frozenset((await session.exec(query)).all())

    async def suppress(
        self, organisation_id: OrganisationId, phone: str, *, at: datetime
    ) -> Contact:
        require_aware(at)
        since = col(ContactRow.opted_out_at)
        async with self._database.writing() as session:
            await self._ensure_contact(session, organisation_id, phone, "outbound", at)
            # The organisation's word is the latest: no guard on the last change's time.
            put = sa.func.coalesce(since, sa.literal(at, UTCDateTime()))
            await (await session.connection()).execute(
                _of(organisation_id, phone).values(opted_out_at=put, opt_changed_at=at)
            )
            row = await _contact_row(session, organisation_id, phone)
        assert row is not None
        return _contact(row)

    async def unsuppress(
        self, organisation_id: OrganisationId, phone: str, *, at: datetime
    ) -> bool:
        require_aware(at)
        statement = (
            _of(organisation_id, phone)
            .where(col(ContactRow.opted_out_at).is_not(None))
            .values(opted_out_at=None, opt_changed_at=at)
            .returning(col(ContactRow.id))
        )
        async with self._database.writing() as session:
            result = await (await session.connection()).execute(statement)
            return result.first() is not None

    async def suppressed(
        self, organisation_id: OrganisationId, *, offset: int, limit: int
    ) -> Page[Contact]:
        on_list = (
            ContactRow.organisation_id == organisation_id,
            col(ContactRow.opted_out_at).is_not(None),
        )
        count = select(sa.func.count()).select_from(ContactRow).where(*on_list)
        query = (
            select(ContactRow)
            .where(*on_list)
            .order_by(col(ContactRow.opted_out_at).desc(), col(ContactRow.phone))
            .offset(offset)
            .limit(limit)
        )
        async with self._database.transaction() as session:
            total = (await session.exec(count)).one()
            rows = (await session.exec(query)).all()
        return Page(count=total, items=[_contact(row) for row in rows])

    async def find_contact(self, organisation_id: OrganisationId, phone: str) -> Contact | None:
        async with self._database.transaction() as session:
            row = await _contact_row(session, organisation_id, phone)
        return None if row is None else _contact(row)

    async def inbound_messages(
        self, organisation_id: OrganisationId, phone: str, *, limit: int = 50
    ) -> Sequence[InboundRecord]:
        query = (
            select(InboundMessageRow)
            .join(ContactRow, col(ContactRow.id) == col(InboundMessageRow.contact_id))
            .where(ContactRow.organisation_id == organisation_id, ContactRow.phone == phone)
            .order_by(col(InboundMessageRow.sent_at).desc(), col(InboundMessageRow.wamid).desc())
            .limit(limit)
        )
        async with self._database.transaction() as session:
            rows = (await session.exec(query)).all()
        return [_inbound(row) for row in rows]


async def _opt(
    session: AsyncSession,
    organisation_id: int,
    phone: str,
    when: datetime,
    change: OptChange | None,
) -> bool:
    """The contact opted out or in at ``when``, unless a later change already did; whether
    this opted them out."""
    if change is None:
        return False
    changed = col(ContactRow.opt_changed_at)
    since = col(ContactRow.opted_out_at)
    # On the list already: it stays there since the first stop word.
    at = sa.literal(when, UTCDateTime())
    opted_out_at = sa.func.coalesce(since, at) if change == "opt_out" else None
    statement = (
        sa.update(ContactRow)
        .where(
            col(ContactRow.organisation_id) == organisation_id,
            col(ContactRow.phone) == phone,
            sa.or_(changed.is_(None), changed <= when),
        )
        .values(opted_out_at=opted_out_at, opt_changed_at=when)
    )
    result = await (await session.connection()).execute(statement)
    return change == "opt_out" and bool(result.rowcount)


def _inbound_event(organisation_id: OrganisationId, message: InboundMessage) -> NewEvent:
    return inbound_event(
        organisation_id,
        wamid=message.wamid,
        phone=message.sender_phone,
        kind=message.type,
        text=message.text,
        payload=message.payload,
        context_wamid=message.context_wamid,
        profile_name=message.profile_name,
        at=message.at,
    )


def _of(organisation_id: int, phone: str) -> sa.Update:
    return sa.update(ContactRow).where(
        col(ContactRow.organisation_id) == organisation_id, col(ContactRow.phone) == phone
    )


async def _owners(session: AsyncSession, phone_number_ids: set[str]) -> _Owners:
    if not phone_number_ids:
        return {}
    query = (
        select(
            PhoneNumberRow.phone_number_id, BusinessAccountRow.organisation_id, PhoneNumberRow.id
        )
        .join(
            BusinessAccountRow,
            col(BusinessAccountRow.id) == col(PhoneNumberRow.business_account_id),
        )
        .where(col(PhoneNumberRow.phone_number_id).in_(phone_number_ids))
    )
    rows = (await session.exec(query)).all()
    return {meta_id: (org, row_id) for meta_id, org, row_id in rows if row_id is not None}


async def _contact_row(
    session: AsyncSession, organisation_id: int, phone: str
) -> ContactRow | None:
    query = select(ContactRow).where(
        ContactRow.organisation_id == organisation_id, ContactRow.phone == phone
    )
    return (await session.exec(query)).first()


def _contact(row: ContactRow) -> Contact:
    assert row.id is not None
    source = _SOURCES.get(row.source, "organic")
    return Contact(
        id=ContactId(row.id),
        organisation_id=OrganisationId(row.organisation_id),
        phone=row.phone,
        source=source,
        created_at=row.created_at,
        full_name=row.full_name,
        profile_name=row.profile_name,
        email=row.email,
        contact_list_id=row.contact_list_id,
        contact_list_name=row.contact_list_name,
        last_inbound_at=row.last_inbound_at,
        opted_out_at=row.opted_out_at,
        opt_changed_at=row.opt_changed_at,
    )


def _inbound(row: InboundMessageRow) -> InboundRecord:
    return InboundRecord(
        wamid=row.wamid,
        organisation_id=OrganisationId(row.organisation_id),
        phone_number_row_id=PhoneNumberRowId(row.phone_number_row_id),
        contact_id=ContactId(row.contact_id),
        type=row.type,
        text=row.text,
        payload=row.payload,
        context_wamid=row.context_wamid,
        sent_at=row.sent_at,
        received_at=row.received_at,
    )


class SqlEventMarks:
    def __init__(self, database: Database) -> None:
        self._database = database

    async def mark_if_not_older(self, object_key: str, at: datetime) -> bool:
        require_aware(at)
        insert = insert_for(self._database.dialect, AccountEventMarkRow).values(
            object_key=object_key, applied_at=at
        )
        # One statement: inserted, or moved forward only when not older; else no row changes.
        upsert = insert.on_conflict_do_update(
            index_elements=["object_key"],
            set_={"applied_at": insert.excluded.applied_at},
            where=col(AccountEventMarkRow.applied_at) <= insert.excluded.applied_at,
        ).returning(col(AccountEventMarkRow.object_key))
        async with self._database.writing() as session:
            result = await (await session.connection()).execute(upsert)
            return result.first() is not None


async def ensure_contacts(
    connection: AsyncConnection,
    contacts: Sequence[tuple[int, str, datetime]],
    source: ContactSource,
) -> None:
    """Each (organisation, phone, at) a contact, created with ``source`` at ``at`` unless it
    exists (whose source never changes): one statement for them all."""
    if not contacts:
        return
    insert = insert_for(connection.dialect.name, ContactRow).on_conflict_do_nothing(
        index_elements=["organisation_id", "phone"]
    )
    rows = [
        {"organisation_id": org, "phone": phone, "source": source, "created_at": at}
        for org, phone, at in contacts
    ]
    await connection.execute(insert, rows)
