"""``InMemoryDeliveryStore``: the ``DeliveryStore`` port over the memory store's dicts.

The same semantics as ``SqlDeliveryStore`` (the contract tests hold both to them): a status
finds its message by wamid (a single send, or a bulk recipient Meta accepted), or the bulk
recipient its callback data names while that one is in flight or unconfirmed with no wamid;
``delivery.apply_status`` decides the move; bulk counters follow and finished bulks refresh
their final status; what finds nothing is parked.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from typing import Protocol, cast

from mindo_core.adapters.memory.bulk_store import InMemoryBulkStore, _Entry, _Row
from mindo_core.bulks.model import BulkId, BulkRecipient, message_status, refresh_final_status
from mindo_core.delivery.status_rules import (
    PARKED_STATUS_TTL,
    DeliveryFields,
    DeliveryReport,
    apply_status,
    settles_as_attempted,
)
from mindo_core.delivery.webhook_payloads import StatusUpdate
from mindo_core.domain.accounts import PhoneNumber, PhoneNumberRowId
from mindo_core.domain.messages import MessageId, MessageRecord
from mindo_core.engine.bulk_messages import parse_callback_data

__all__ = ["InMemoryDeliveryStore"]


class _MessageTables(Protocol):
    @property
    def messages(self) -> dict[MessageId, MessageRecord]: ...
    @property
    def message_by_wamid(self) -> dict[str, MessageId]: ...
    @property
    def numbers(self) -> dict[PhoneNumberRowId, PhoneNumber]: ...


class _MessageHost(Protocol):
    """What the mixin reads of ``InMemoryStore``."""

    @property
    def _tables(self) -> _MessageTables: ...


@dataclass
class _Parked:
    statuses: list[tuple[StatusUpdate, datetime]] = field(default_factory=list)


class InMemoryDeliveryStore(InMemoryBulkStore):
    """Mixed into ``InMemoryStore``, whose messages and bulk recipients it moves."""

    _parked_: _Parked

    @property
    def _messages(self) -> _MessageTables:
        return cast(_MessageHost, self)._tables

    @property
    def _parked(self) -> _Parked:
        parked: _Parked | None = self.__dict__.get("_parked_")
        if parked is None:
            parked = self._parked_ = _Parked()
        return parked

    async def apply_statuses(
        self, updates: Sequence[StatusUpdate], *, received_at: datetime
    ) -> DeliveryReport:
        received_at = _aware(received_at)
        report, unmatched = self._apply(updates)
        numbers = {n.phone_number_id for n in self._messages.numbers.values()}
        ours = [u for u in unmatched if u.phone_number_id in numbers]
        self._parked.statuses.extend((update, received_at) for update in ours)
        ignored = len(unmatched) - len(ours)
        return report + DeliveryReport(parked=len(ours), unchanged=ignored)

    async def apply_parked(self, *, now: datetime) -> DeliveryReport:
        expiry = _aware(now) - PARKED_STATUS_TTL
        kept = [(u, at) for u, at in self._parked.statuses if at >= expiry]
        expired = len(self._parked.statuses) - len(kept)
        ready = [(u, at) for u, at in kept if self._knows(u.wamid)]
        self._parked.statuses = [(u, at) for u, at in kept if not self._knows(u.wamid)]
        report, _ = self._apply([update for update, _ in ready])
        return report + DeliveryReport(unchanged=expired)

    async def parked_count(self) -> int:
        return len(self._parked.statuses)

    # -- one batch -------------------------------------------------------------------------------

    def _apply(self, updates: Sequence[StatusUpdate]) -> tuple[DeliveryReport, list[StatusUpdate]]:
        unmatched: list[StatusUpdate] = []
        changed: dict[BulkId, _Entry] = {}
        applied = unchanged = 0
        for update in updates:
            outcome = self._apply_one(update, changed)
            if outcome is None:
                unmatched.append(update)
            elif outcome:
                applied += 1
            else:
                unchanged += 1
        for entry in changed.values():
            bulk = entry.bulk
            status = refresh_final_status(
                bulk.status, bulk.counters, stopped_reason=bulk.stop_reason
            )
            entry.bulk = replace(bulk, status=status)
        report = DeliveryReport(
            applied=applied,
            unchanged=unchanged,
            bulks=tuple(entry.bulk for entry in changed.values()),
        )
        return report, unmatched

    def _apply_one(self, update: StatusUpdate, changed: dict[BulkId, _Entry]) -> bool | None:
        """True: the status moved its message; False: a no-op; None: no message found."""
        single = self._messages.message_by_wamid.get(update.wamid)
        if single is not None:
            return self._apply_to_single(single, update)
        located = self._bulk_row(update)
        if located is None:
            return None
        entry, row = located
        before = row.recipient
        current = _fields_of(before)
        fields = apply_status(current, update)
        if fields is current:
            return False
        row.recipient = _with_fields(before, fields)
        entry.bulk = replace(
            entry.bulk, counters=entry.bulk.counters.moved(before.state, fields.state)
        )
        if fields.wamid is not None:
            self._bulk_tables.by_wamid[fields.wamid] = row.message_id
        changed[entry.bulk.id] = entry
        return True

    def _apply_to_single(self, message_id: MessageId, update: StatusUpdate) -> bool:
        message = self._messages.messages[message_id]
        before = DeliveryFields(
            state=message.status,
            wamid=message.wamid,
            sent_at=message.sent_at,
            delivered_at=message.delivered_at,
            read_at=message.read_at,
            failed_at=message.failed_at,
            error_code=message.error_code,
            error_message=message.error_message,
        )
        after = apply_status(before, update)
        status = message_status(after.state)
        if after is before or status is None:
            return False
        self._messages.messages[message_id] = replace(
            message,
            status=status,
            sent_at=after.sent_at,
            delivered_at=after.delivered_at,
            read_at=after.read_at,
            failed_at=after.failed_at,
            error_code=after.error_code,
            error_message=after.error_message,
        )
        return True

    def _bulk_row(self, update: StatusUpdate) -> tuple[_Entry, _Row] | None:
        message_id = self._bulk_tables.by_wamid.get(update.wamid)
        if message_id is None:
            message_id = self._named_by_callback(update)
        if message_id is None:
            return None
        bulk_id, position = self._bulk_tables.recipients[message_id]
        entry = self._bulk_tables.bulks[bulk_id]
        return entry, entry.rows[position]

    def _named_by_callback(self, update: StatusUpdate) -> MessageId | None:
        parsed = None if update.callback_data is None else parse_callback_data(update.callback_data)
        if parsed is None:
            return None
        bulk_id, message_id = parsed
        located = self._bulk_tables.recipients.get(message_id)
        if located is None or located[0] != bulk_id:
            return None
        recipient = self._bulk_tables.bulks[bulk_id].rows[located[1]].recipient
        attempted = recipient.state == "pending" and recipient.attempts > 0
        if recipient.wamid is not None:
            return None
        if recipient.state not in ("in_flight", "unconfirmed") and not attempted:
            return None
        return message_id

    def _knows(self, wamid: str) -> bool:
        return wamid in self._messages.message_by_wamid or wamid in self._bulk_tables.by_wamid


def _fields_of(recipient: BulkRecipient) -> DeliveryFields:
    fields = DeliveryFields.of(recipient)
    return replace(fields, state=settles_as_attempted(fields.state))


def _with_fields(recipient: BulkRecipient, fields: DeliveryFields) -> BulkRecipient:
    return replace(recipient, **fields.as_changes())  # type: ignore[arg-type]


def _aware(value: datetime) -> datetime:
    if value.tzinfo is None or value.utcoffset() is None:
        raise ValueError(f"naive datetime {value.isoformat()}: timestamps must be timezone-aware")
    return value.astimezone(UTC)
