"""``InMemoryDelivery``: the ``DeliveryStore`` port over the shared ``Tables``.

The same semantics as ``SqlDelivery`` (the contract tests hold both to them): a status
finds its message by wamid (a single send, or a bulk recipient Meta accepted), or the bulk
recipient its callback data names while that one is in flight or unconfirmed with no wamid;
``delivery.apply_status`` decides the move; bulk counters follow and finished bulks refresh
their final status; what finds nothing is parked.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import replace
from datetime import datetime

from mindo_core.adapters.memory.tables import BulkEntry, RecipientRow, Tables, aware
from mindo_core.bulks.model import BulkId, BulkRecipient, message_status, refresh_final_status
from mindo_core.delivery.status_rules import (
    PARKED_STATUS_TTL,
    DeliveryFields,
    DeliveryReport,
    apply_status,
    settles_as_attempted,
)
from mindo_core.delivery.webhook_payloads import StatusUpdate
from mindo_core.domain.messages import MessageId
from mindo_core.engine.bulk_messages import parse_callback_data

__all__ = ["InMemoryDelivery"]


class InMemoryDelivery:
    def __init__(self, tables: Tables) -> None:
        self._tables = tables

    async def apply_statuses(
        self, updates: Sequence[StatusUpdate], *, received_at: datetime
    ) -> DeliveryReport:
        received_at = aware(received_at)
        report, unmatched = self._apply(updates, received_at)
        numbers = {n.phone_number_id for n in self._tables.numbers.values()}
        ours = [u for u in unmatched if u.phone_number_id in numbers]
        self._tables.parked.extend((update, received_at) for update in ours)
        ignored = len(unmatched) - len(ours)
        return report + DeliveryReport(parked=len(ours), unchanged=ignored)

    async def apply_parked(self, *, now: datetime) -> DeliveryReport:
        expiry = aware(now) - PARKED_STATUS_TTL
        kept = [(u, at) for u, at in self._tables.parked if at >= expiry]
        expired = len(self._tables.parked) - len(kept)
        ready = [(u, at) for u, at in kept if self._knows(u.wamid)]
        self._tables.parked = [(u, at) for u, at in kept if not self._knows(u.wamid)]
        report, _ = self._apply([update for update, _ in ready], aware(now))
        return report + DeliveryReport(unchanged=expired)

    async def parked_count(self) -> int:
        return len(self._tables.parked)

    # -- one batch -------------------------------------------------------------------------------

    def _apply(
        self, updates: Sequence[StatusUpdate], heard_at: datetime
    ) -> tuple[DeliveryReport, list[StatusUpdate]]:
        unmatched: list[StatusUpdate] = []
        changed: dict[BulkId, BulkEntry] = {}
        applied = unchanged = 0
        for update in updates:
            outcome = self._apply_one(update, changed, heard_at)
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

    def _apply_one(
        self, update: StatusUpdate, changed: dict[BulkId, BulkEntry], heard_at: datetime
    ) -> bool | None:
        """True: the status moved its message; False: a no-op; None: no message found."""
        single = self._tables.message_by_wamid.get(update.wamid)
        if single is not None:
            self._tables.first_webhook_at.setdefault(single, heard_at)
            return self._apply_to_single(single, update)
        located = self._bulk_row(update)
        if located is None:
            return None
        entry, row = located
        self._tables.first_webhook_at.setdefault(row.message_id, heard_at)
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
            self._tables.bulk_by_wamid[fields.wamid] = row.message_id
        changed[entry.bulk.id] = entry
        return True

    def _apply_to_single(self, message_id: MessageId, update: StatusUpdate) -> bool:
        message = self._tables.messages[message_id]
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
        self._tables.messages[message_id] = replace(
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

    def _bulk_row(self, update: StatusUpdate) -> tuple[BulkEntry, RecipientRow] | None:
        message_id = self._tables.bulk_by_wamid.get(update.wamid)
        if message_id is None:
            message_id = self._named_by_callback(update)
        if message_id is None:
            return None
        bulk_id, position = self._tables.recipients[message_id]
        entry = self._tables.bulks[bulk_id]
        return entry, entry.rows[position]

    def _named_by_callback(self, update: StatusUpdate) -> MessageId | None:
        parsed = None if update.callback_data is None else parse_callback_data(update.callback_data)
        if parsed is None:
            return None
        bulk_id, message_id = parsed
        located = self._tables.recipients.get(message_id)
        if located is None or located[0] != bulk_id:
            return None
        recipient = self._tables.bulks[bulk_id].rows[located[1]].recipient
        attempted = recipient.state == "pending" and recipient.attempts > 0
        if recipient.wamid is not None:
            return None
        if recipient.state not in ("in_flight", "unconfirmed") and not attempted:
            return None
        return message_id

    def _knows(self, wamid: str) -> bool:
        return wamid in self._tables.message_by_wamid or wamid in self._tables.bulk_by_wamid


def _fields_of(recipient: BulkRecipient) -> DeliveryFields:
    fields = DeliveryFields.of(recipient)
    return replace(fields, state=settles_as_attempted(fields.state))


def _with_fields(recipient: BulkRecipient, fields: DeliveryFields) -> BulkRecipient:
    return replace(recipient, **fields.as_changes())  # type: ignore[arg-type]
