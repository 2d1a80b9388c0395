"""``InMemoryBulks``: the ``BulkStore`` port over the shared ``Tables``.

It holds itself to the port's semantics, as ``SqlBulks`` does (the shared contract tests run
against both). Rules worth knowing, beyond the port's docstrings:

* A bulk's recipients get message ids from the tables' one id counter.
* ``claim_recipients`` returns due recipients in position order. Recipients that are due at
  once sit in a heap of positions; those waiting (``not_before``, a retry time) sit in a heap of
  due times and move over when a claim finds them due, so a claim costs O(k log n).
* ``record_outcomes`` only moves recipients that are ``in_flight``: an outcome for a recipient
  settled meanwhile (after a crash) or repeated is ignored, as the SQL store guards its updates
  by state. A "release" for a bulk that is no longer running (cancelled or stopped while the
  recipient was claimed but not sent) makes it ``cancelled`` or ``skipped`` at once instead of
  pending, so a finished bulk never keeps pending recipients.
* ``stop_bulk`` gives the bulk its final status at once (CANCELLED, or what ``final_status``
  says with the recipients still in flight counted as failures); outcomes recorded later for
  those in flight refresh it (``refresh_final_status``). Stopping a bulk that is already over
  raises ``IllegalTransition``. ``finish_bulk`` on a bulk that is already over returns it as is.
* A skipped recipient carries the bulk's ``stop_reason`` as its ``error_message``.
* The quota window counts single messages Meta accepted (at ``sent_at``) and bulk recipients
  that were sent or may have been (in flight, unconfirmed: at their claim time).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from collections.abc import Set as AbstractSet
from dataclasses import replace
from datetime import UTC, date, datetime

from mindo_core.adapters.memory.tables import (
    BulkEntry,
    RecipientRow,
    Tables,
    aware,
    aware_or_none,
)
from mindo_core.bulks.model import (
    Bulk,
    BulkCounters,
    BulkId,
    BulkRecipient,
    BulkStatus,
    CrashPolicy,
    IllegalTransition,
    RecipientEvent,
    RecipientState,
    RecipientStatus,
    advance_bulk,
    final_status,
    message_status,
    planned_completion_at,
    recipient_status,
    record_event,
    refresh_final_status,
    resumed_status,
    sends_remain,
)
from mindo_core.bulks.timeline import RecipientTimes
from mindo_core.domain.accounts import OrganisationId, PhoneNumberRowId
from mindo_core.domain.errors import BulkNotFound, Conflict, TemplateNotFound
from mindo_core.domain.messages import MessageId, MessageRecord
from mindo_core.ports.bulks import (
    BulkFilter,
    ClaimedRecipient,
    NewBulk,
    NewBulkRecipient,
    NewRecipientChunk,
    Page,
    PendingRecipient,
    RecipientOutcome,
)

__all__ = ["InMemoryBulks", "bulk_message_by_wamid"]

_RUNNING: frozenset[BulkStatus] = frozenset({"QUEUED", "PROCESSING"})
# Not over: running, or paused (its recipients wait, pending).
_LIVE: frozenset[BulkStatus] = _RUNNING | {"PAUSED", "SCHEDULED"}
_MAYBE_SENT: frozenset[RecipientState] = frozenset({"in_flight", "unconfirmed"})


def bulk_message_by_wamid(tables: Tables, wamid: str) -> MessageRecord | None:
    """A bulk recipient Meta accepted, as the message it is."""
    message_id = tables.bulk_by_wamid.get(wamid)
    if message_id is None:
        return None
    bulk_id, position = tables.recipients[message_id]
    entry = tables.bulks[bulk_id]
    return _message(entry.bulk, message_id, entry.rows[position].recipient)


class InMemoryBulks:
    def __init__(self, tables: Tables) -> None:
        self._tables = tables

    def _entry(self, bulk_id: BulkId) -> BulkEntry:
        entry = self._tables.bulks.get(bulk_id)
        if entry is None:
            raise BulkNotFound(bulk_id)
        return entry

    # -- creating and reading ------------------------------------------------------------------

    async def create_bulk(self, bulk: NewBulk, recipients: Iterable[NewRecipientChunk]) -> Bulk:
        tables = self._tables
        if bulk.id in tables.bulks:
            raise Conflict(f"Bulk send '{bulk.id}' exists")
        template = self._tables.templates.get(bulk.template_id)
        if template is None:
            raise TemplateNotFound(str(bulk.template_id), "?")
        read: list[BulkRecipient] = []
        for chunk in recipients:
            chunk.check(expected_position=len(read))
            read.extend(_recipient(bulk.id, new) for new in chunk.recipients())
        created = Bulk(
            id=bulk.id,
            task_id=bulk.task_id,
            organisation_id=bulk.organisation_id,
            phone_number_row_id=bulk.phone_number_row_id,
            template_id=bulk.template_id,
            template_name=template.name,
            language=template.language,
            status="QUEUED" if bulk.send_at is None else "SCHEDULED",
            counters=BulkCounters(total=len(read), pending=len(read)),
            total_recipients=bulk.total_recipients,
            estimated_time_minutes=bulk.estimated_time_minutes,
            original_estimated_time_minutes=bulk.estimated_time_minutes,
            estimated_completion_at=aware(
                planned_completion_at(bulk.send_at or bulk.created_at, bulk.estimated_time_minutes)
            ),
            created_at=aware(bulk.created_at),
            created_by=bulk.created_by,
            pacing=bulk.pacing,
            send_at=aware_or_none(bulk.send_at),
            parent_bulk_id=bulk.parent_bulk_id,
            send_window=bulk.send_window,
        )
        entry = BulkEntry(bulk=created, rows=[])
        # Ids are taken only now that every recipient was read: a refused list takes none.
        for position, recipient in enumerate(read):
            row = RecipientRow(message_id=MessageId(self._tables.next_id()), recipient=recipient)
            entry.rows.append(row)
            entry.queue(row)
            tables.recipients[row.message_id] = (bulk.id, position)
        tables.bulks[bulk.id] = entry
        return created

    async def get_bulk(
        self, bulk_id: BulkId, organisation_id: OrganisationId | None = None
    ) -> Bulk | None:
        entry = self._tables.bulks.get(bulk_id)
        if entry is None:
            return None
        if organisation_id is not None and entry.bulk.organisation_id != organisation_id:
            return None
        return entry.bulk

    async def list_bulks(
        self, organisation_id: OrganisationId, filters: BulkFilter, *, offset: int, limit: int
    ) -> Page[Bulk]:
        entries = self._tables.bulks.values()
        mine = [e.bulk for e in entries if e.bulk.organisation_id == organisation_id]
        matching = [b for b in mine if _matches(b, filters)]
        # Newest first; the id breaks ties, as in SQL.
        matching.sort(key=lambda b: (b.created_at, b.id), reverse=True)
        return Page(count=len(matching), items=matching[offset : offset + limit])

    async def list_bulk_recipients(
        self,
        organisation_id: OrganisationId,
        bulk_id: BulkId,
        *,
        status: RecipientStatus | None,
        offset: int,
        limit: int,
    ) -> Page[BulkRecipient]:
        entry = self._tables.bulks.get(bulk_id)
        if entry is None or entry.bulk.organisation_id != organisation_id:
            return Page(count=0, items=())
        recipients = [replace(row.recipient, message_id=row.message_id) for row in entry.rows]
        if status is not None:
            recipients = [r for r in recipients if recipient_status(r.state) == status]
        return Page(count=len(recipients), items=recipients[offset : offset + limit])

    async def recipient_times(
        self, organisation_id: OrganisationId, bulk_id: BulkId
    ) -> RecipientTimes:
        entry = self._tables.bulks.get(bulk_id)
        if entry is None or entry.bulk.organisation_id != organisation_id:
            return RecipientTimes()
        recipients = [row.recipient for row in entry.rows]
        return RecipientTimes(
            sent=tuple(r.sent_at for r in recipients if r.sent_at is not None),
            delivered=tuple(r.delivered_at for r in recipients if r.delivered_at is not None),
            read=tuple(r.read_at for r in recipients if r.read_at is not None),
            failed=tuple(r.failed_at for r in recipients if r.failed_at is not None),
        )

    async def bulks_to_run(self, number: PhoneNumberRowId | None = None) -> Sequence[Bulk]:
        running = [
            e.bulk
            for e in self._tables.bulks.values()
            if e.bulk.status in _RUNNING
            and (number is None or e.bulk.phone_number_row_id == number)
        ]
        return sorted(running, key=lambda b: b.created_at)

    async def start_scheduled(self, now: datetime) -> datetime | None:
        now = aware(now)
        later: list[datetime] = []
        for entry in self._tables.bulks.values():
            bulk = entry.bulk
            if bulk.status != "SCHEDULED" or bulk.send_at is None:
                continue
            if bulk.send_at <= now:
                entry.bulk = replace(bulk, status="QUEUED")
            else:
                later.append(bulk.send_at)
        return min(later, default=None)

    # -- the engine ----------------------------------------------------------------------------

    async def claim_recipients(
        self, bulk_id: BulkId, *, worker: str, limit: int, now: datetime
    ) -> Sequence[ClaimedRecipient]:
        entry = self._tables.bulks.get(bulk_id)
        if entry is None or entry.bulk.status not in _RUNNING:
            return ()
        now = aware(now)
        entry.promote(now)
        claimed: list[ClaimedRecipient] = []
        while len(claimed) < limit and (row := entry.pop_due(now)) is not None:
            row.recipient = record_event(row.recipient, "claim", at=now)
            row.claimed_at, row.worker, row.call_started = now, worker, False
            row.call_started_at = None
            claimed.append(_claimed(row))
        if claimed and entry.bulk.status == "QUEUED":
            entry.bulk = replace(entry.bulk, status="PROCESSING", started_at=now)
        return claimed

    async def mark_calls_started(
        self, message_ids: Sequence[MessageId], *, worker: str, at: datetime
    ) -> AbstractSet[MessageId]:
        aware(at)
        marked: set[MessageId] = set()
        for message_id in message_ids:
            located = self._tables.recipients.get(message_id)
            if located is None:
                continue
            row = self._tables.bulks[located[0]].rows[located[1]]
            if row.recipient.state == "in_flight" and row.worker == worker:
                row.call_started, row.call_started_at = True, aware(at)
                marked.add(message_id)
        return marked

    async def record_outcomes(
        self, outcomes: Sequence[RecipientOutcome], *, worker: str | None = None
    ) -> Sequence[Bulk]:
        changed: dict[BulkId, BulkEntry] = {}
        for outcome in outcomes:
            located = self._tables.recipients.get(outcome.message_id)
            if located is None:
                continue
            entry = self._tables.bulks[located[0]]
            row = entry.rows[located[1]]
            if row.recipient.state != "in_flight":
                continue  # settled meanwhile, or a repeat: the first word stands
            if worker is not None and row.worker != worker:
                continue  # claimed again by another worker since
            _apply(entry, row, outcome)
            if row.recipient.wamid is not None:
                self._tables.bulk_by_wamid[row.recipient.wamid] = row.message_id
            changed[entry.bulk.id] = entry
        for entry in changed.values():
            _refresh(entry)
        return [entry.bulk for entry in changed.values()]

    async def next_due_at(self, bulk_id: BulkId) -> datetime | None:
        entry = self._entry(bulk_id)
        pending = [row for row in entry.rows if row.recipient.state == "pending"]
        if not pending:
            return None
        return min(row.due_at or entry.bulk.created_at for row in pending)

    async def finish_bulk(
        self, bulk_id: BulkId, now: datetime, *, worker: str | None = None
    ) -> Bulk:
        # No leases here: one engine owns every number (``SoleOwnership``).
        entry = self._entry(bulk_id)
        bulk = entry.bulk
        if bulk.status not in _RUNNING or sends_remain(
            bulk.counters, stopped_reason=bulk.stop_reason
        ):
            return bulk
        target = final_status(bulk.counters, cancelled=False, stopped_reason=bulk.stop_reason)
        entry.bulk = replace(
            bulk, status=advance_bulk(bulk.status, target), completed_at=aware(now)
        )
        return entry.bulk

    async def stop_bulk(
        self, bulk_id: BulkId, *, now: datetime, reason: str | None, cancelled: bool
    ) -> Bulk:
        entry = self._entry(bulk_id)
        bulk = entry.bulk
        if bulk.status not in _LIVE:
            raise IllegalTransition(f"bulk send '{bulk_id}' is already {bulk.status}")
        now = aware(now)
        event: RecipientEvent = "cancel" if cancelled else "skip"
        reason = reason if cancelled else (reason or "Stopped")
        for row in entry.rows:
            if row.recipient.state == "pending":
                _move(entry, row, event, at=now, error_message=reason)
        counters = entry.bulk.counters
        target = final_status(counters, cancelled=cancelled, stopped_reason=reason)
        entry.bulk = replace(
            entry.bulk,
            status=advance_bulk(bulk.status, target),
            completed_at=now,
            stop_reason=reason,
        )
        return entry.bulk

    async def pause_bulk(self, bulk_id: BulkId, *, reason: str | None = None) -> Bulk:
        entry = self._entry(bulk_id)
        bulk = entry.bulk
        kept = bulk.pause_reason if bulk.status == "PAUSED" else reason
        entry.bulk = replace(bulk, status=advance_bulk(bulk.status, "PAUSED"), pause_reason=kept)
        return entry.bulk

    async def resume_bulk(self, bulk_id: BulkId) -> Bulk:
        entry = self._entry(bulk_id)
        bulk = entry.bulk
        if bulk.status != "PAUSED":
            raise IllegalTransition(f"bulk send '{bulk_id}' is {bulk.status}, not PAUSED")
        status = resumed_status(started_at=bulk.started_at, send_at=bulk.send_at)
        entry.bulk = replace(bulk, status=status, pause_reason=None)
        return entry.bulk

    async def settle_in_flight(
        self,
        *,
        policy: CrashPolicy,
        now: datetime,
        number: PhoneNumberRowId | None = None,
        owner: str | None = None,
    ) -> int:
        # No leases here: one engine owns every number (``SoleOwnership``).
        now = aware(now)
        settled = 0
        for entry in self._tables.bulks.values():
            if number is not None and entry.bulk.phone_number_row_id != number:
                continue
            touched = False
            for row in entry.rows:
                if row.recipient.state != "in_flight":
                    continue
                if owner is not None and row.worker == owner:
                    continue
                if not row.call_started:  # claimed, never sent: it goes again
                    _release(entry, row, retry_at=None, at=now)
                    row.recipient = replace(row.recipient, attempts=row.recipient.attempts - 1)
                elif policy == "mark_unconfirmed":
                    _move(entry, row, "settle_unconfirmed", at=now)
                else:
                    _release(entry, row, retry_at=None, at=now)
                settled += 1
                touched = True
            if touched:
                _refresh(entry)
        return settled

    async def numbers_in_flight(self) -> AbstractSet[PhoneNumberRowId]:
        return {
            entry.bulk.phone_number_row_id
            for entry in self._tables.bulks.values()
            if any(row.recipient.state == "in_flight" for row in entry.rows)
        }

    async def pending_recipients(self, bulk_id: BulkId) -> Sequence[PendingRecipient]:
        entry = self._entry(bulk_id)
        return [
            PendingRecipient(
                position=row.recipient.position,
                e164=row.recipient.e164,
                not_before=row.recipient.not_before,
            )
            for row in entry.rows
            if row.recipient.state == "pending"
        ]

    async def replan_waits(
        self,
        bulk_id: BulkId,
        waits: Mapping[int, datetime | None],
        *,
        estimated_time_minutes: float,
    ) -> Bulk:
        entry = self._entry(bulk_id)
        if entry.bulk.status not in _LIVE:
            return entry.bulk
        for position, wait in waits.items():
            if not 0 <= position < len(entry.rows):
                continue
            row = entry.rows[position]
            not_before = None if wait is None else aware(wait)
            if row.recipient.state != "pending" or row.recipient.not_before == not_before:
                continue
            row.recipient = replace(row.recipient, not_before=not_before)
            entry.queue(row)  # the old heap entry no longer matches its due time: skipped
        entry.bulk = replace(entry.bulk, estimated_time_minutes=estimated_time_minutes)
        return entry.bulk

    async def set_estimated_completion(self, bulk_id: BulkId, at: datetime) -> Bulk | None:
        entry = self._tables.bulks.get(bulk_id)
        if entry is None:
            return None
        if entry.bulk.status in _RUNNING:
            entry.bulk = replace(entry.bulk, estimated_completion_at=aware(at))
        return entry.bulk

    async def recipient_window(
        self, organisation_id: OrganisationId, since: datetime
    ) -> Mapping[str, datetime]:
        since = aware(since)
        window: dict[str, datetime] = {}

        def note(e164: str, at: datetime | None) -> None:
            if at is not None and at > since:
                wa_id = e164.removeprefix("+")
                window[wa_id] = min(at, window.get(wa_id, at))

        for message in self._tables.messages.values():
            if message.organisation_id == organisation_id and message.wamid is not None:
                note(message.recipient_phone, message.sent_at or message.created_at)
        for entry in self._tables.bulks.values():
            if entry.bulk.organisation_id != organisation_id:
                continue
            for row in entry.rows:
                recipient = row.recipient
                maybe_sent = recipient.state in _MAYBE_SENT
                note(recipient.e164, recipient.sent_at or (row.claimed_at if maybe_sent else None))
        return window

    async def promised_recipients(self, organisation_id: OrganisationId) -> AbstractSet[str]:
        return {
            row.recipient.e164.removeprefix("+")
            for entry in self._tables.bulks.values()
            if entry.bulk.organisation_id == organisation_id and entry.bulk.status in _RUNNING
            for row in entry.rows
            if row.recipient.state == "pending"
        }


# -- helpers -----------------------------------------------------------------------------------


def _recipient(bulk_id: BulkId, new: NewBulkRecipient) -> BulkRecipient:
    return BulkRecipient(
        bulk_id=bulk_id,
        position=new.position,
        e164=new.e164,
        variables_used=dict(new.variables_used),
        not_before=None if new.not_before is None else aware(new.not_before),
    )


def _message(bulk: Bulk, message_id: MessageId, recipient: BulkRecipient) -> MessageRecord | None:
    status = message_status(recipient.state)
    if status is None:
        return None
    return MessageRecord(
        id=message_id,
        organisation_id=bulk.organisation_id,
        phone_number_row_id=bulk.phone_number_row_id,
        template_id=bulk.template_id,
        recipient_phone=recipient.e164,
        variables_used=recipient.variables_used,
        wamid=recipient.wamid,
        status=status,
        created_at=bulk.created_at,
        sent_at=recipient.sent_at,
        delivered_at=recipient.delivered_at,
        read_at=recipient.read_at,
        failed_at=recipient.failed_at,
        error_code=recipient.error_code,
        error_message=recipient.error_message,
    )


def _claimed(row: RecipientRow) -> ClaimedRecipient:
    recipient = row.recipient
    return ClaimedRecipient(
        message_id=row.message_id,
        bulk_id=recipient.bulk_id,
        position=recipient.position,
        e164=recipient.e164,
        variables_used=recipient.variables_used,
        attempts=recipient.attempts,
    )


def _apply(entry: BulkEntry, row: RecipientRow, outcome: RecipientOutcome) -> None:
    at = aware(outcome.at)
    if outcome.kind == "accept":
        _move(entry, row, "accept", at=at, wamid=outcome.wamid)
    elif outcome.kind == "unconfirm":
        _move(entry, row, "settle_unconfirmed", at=at, error_message=outcome.error_message)
    elif outcome.kind in ("refuse", "opt_out"):
        _move(
            entry,
            row,
            outcome.kind,
            at=at,
            error_code=outcome.error_code,
            error_message=outcome.error_message,
        )
    else:
        retry_at = None if outcome.retry_at is None else aware(outcome.retry_at)
        _release(entry, row, retry_at=retry_at, at=at)
        if outcome.unsent:  # never called: the claim's attempt is undone
            row.recipient = replace(row.recipient, attempts=row.recipient.attempts - 1)


def _release(
    entry: BulkEntry, row: RecipientRow, *, retry_at: datetime | None, at: datetime
) -> None:
    _move(entry, row, "release", at=at)
    status = entry.bulk.status
    if status in _LIVE:
        row.retry_at = retry_at
        entry.queue(row)
    else:
        # Claimed but never sent when the bulk was cancelled or stopped: it goes as the others.
        event: RecipientEvent = "cancel" if status == "CANCELLED" else "skip"
        _move(entry, row, event, at=at, error_message=entry.bulk.stop_reason)


def _move(
    entry: BulkEntry,
    row: RecipientRow,
    event: RecipientEvent,
    *,
    at: datetime,
    wamid: str | None = None,
    error_code: int | None = None,
    error_message: str | None = None,
) -> None:
    before = row.recipient.state
    row.recipient = record_event(
        row.recipient,
        event,
        at=at,
        wamid=wamid,
        error_code=error_code,
        error_message=error_message,
    )
    entry.bulk = replace(
        entry.bulk, counters=entry.bulk.counters.moved(before, row.recipient.state)
    )


def _refresh(entry: BulkEntry) -> None:
    bulk = entry.bulk
    status = refresh_final_status(bulk.status, bulk.counters, stopped_reason=bulk.stop_reason)
    if status != bulk.status:
        entry.bulk = replace(bulk, status=status)


def _matches(bulk: Bulk, filters: BulkFilter) -> bool:
    day = bulk.created_at.astimezone(UTC).date()
    return (
        (filters.status is None or bulk.status == filters.status)
        and (filters.template_id is None or bulk.template_id == filters.template_id)
        and _on_or_after(day, filters.created_after)
        and _on_or_before(day, filters.created_before)
    )


def _on_or_after(day: date, bound: date | None) -> bool:
    return bound is None or day >= bound


def _on_or_before(day: date, bound: date | None) -> bool:
    return bound is None or day <= bound
