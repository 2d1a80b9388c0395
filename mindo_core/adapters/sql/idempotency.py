"""``SqlIdempotency``: the ``IdempotencyStore`` port over SQL (``idempotency_keys``).

A claim is one writing transaction: read the key, replace it if it expired, insert it. Two
claims racing from different processes meet at the unique constraint on (organisation, key
hash): the loser's insert fails and it reads the winner's row instead.
"""

from __future__ import annotations

from datetime import datetime

import sqlalchemy as sa
from sqlalchemy.exc import IntegrityError
from sqlmodel import col, select
from sqlmodel.sql.expression import SelectOfScalar

from mindo_core.adapters.sql.database import Database
from mindo_core.adapters.sql.integrity import is_unique_violation
from mindo_core.adapters.sql.tables import IdempotencyKeyRow
from mindo_core.adapters.sql.types import require_aware
from mindo_core.domain.accounts import OrganisationId
from mindo_core.ports.idempotency import (
    IdempotencyRecord,
    KeyOutcome,
    NewIdempotencyKey,
    SettledKey,
)


class SqlIdempotency:
    def __init__(self, database: Database) -> None:
        self._database = database

    async def claim_key(
        self, key: NewIdempotencyKey, *, expired_at_or_before: datetime
    ) -> IdempotencyRecord | None:
        expired = require_aware(expired_at_or_before)
        try:
            async with self._database.writing(urgent=True) as session:
                found = (await session.exec(_the_key(key.organisation_id, key.key_hash))).first()
                if found is not None and found.created_at > expired:
                    return _record(found)
                if found is not None:
                    await session.delete(found)
                    await session.flush()
                session.add(_new_row(key))
                await session.flush()
                return None
        except IntegrityError as error:
            if not is_unique_violation(error):
                raise
        # Another process claimed it between our read and our insert: its row is the answer.
        async with self._database.writing(urgent=True) as session:
            winner = (await session.exec(_the_key(key.organisation_id, key.key_hash))).first()
        if winner is None:  # released by the winner meanwhile (refused before Meta): free again
            return await self.claim_key(key, expired_at_or_before=expired_at_or_before)
        return _record(winner)

    async def settle_key(
        self, organisation_id: OrganisationId, key_hash: str, settled: SettledKey
    ) -> None:
        statement = (
            sa.update(IdempotencyKeyRow)
            .where(
                col(IdempotencyKeyRow.organisation_id) == organisation_id,
                col(IdempotencyKeyRow.key_hash) == key_hash,
                col(IdempotencyKeyRow.outcome) == "pending",
            )
            .values(
                outcome=settled.outcome,
                settled_at=require_aware(settled.settled_at),
                wamid=settled.wamid,
                sent_at=None if settled.sent_at is None else require_aware(settled.sent_at),
                error_code=settled.error_code,
                error_message=settled.error_message,
                answer=settled.answer,
            )
        )
        async with self._database.writing(urgent=True) as session:
            await (await session.connection()).execute(statement)

    async def release_key(self, organisation_id: OrganisationId, key_hash: str) -> None:
        statement = sa.delete(IdempotencyKeyRow).where(
            col(IdempotencyKeyRow.organisation_id) == organisation_id,
            col(IdempotencyKeyRow.key_hash) == key_hash,
            col(IdempotencyKeyRow.outcome) == "pending",
        )
        async with self._database.writing(urgent=True) as session:
            await (await session.connection()).execute(statement)

    async def purge_keys(self, *, created_at_or_before: datetime) -> int:
        statement = sa.delete(IdempotencyKeyRow).where(
            col(IdempotencyKeyRow.created_at) <= require_aware(created_at_or_before)
        )
        async with self._database.writing() as session:
            result = await (await session.connection()).execute(statement)
            return int(result.rowcount)


def _the_key(organisation_id: OrganisationId, key_hash: str) -> SelectOfScalar[IdempotencyKeyRow]:
    return select(IdempotencyKeyRow).where(
        IdempotencyKeyRow.organisation_id == organisation_id,
        IdempotencyKeyRow.key_hash == key_hash,
    )


def _new_row(key: NewIdempotencyKey) -> IdempotencyKeyRow:
    return IdempotencyKeyRow(
        organisation_id=key.organisation_id,
        key_hash=key.key_hash,
        fingerprint=key.fingerprint,
        outcome="pending",
        created_at=require_aware(key.created_at),
    )


def _record(row: IdempotencyKeyRow) -> IdempotencyRecord:
    outcome: KeyOutcome = row.outcome  # type: ignore[assignment]
    return IdempotencyRecord(
        organisation_id=OrganisationId(row.organisation_id),
        key_hash=row.key_hash,
        fingerprint=row.fingerprint,
        created_at=row.created_at,
        outcome=outcome,
        settled_at=row.settled_at,
        wamid=row.wamid,
        sent_at=row.sent_at,
        error_code=row.error_code,
        error_message=row.error_message,
        answer=row.answer,
    )
