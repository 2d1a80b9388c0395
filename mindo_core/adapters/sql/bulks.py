"""``SqlBulks``: the ``BulkStore`` port over SQL.

A bulk is a ``bulks`` row; its recipients are ``messages`` rows with ``bulk_id`` set, whose
``status`` is the recipient's state, once they are made: acceptance stages them in chunks, and
claims, stops and listings make the rows (``staged_recipients``). Its counters live in the bulks
row (staged recipients count as pending) and move by increments in the same transaction as the
recipients (``counter_moves``). What writes runs in ``Database.writing`` (its lock order).

Rules the port leaves open, the same as ``InMemoryBulks``':

* An outcome only moves a recipient that is ``in_flight``; any other is left alone (settled
  after a crash, or a repeat). A "release" in a bulk that is no longer running makes the
  recipient cancelled or skipped at once, as its siblings were, never pending again.
* ``stop_bulk`` gives the final status at once (recipients still in flight count as failed);
  outcomes recorded later refresh a finished bulk's status (``refresh_final_status``).
  Stopping a bulk that is over raises ``IllegalTransition``; finishing one returns it as is.
* A skipped recipient carries its bulk's ``stop_reason`` as its ``error_message``, whichever
  way it was skipped (the stop itself, a release or a crash settled after it).
* ``recipient_window`` counts single messages Meta accepted (at ``sent_at``) and bulk
  recipients sent (``sent_at``) or perhaps sent (in flight or unconfirmed: at their claim).
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping, Sequence
from collections.abc import Set as AbstractSet
from datetime import UTC, date, datetime, time, timedelta
from typing import Any

import sqlalchemy as sa
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncConnection
from sqlmodel import col, func, select
from sqlmodel.ext.asyncio.session import AsyncSession
from sqlmodel.sql.expression import SelectOfScalar

from mindo_core.adapters.sql import claims, mapping
from mindo_core.adapters.sql.callback_events import (
    wants_bulk_events,
    write_bulk_events,
    write_message_events,
)
from mindo_core.adapters.sql.counter_moves import CounterMoves
from mindo_core.adapters.sql.database import FRESH, Database
from mindo_core.adapters.sql.integrity import is_unique_violation
from mindo_core.adapters.sql.outbox import CallbackSubscriptions
from mindo_core.adapters.sql.quota_window import read_promised_recipients, read_recipient_window
from mindo_core.adapters.sql.staged_recipients import has_staged, materialise, stage_recipients
from mindo_core.adapters.sql.tables import MAYBE_SENT_CONDITION, BulkRow, MessageRow, TemplateRow
from mindo_core.adapters.sql.types import UTCDateTime, require_aware
from mindo_core.bulks.model import (
    UNCONFIRMED_REASON,
    Bulk,
    BulkId,
    BulkRecipient,
    BulkStatus,
    CrashPolicy,
    IllegalTransition,
    RecipientState,
    RecipientStatus,
    advance_bulk,
    final_status,
    refresh_final_status,
    resumed_status,
    sends_remain,
    states_shown_as,
)
from mindo_core.bulks.timeline import RecipientTimes
from mindo_core.domain.accounts import OrganisationId, PhoneNumberRowId
from mindo_core.domain.errors import BulkNotFound, Conflict
from mindo_core.domain.messages import MessageId
from mindo_core.ports.bulks import (
    BulkFilter,
    ClaimedRecipient,
    NewBulk,
    NewRecipientChunk,
    Page,
    PendingRecipient,
    RecipientOutcome,
)

__all__ = ["SqlBulks", "lock_bulks", "settle_counters"]

_RUNNING: tuple[BulkStatus, ...] = ("QUEUED", "PROCESSING")
# Not over: running, or paused (its recipients wait, pending).
_LIVE: tuple[BulkStatus, ...] = (*_RUNNING, "PAUSED", "SCHEDULED")


class SqlBulks:
    def __init__(self, database: Database) -> None:
        self._database = database

    # -- creating and reading ------------------------------------------------------------------

    async def create_bulk(self, bulk: NewBulk, recipients: Iterable[NewRecipientChunk]) -> Bulk:
        # The recipients are streamed: their count is known once they are written.
        row = mapping.new_bulk_row(bulk, recipients=0)
        try:
            async with self._database.writing() as session:
                session.add(row)
                await session.flush()
                connection = await session.connection()
                row.pending_count = await stage_recipients(connection, bulk, recipients)
                await session.flush()
                created = await _bulk(session, BulkId(row.id))
        except IntegrityError as error:
            if is_unique_violation(error):
                raise Conflict(f"Bulk send '{bulk.id}' exists") from None
            raise
        if created is None:
            raise RuntimeError(f"bulk send '{bulk.id}' vanished while it was created")
        return created

    async def get_bulk(
        self, bulk_id: BulkId, organisation_id: OrganisationId | None = None
    ) -> Bulk | None:
        async with self._database.transaction() as session:
            return await _bulk(session, bulk_id, organisation_id)

    async def list_bulks(
        self, organisation_id: OrganisationId, filters: BulkFilter, *, offset: int, limit: int
    ) -> Page[Bulk]:
        conditions = [BulkRow.organisation_id == organisation_id, *_filter_conditions(filters)]
        counting = select(func.count()).select_from(BulkRow).where(*conditions)
        listing = (
            _bulks_with_template()
            .where(*conditions)
            .order_by(col(BulkRow.created_at).desc(), col(BulkRow.id).desc())
            .offset(offset)
            .limit(limit)
        )
        async with self._database.transaction() as session:
            count = (await session.exec(counting)).one()
            rows = (await session.exec(listing)).all()
        return Page(count=count, items=[_to_bulk(*row) for row in rows])

    async def list_bulk_recipients(
        self,
        organisation_id: OrganisationId,
        bulk_id: BulkId,
        *,
        status: RecipientStatus | None,
        offset: int,
        limit: int,
    ) -> Page[BulkRecipient]:
        conditions: list[Any] = [
            col(MessageRow.bulk_id) == bulk_id,
            col(MessageRow.organisation_id) == organisation_id,
        ]
        if status is not None:
            conditions.append(col(MessageRow.status).in_(states_shown_as(status)))
        counting = select(func.count()).select_from(MessageRow).where(*conditions)
        listing = (
            select(MessageRow)
            .where(*conditions)
            .order_by(col(MessageRow.position))
            .offset(offset)
            .limit(limit)
        )
        await self._materialise_all(bulk_id)
        async with self._database.transaction() as session:
            count = (await session.exec(counting)).one()
            rows = (await session.exec(listing)).all()
        return Page(count=count, items=[mapping.bulk_recipient(row) for row in rows])

    async def recipient_times(
        self, organisation_id: OrganisationId, bulk_id: BulkId
    ) -> RecipientTimes:
        # Four columns, no ORM rows: a 100,000-recipient bulk is one light scan. Staged
        # recipients are pending, with no moments, so nothing needs materialising first.
        query = select(
            col(MessageRow.sent_at),
            col(MessageRow.delivered_at),
            col(MessageRow.read_at),
            col(MessageRow.failed_at),
        ).where(
            col(MessageRow.bulk_id) == bulk_id,
            col(MessageRow.organisation_id) == organisation_id,
        )
        async with self._database.transaction() as session:
            rows = (await session.exec(query)).all()
        found: tuple[list[datetime], ...] = ([], [], [], [])
        for row in rows:
            for moments, moment in zip(found, row, strict=True):
                if moment is not None:
                    moments.append(require_aware(moment).astimezone(UTC))
        sent, delivered, read, failed = (tuple(m) for m in found)
        return RecipientTimes(sent=sent, delivered=delivered, read=read, failed=failed)

    async def _materialise_all(self, bulk_id: BulkId) -> None:
        """Every staged recipient of the bulk becomes a row (a running bulk's: pending)."""
        async with self._database.transaction() as session:
            staged = await has_staged(await session.connection(), bulk_id)
        if staged:
            async with self._database.writing() as session:
                await materialise(await session.connection(), bulk_id)

    async def bulks_to_run(self, number: PhoneNumberRowId | None = None) -> Sequence[Bulk]:
        query = (
            _bulks_with_template()
            .where(col(BulkRow.status).in_(_RUNNING))
            .order_by(col(BulkRow.created_at), col(BulkRow.id))
        )
        if number is not None:
            query = query.where(col(BulkRow.phone_number_row_id) == number)
        async with self._database.transaction() as session:
            rows = (await session.exec(query)).all()
        return [_to_bulk(*row) for row in rows]

    async def start_scheduled(self, now: datetime) -> datetime | None:
        now = mapping.timestamp(now)
        scheduled = col(BulkRow.status) == "SCHEDULED"
        due = (
            sa.update(BulkRow)
            .where(scheduled, col(BulkRow.send_at) <= now)
            .values(status="QUEUED")
            .returning(col(BulkRow.id))
        )
        earliest = select(func.min(BulkRow.send_at)).where(scheduled)
        async with self._database.writing() as session:
            connection = await session.connection()
            started = (await connection.execute(due)).scalars().all()
            subscriptions = self._database.callback_subscriptions
            # SCHEDULED → QUEUED is a status change callbacks report; read only when wanted.
            if started and await wants_bulk_events(connection, subscriptions):
                queued = [await _existing_bulk(session, BulkId(b)) for b in started]
                await write_bulk_events(connection, subscriptions, queued, at=now)
            found = (await session.exec(earliest)).one()
        return None if found is None else mapping.timestamp(found)

    async def next_due_at(self, bulk_id: BulkId) -> datetime | None:
        # A pending recipient is due at the later of its not_before and retry_at; with
        # neither, it has been due since the bulk was created.
        due = sa.case(
            (
                sa.and_(
                    col(MessageRow.retry_at).is_not(None),
                    sa.or_(
                        col(MessageRow.not_before).is_(None),
                        col(MessageRow.retry_at) > col(MessageRow.not_before),
                    ),
                ),
                col(MessageRow.retry_at),
            ),
            else_=col(MessageRow.not_before),
        )
        query = select(func.min(due), func.count() - func.count(due)).where(
            MessageRow.bulk_id == bulk_id, MessageRow.status == "pending"
        )
        async with self._database.transaction() as session:
            bulk = await session.get(BulkRow, bulk_id)
            if bulk is None:
                raise BulkNotFound(bulk_id)
            # Staged recipients are not read: the claim that is due makes them rows. Asked
            # first: on PostgreSQL each statement sees what was committed when it began, and
            # chunks made into rows in between are then seen as rows by the next one.
            staged = await has_staged(await session.connection(), bulk_id)
            earliest, due_since_creation = (await session.exec(query)).one()
            due_since_creation = due_since_creation or staged
        candidates = [mapping.timestamp(bulk.created_at)] if due_since_creation else []
        if earliest is not None:
            candidates.append(mapping.timestamp(earliest))
        return min(candidates, default=None)

    # -- the engine ----------------------------------------------------------------------------

    async def claim_recipients(
        self, bulk_id: BulkId, *, worker: str, limit: int, now: datetime
    ) -> Sequence[ClaimedRecipient]:
        now = mapping.timestamp(now)
        if limit <= 0:
            return ()
        async with self._database.writing() as session:
            connection = await session.connection()
            claimed = list(
                await claims.claim(connection, bulk_id, worker=worker, limit=limit, now=now)
            )
            # Short of due rows: the next staged chunk, in position order, then claim again,
            # until enough are due or none is left staged (a bulk that is not running has
            # none). Claiming again after making nothing is for PostgreSQL: this claim may have
            # waited for another worker's chunk, whose rows are now there to claim.
            while len(claimed) < limit:
                made = await materialise(
                    connection, bulk_id, at_least=limit - len(claimed), wait_for_bulk=False
                )
                more = limit - len(claimed)
                claimed += await claims.claim(
                    connection, bulk_id, worker=worker, limit=more, now=now
                )
                if not made:
                    break
            if claimed:
                await self._mark_started(session, bulk_id, now)
        return claimed

    async def mark_calls_started(
        self, message_ids: Sequence[MessageId], *, worker: str, at: datetime
    ) -> AbstractSet[MessageId]:
        at = mapping.timestamp(at)
        if not message_ids:
            return frozenset()
        async with self._database.writing() as session:
            connection = await session.connection()
            return await claims.mark_calls_started(connection, message_ids, worker=worker, at=at)

    async def _mark_started(self, session: AsyncSession, bulk_id: BulkId, now: datetime) -> None:
        """QUEUED → PROCESSING; a callback event when someone wants bulk events."""
        connection = await session.connection()
        subscriptions = self._database.callback_subscriptions
        if not await wants_bulk_events(connection, subscriptions):
            await claims.mark_started(connection, bulk_id, now)
            return
        before = await _existing_bulk(session, bulk_id)
        await claims.mark_started(connection, bulk_id, now)
        if before.status == "QUEUED":
            started = await _existing_bulk(session, bulk_id)
            await write_bulk_events(connection, subscriptions, [started], at=now)

    async def record_outcomes(
        self, outcomes: Sequence[RecipientOutcome], *, worker: str | None = None
    ) -> Sequence[Bulk]:
        if not outcomes:
            return ()
        moves = CounterMoves()
        async with self._database.writing() as session:
            bulks = await lock_bulks(session, {outcome.bulk_id for outcome in outcomes})
            connection = await session.connection()
            changed: dict[BulkId, None] = {}
            statuses = {bulk_id: row.status for bulk_id, row in bulks.items()}
            reported: list[int] = []
            for (bulk_id, after, kind), rows in _outcome_groups(outcomes, statuses).items():
                moved = await _record_group(connection, kind, rows, worker)
                if moved:
                    moves.move(bulk_id, "in_flight", after, moved)
                    changed.setdefault(bulk_id)
                if moved and kind != "release":
                    reported += [int(row["id"]) for row in rows]
                if moved and after == "skipped":
                    await _stamp_stop_reason(connection, bulk_id, bulks[bulk_id].stop_reason)
            latest = max(mapping.timestamp(outcome.at) for outcome in outcomes)
            subscriptions = self._database.callback_subscriptions
            await write_message_events(connection, subscriptions, reported, at=latest)
            return await settle_counters(session, moves, changed, subscriptions=subscriptions)

    async def finish_bulk(
        self, bulk_id: BulkId, now: datetime, *, worker: str | None = None
    ) -> Bulk:
        now = mapping.timestamp(now)
        async with self._database.writing() as session:
            row = await _locked_bulk(session, bulk_id)
            number = PhoneNumberRowId(row.phone_number_row_id)
            connection = await session.connection()
            counters = mapping.counters(row)
            # Pending again (an unknown recipient resent meanwhile): not over, its engine sends it.
            if (
                row.status in _RUNNING
                and not sends_remain(counters, stopped_reason=row.stop_reason)
                and not await _leased_to_another(connection, number, worker)
            ):
                target = final_status(counters, cancelled=False, stopped_reason=row.stop_reason)
                row.status = advance_bulk(mapping.bulk_status(row.status), target)
                row.completed_at = now
                await session.flush()
                finished = await _existing_bulk(session, bulk_id)
                await self._report(session, finished, now)
                return finished
            return await _existing_bulk(session, bulk_id)

    async def stop_bulk(
        self, bulk_id: BulkId, *, now: datetime, reason: str | None, cancelled: bool
    ) -> Bulk:
        now = mapping.timestamp(now)
        moves = CounterMoves()
        async with self._database.writing() as session:
            row = await _locked_bulk(session, bulk_id)
            if row.status not in _LIVE:
                raise IllegalTransition(f"bulk send '{bulk_id}' is already {row.status}")
            reason = reason if cancelled else (reason or "Stopped")
            closed: RecipientState = "cancelled" if cancelled else "skipped"
            connection = await session.connection()
            count = await materialise(connection, bulk_id, status=closed)
            count += await _move_recipients(connection, bulk_id, "pending", closed)
            if closed == "skipped":
                await _stamp_stop_reason(connection, bulk_id, reason)
            moves.move(bulk_id, "pending", closed, count)
            await moves.apply(connection)
            row = await _locked_bulk(session, bulk_id)
            counters = mapping.counters(row)
            target = final_status(counters, cancelled=cancelled, stopped_reason=reason)
            row.status = advance_bulk(mapping.bulk_status(row.status), target)
            row.completed_at = now
            row.stop_reason = reason
            await session.flush()
            stopped = await _existing_bulk(session, bulk_id)
            await self._report(session, stopped, now)
            return stopped

    async def pause_bulk(self, bulk_id: BulkId, *, reason: str | None = None) -> Bulk:
        async with self._database.writing() as session:
            row = await _locked_bulk(session, bulk_id)
            before = row.status
            if row.status != "PAUSED":
                row.pause_reason = reason
            row.status = advance_bulk(mapping.bulk_status(row.status), "PAUSED")
            await session.flush()
            paused = await _existing_bulk(session, bulk_id)
            if paused.status != before:
                await self._report(session, paused, None)
            return paused

    async def resume_bulk(self, bulk_id: BulkId) -> Bulk:
        async with self._database.writing() as session:
            row = await _locked_bulk(session, bulk_id)
            if row.status != "PAUSED":
                raise IllegalTransition(f"bulk send '{bulk_id}' is {row.status}, not PAUSED")
            row.status = resumed_status(started_at=row.started_at, send_at=row.send_at)
            row.pause_reason = None
            await session.flush()
            resumed = await _existing_bulk(session, bulk_id)
            await self._report(session, resumed, None)
            return resumed

    async def _report(self, session: AsyncSession, bulk: Bulk, at: datetime | None) -> None:
        """The bulk's new status, as a callback event in the same transaction."""
        connection = await session.connection()
        await write_bulk_events(connection, self._database.callback_subscriptions, [bulk], at=at)

    async def settle_in_flight(
        self,
        *,
        policy: CrashPolicy,
        now: datetime,
        number: PhoneNumberRowId | None = None,
        owner: str | None = None,
    ) -> int:
        mapping.timestamp(now)  # refuses a naive time, as every other method does
        moves = CounterMoves()
        settled = 0
        async with self._database.writing() as session:
            connection = await session.connection()
            if number is not None and await _leased_to_another(connection, number, owner):
                return 0  # a live owner's sends are its own to settle
            in_flight = (
                select(MessageRow.bulk_id)
                .where(sa.text(MAYBE_SENT_CONDITION), MessageRow.status == "in_flight")
                .distinct()
            )
            if number is not None:
                in_flight = in_flight.where(col(MessageRow.phone_number_row_id) == number)
            if owner is not None:
                in_flight = in_flight.where(col(MessageRow.claimed_by) != owner)
            bulks = await lock_bulks(session, (await session.exec(in_flight)).all())
            changed: dict[BulkId, None] = {}
            unknown: list[int] = []  # their outcome is now "failed, unknown": an event each
            for bulk_id, bulk in sorted(bulks.items()):
                # Claimed, their calls never started: they go again (never unknown).
                released = _released_state(bulk.status)
                count = await _release_unstarted(
                    connection, bulk_id, released, not_claimed_by=owner
                )
                moves.move(bulk_id, "in_flight", released, count)
                settled += count
                if count and released == "skipped":
                    await _stamp_stop_reason(connection, bulk_id, bulk.stop_reason)
                after = _settled_state(policy, bulk.status)
                if after == "unconfirmed":
                    ids = await _unconfirm_recipients(connection, bulk_id, not_claimed_by=owner)
                    unknown += ids
                    count = len(ids)
                else:
                    count = await _move_recipients(
                        connection, bulk_id, "in_flight", after, not_claimed_by=owner
                    )
                if after == "skipped":
                    await _stamp_stop_reason(connection, bulk_id, bulk.stop_reason)
                moves.move(bulk_id, "in_flight", after, count)
                settled += count
                changed.setdefault(bulk_id)
            subscriptions = self._database.callback_subscriptions
            await write_message_events(connection, subscriptions, unknown, at=now)
            await settle_counters(session, moves, changed, subscriptions=subscriptions)
        return settled

    async def numbers_in_flight(self) -> AbstractSet[PhoneNumberRowId]:
        query = (
            # ix_messages_organisation_id_claimed_at covers the rows maybe sent.
            select(MessageRow.phone_number_row_id)
            .where(
                sa.text(MAYBE_SENT_CONDITION),
                col(MessageRow.status) == "in_flight",
                col(MessageRow.bulk_id).is_not(None),
            )
            .distinct()
        )
        async with self._database.transaction() as session:
            return {PhoneNumberRowId(number) for number in (await session.exec(query)).all()}

    async def pending_recipients(self, bulk_id: BulkId) -> Sequence[PendingRecipient]:
        query = (
            select(MessageRow.position, MessageRow.recipient_phone, MessageRow.not_before)
            .where(col(MessageRow.bulk_id) == bulk_id, col(MessageRow.status) == "pending")
            .order_by(col(MessageRow.position))
        )
        await self._materialise_all(bulk_id)
        async with self._database.transaction() as session:
            if await session.get(BulkRow, bulk_id) is None:
                raise BulkNotFound(bulk_id)
            rows = (await session.exec(query)).all()
        return [
            PendingRecipient(
                position=int(position or 0),
                e164=phone,
                not_before=None if not_before is None else mapping.timestamp(not_before),
            )
            for position, phone, not_before in rows
        ]

    async def replan_waits(
        self,
        bulk_id: BulkId,
        waits: Mapping[int, datetime | None],
        *,
        estimated_time_minutes: float,
    ) -> Bulk:
        parameters = [
            {
                "bulk_id": bulk_id,
                "position": position,
                "not_before": None if wait is None else mapping.timestamp(wait),
            }
            for position, wait in sorted(waits.items())
        ]
        await self._materialise_all(bulk_id)
        async with self._database.writing() as session:
            row = await _locked_bulk(session, bulk_id)
            if row.status in _LIVE:
                connection = await session.connection()
                if parameters:
                    await connection.execute(_REPLAN_WAIT, parameters)
                row.estimated_time_minutes = estimated_time_minutes
                await session.flush()
            return await _existing_bulk(session, bulk_id)

    async def set_estimated_completion(self, bulk_id: BulkId, at: datetime) -> Bulk | None:
        async with self._database.writing() as session:
            connection = await session.connection()
            await connection.execute(
                _SET_COMPLETION,
                {"bulk_id": bulk_id, "at": mapping.timestamp(at)},
            )
            # Read back in the same transaction: one transaction per estimate, not two.
            return await _bulk(session, bulk_id)

    async def recipient_window(
        self, organisation_id: OrganisationId, since: datetime
    ) -> Mapping[str, datetime]:
        async with self._database.transaction() as session:
            return await read_recipient_window(await session.connection(), organisation_id, since)

    async def promised_recipients(self, organisation_id: OrganisationId) -> AbstractSet[str]:
        async with self._database.transaction() as session:
            return await read_promised_recipients(await session.connection(), organisation_id)


_REPLAN_WAIT = sa.text(
    "UPDATE messages SET not_before = :not_before "
    "WHERE bulk_id = :bulk_id AND position = :position AND status = 'pending'"
).bindparams(sa.bindparam("not_before", type_=UTCDateTime()))

# One small write every few seconds per sending bulk (``engine.estimating``), so plain SQL.
_SET_COMPLETION = sa.text(
    "UPDATE bulks SET estimated_completion_at = :at "
    "WHERE id = :bulk_id AND status IN ('QUEUED', 'PROCESSING')"
).bindparams(sa.bindparam("at", type_=UTCDateTime()))


# -- reading bulks -----------------------------------------------------------------------------


def _bulks_with_template() -> Any:
    return select(BulkRow, TemplateRow.name, TemplateRow.language).join(
        TemplateRow, col(TemplateRow.id) == col(BulkRow.template_id)
    )


def _to_bulk(row: BulkRow, template_name: str, language: str) -> Bulk:
    return mapping.bulk(row, template_name=template_name, language=language)


# A bulk by its id, the statement built once: the engine reads one every few seconds per
# sending bulk (its estimate, its progress), and building it anew cost as much as running it.
_BULK_BY_ID = _bulks_with_template().where(col(BulkRow.id) == sa.bindparam("bulk_id"))
_BULK_BY_ID_IN_ORGANISATION = _BULK_BY_ID.where(
    col(BulkRow.organisation_id) == sa.bindparam("organisation_id")
)


async def _bulk(
    session: AsyncSession, bulk_id: BulkId, organisation_id: OrganisationId | None = None
) -> Bulk | None:
    params: dict[str, object] = {"bulk_id": bulk_id}
    query = _BULK_BY_ID
    if organisation_id is not None:
        query, params["organisation_id"] = _BULK_BY_ID_IN_ORGANISATION, organisation_id
    found = (await session.exec(query, params=params, execution_options=FRESH)).first()
    return None if found is None else _to_bulk(*found)


async def _existing_bulk(session: AsyncSession, bulk_id: BulkId) -> Bulk:
    found = await _bulk(session, bulk_id)
    if found is None:
        raise BulkNotFound(bulk_id)
    return found


def _filter_conditions(filters: BulkFilter) -> list[Any]:
    conditions: list[Any] = []
    if filters.status is not None:
        conditions.append(BulkRow.status == filters.status)
    if filters.template_id is not None:
        conditions.append(BulkRow.template_id == filters.template_id)
    if filters.created_after is not None:
        conditions.append(col(BulkRow.created_at) >= _start_of(filters.created_after))
    if filters.created_before is not None:
        next_day = filters.created_before + timedelta(days=1)
        conditions.append(col(BulkRow.created_at) < _start_of(next_day))
    return conditions


def _start_of(day: date) -> datetime:
    return datetime.combine(day, time.min, tzinfo=UTC)


# -- writing -----------------------------------------------------------------------------------


async def lock_bulks(
    session: AsyncSession, bulk_ids: Iterable[str | None]
) -> dict[BulkId, BulkRow]:
    """The bulks' rows, locked in id order (PostgreSQL; SQLite's writer holds everything)."""
    ids = sorted({bulk_id for bulk_id in bulk_ids if bulk_id is not None})
    if not ids:
        return {}
    query: SelectOfScalar[BulkRow] = (
        select(BulkRow).where(col(BulkRow.id).in_(ids)).order_by(col(BulkRow.id)).with_for_update()
    )
    rows = (await session.exec(query, execution_options=FRESH)).all()
    return {BulkId(row.id): row for row in rows}


async def _locked_bulk(session: AsyncSession, bulk_id: BulkId) -> BulkRow:
    found = (await lock_bulks(session, [bulk_id])).get(bulk_id)
    if found is None:
        raise BulkNotFound(bulk_id)
    return found


async def settle_counters(
    session: AsyncSession,
    moves: CounterMoves,
    changed: Mapping[BulkId, None],
    *,
    subscriptions: CallbackSubscriptions,
) -> Sequence[Bulk]:
    """Applies the counter moves, then refreshes the status of the finished bulks among
    ``changed`` (webhook-like late outcomes); returns those bulks as they now are. A status
    that changed is a callback event (``subscriptions``)."""
    await moves.apply(await session.connection())
    if not changed:
        return []
    # One read of every changed bulk, its template's name included. The callers locked these
    # rows already, earlier in the same transaction.
    query = _bulks_with_template().where(col(BulkRow.id).in_(list(changed)))
    found = {
        BulkId(row.id): (row, name, language)
        for row, name, language in (await session.exec(query, execution_options=FRESH)).all()
    }
    refreshed_ids: list[BulkId] = []
    for bulk_id, (row, _, _) in found.items():
        refreshed = refresh_final_status(
            mapping.bulk_status(row.status), mapping.counters(row), stopped_reason=row.stop_reason
        )
        if refreshed != row.status:
            row.status = refreshed
            refreshed_ids.append(bulk_id)
    await session.flush()
    if refreshed_ids:
        connection = await session.connection()
        events = [_to_bulk(*found[bulk_id]) for bulk_id in refreshed_ids]
        await write_bulk_events(connection, subscriptions, events)
    return [_to_bulk(*found[bulk_id]) for bulk_id in changed if bulk_id in found]


def _settled_state(policy: CrashPolicy, status: str) -> RecipientState:
    if policy == "mark_unconfirmed":
        return "unconfirmed"
    return _released_state(status)


def _released_state(status: str) -> RecipientState:
    """Where a recipient goes back to: pending while its bulk runs or is paused; else as its
    siblings went."""
    if status in _LIVE:
        return "pending"
    return "cancelled" if status == "CANCELLED" else "skipped"


async def _move_recipients(
    connection: AsyncConnection,
    bulk_id: BulkId,
    before: RecipientState,
    after: RecipientState,
    *,
    not_claimed_by: str | None = None,
) -> int:
    """Every recipient of the bulk in ``before`` moves to ``after`` (but those claimed by
    ``not_claimed_by``); returns how many."""
    moving = _moving(bulk_id, before, after, not_claimed_by=not_claimed_by)
    return int((await connection.execute(moving)).rowcount)


async def _release_unstarted(
    connection: AsyncConnection,
    bulk_id: BulkId,
    after: RecipientState,
    *,
    not_claimed_by: str | None,
) -> int:
    """The bulk's recipients in flight whose call never started go to ``after`` (pending, or as
    their siblings went), their claim's attempt undone; returns how many."""
    moving = (
        _moving(bulk_id, "in_flight", after, not_claimed_by=not_claimed_by)
        .where(col(MessageRow.call_started_at).is_(None))
        .values(attempts=col(MessageRow.attempts) - 1, retry_at=None)
    )
    return int((await connection.execute(moving)).rowcount)


async def _unconfirm_recipients(
    connection: AsyncConnection, bulk_id: BulkId, *, not_claimed_by: str | None
) -> list[int]:
    """``_move_recipients`` from in flight to ``unconfirmed``, answering the ids moved: the
    status callbacks report each."""
    moving = _moving(bulk_id, "in_flight", "unconfirmed", not_claimed_by=not_claimed_by)
    rows = (await connection.execute(moving.returning(col(MessageRow.id)))).scalars().all()
    return [int(row_id) for row_id in rows if row_id is not None]


def _moving(
    bulk_id: BulkId,
    before: RecipientState,
    after: RecipientState,
    *,
    not_claimed_by: str | None,
) -> sa.Update:
    values: dict[str, Any] = {"status": after}
    if after == "unconfirmed":
        values["error_message"] = UNCONFIRMED_REASON
    if after == "pending":
        values["retry_at"] = None
    statement = (
        sa.update(MessageRow)
        .where(col(MessageRow.bulk_id) == bulk_id, col(MessageRow.status) == before)
        .values(values)
    )
    if not_claimed_by is not None:
        statement = statement.where(col(MessageRow.claimed_by) != not_claimed_by)
    return statement


async def _stamp_stop_reason(
    connection: AsyncConnection, bulk_id: BulkId, reason: str | None
) -> None:
    """The bulk's skipped recipients without a reason get its ``stop_reason``."""
    statement = (
        sa.update(MessageRow)
        .where(
            col(MessageRow.bulk_id) == bulk_id,
            col(MessageRow.status) == "skipped",
            col(MessageRow.error_message).is_(None),
        )
        .values(error_message=reason)
    )
    await connection.execute(statement)


# One UPDATE per outcome kind, run once per group of recipients (``executemany``): one round
# trip to the database (for SQLite, one hop to its thread) per group instead of one per
# recipient. Only a recipient still in flight moves; the group's row count says how many did.
_OUTCOME_SQL = """
UPDATE messages
SET status = :after, {assignments}
WHERE id = :id AND bulk_id = :bulk_id AND status = 'in_flight'
  -- A worker's outcome moves only what it claimed itself (None: any claim).
  AND claimed_by = coalesce(CAST(:worker AS VARCHAR), claimed_by)
"""
_REFUSE = sa.text(
    _OUTCOME_SQL.format(
        assignments="failed_at = :at, error_code = :error_code, error_message = :message"
    )
).bindparams(sa.bindparam("at", type_=UTCDateTime()))
_OUTCOME_UPDATES: Mapping[str, sa.TextClause] = {
    "accept": sa.text(
        _OUTCOME_SQL.format(assignments="wamid = :wamid, sent_at = :at, error_message = NULL")
    ).bindparams(sa.bindparam("at", type_=UTCDateTime())),
    "refuse": _REFUSE,
    # Not sent, the recipient on the suppression list: recorded as a refusal is.
    "opt_out": _REFUSE,
    # No answer: perhaps sent, never retried (its reason says so).
    "unconfirm": sa.text(_OUTCOME_SQL.format(assignments="error_message = :message")),
    "release": sa.text(_OUTCOME_SQL.format(assignments="retry_at = :retry_at")).bindparams(
        sa.bindparam("retry_at", type_=UTCDateTime())
    ),
    # Released without a call (``RecipientOutcome.unsent``): the claim's attempt is undone.
    "unsent": sa.text(
        _OUTCOME_SQL.format(assignments="retry_at = :retry_at, attempts = attempts - 1")
    ).bindparams(sa.bindparam("retry_at", type_=UTCDateTime())),
}

# The "accept" update of many recipients at once on PostgreSQL (``_record_accepted``). The
# rows are locked in the join's order, not by id: only this transaction's worker moves its
# in-flight rows, under the bulk row's lock, so no other writer waits for them in another order.
_ACCEPT_MANY = sa.text(
    """
    UPDATE messages AS m
    SET status = 'sent', wamid = v.wamid, sent_at = v.at, error_message = NULL
    FROM json_to_recordset(CAST(:rows AS JSON)) AS v(id BIGINT, wamid VARCHAR, at TIMESTAMPTZ)
    WHERE m.id = v.id AND m.bulk_id = :bulk_id AND m.status = 'in_flight'
      AND m.claimed_by = coalesce(CAST(:worker AS VARCHAR), m.claimed_by)
    """
)

# The lease of a number held by a worker other than the one asking (the database's clock).
_LEASED_TO_ANOTHER = sa.text(
    """
    SELECT 1 FROM number_leases
    WHERE phone_number_row_id = :number
      AND worker_id <> coalesce(CAST(:worker AS VARCHAR), '')
      AND expires_at > clock_timestamp()
    """
)


async def _leased_to_another(
    connection: AsyncConnection, number: PhoneNumberRowId, worker: str | None
) -> bool:
    """Whether another worker than ``worker`` holds the number's lease. Leases are kept on
    PostgreSQL only (SQLite runs one engine, which owns every number); no worker named: no
    guard."""
    if worker is None or connection.dialect.name != "postgresql":
        return False
    parameters = {"number": number, "worker": worker}
    return (await connection.execute(_LEASED_TO_ANOTHER, parameters)).first() is not None


_OutcomeGroups = dict[tuple[BulkId, RecipientState, str], list[dict[str, Any]]]


def _outcome_groups(
    outcomes: Sequence[RecipientOutcome], bulk_statuses: Mapping[BulkId, str]
) -> _OutcomeGroups:
    """The outcomes' parameters by (bulk, state after, kind), each group in message id order.

    A recipient named twice keeps its first outcome: the first one moves it out of in flight
    (or finds it not in flight), so a later one would change nothing anyway. Outcomes of bulks
    that are gone are dropped.
    """
    groups: _OutcomeGroups = {}
    seen: set[int] = set()
    for outcome in outcomes:
        status = bulk_statuses.get(outcome.bulk_id)
        if status is None or outcome.message_id in seen:
            continue
        seen.add(outcome.message_id)
        after, parameters = _outcome_parameters(outcome, status)
        kind = "unsent" if outcome.kind == "release" and outcome.unsent else outcome.kind
        groups.setdefault((outcome.bulk_id, after, kind), []).append(parameters)
    for rows in groups.values():
        rows.sort(key=lambda row: int(row["id"]))
    return groups


async def _record_group(
    connection: AsyncConnection, kind: str, rows: list[dict[str, Any]], worker: str | None
) -> int:
    """How many of the group's recipients were in flight (and so moved)."""
    if kind == "accept" and len(rows) > 1 and connection.dialect.name == "postgresql":
        return await _record_accepted(connection, rows, worker)
    statement = _OUTCOME_UPDATES[kind]
    claimed = [{**row, "worker": worker} for row in rows]
    if len(claimed) > 1 and connection.dialect.supports_sane_multi_rowcount:
        return int((await connection.execute(statement, claimed)).rowcount)
    # A driver whose executemany cannot count (asyncpg): one statement per recipient.
    moved = 0
    for row in claimed:
        moved += int((await connection.execute(statement, row)).rowcount)
    return moved


async def _record_accepted(
    connection: AsyncConnection, rows: list[dict[str, Any]], worker: str | None
) -> int:
    """A group of accepted recipients on PostgreSQL: one statement over one JSON document, not
    one execution per recipient (a bulk worker's most frequent write). JSON rather than arrays:
    the driver dumps an array element by element in Python, several times slower."""
    accepted = [
        {"id": row["id"], "wamid": row["wamid"], "at": row["at"].isoformat()} for row in rows
    ]
    parameters = {"bulk_id": rows[0]["bulk_id"], "worker": worker, "rows": json.dumps(accepted)}
    return int((await connection.execute(_ACCEPT_MANY, parameters)).rowcount)


def _outcome_parameters(
    outcome: RecipientOutcome, bulk_status: str
) -> tuple[RecipientState, dict[str, Any]]:
    at = mapping.timestamp(outcome.at)
    key = {"id": outcome.message_id, "bulk_id": outcome.bulk_id}
    if outcome.kind == "accept":
        return "sent", {**key, "after": "sent", "wamid": outcome.wamid, "at": at}
    if outcome.kind == "unconfirm":
        return "unconfirmed", {**key, "after": "unconfirmed", "message": outcome.error_message}
    if outcome.kind in ("refuse", "opt_out"):
        after: RecipientState = "failed" if outcome.kind == "refuse" else "opted_out"
        return after, {
            **key,
            "after": after,
            "at": at,
            "error_code": outcome.error_code,
            "message": outcome.error_message,
        }
    after = _released_state(bulk_status)
    retry_at = None if outcome.retry_at is None else mapping.timestamp(outcome.retry_at)
    return after, {**key, "after": after, "retry_at": retry_at if after == "pending" else None}
