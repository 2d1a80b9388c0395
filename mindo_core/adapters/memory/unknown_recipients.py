"""``InMemoryUnknownRecipients``: the sweep of unknown outcomes over the shared ``Tables``, with
``SqlUnknownRecipients``' semantics (the contract tests hold both to them). It reads every
message of a number per pass: fine for tests, which is all it serves."""

from __future__ import annotations

from collections.abc import Iterator
from collections.abc import Set as AbstractSet
from dataclasses import replace
from datetime import datetime

from mindo_core.adapters.memory.tables import BulkEntry, RecipientRow, Tables, aware
from mindo_core.bulks.unknown_outcomes import (
    UnknownOutcomePolicy,
    heard_before,
    reopened_status,
    settlement_for,
)
from mindo_core.domain.accounts import OrganisationId, PhoneNumberRowId
from mindo_core.ports.bulks import UnknownSettled

__all__ = ["InMemoryUnknownRecipients"]

# (when its call started, when its first webhook was heard) of a message on one number.
_Heard = tuple[datetime, datetime]


class InMemoryUnknownRecipients:
    def __init__(self, tables: Tables) -> None:
        self._tables = tables

    async def organisations_with_unknown(self) -> AbstractSet[OrganisationId]:
        return frozenset(
            entry.bulk.organisation_id
            for entry in self._tables.bulks.values()
            if any(_open(row) for row in entry.rows)
        )

    async def settle_unknown(
        self, organisation_id: OrganisationId, policy: UnknownOutcomePolicy, *, now: datetime
    ) -> UnknownSettled:
        now = aware(now)
        cutoff = heard_before(now, policy)
        failed = resent = 0
        changed: dict[str, BulkEntry] = {}
        for entry in list(self._tables.bulks.values()):
            if entry.bulk.organisation_id != organisation_id:
                continue
            heard = list(self._heard_on(entry.bulk.phone_number_row_id))
            for row in entry.rows:
                if not _open(row) or not _settled_by(row, heard, cutoff):
                    continue
                if self._settle(entry, row, policy, now):
                    resent += 1
                else:
                    failed += 1
                changed[entry.bulk.id] = entry
        return UnknownSettled(
            failed=failed, resent=resent, bulks=tuple(e.bulk for e in changed.values())
        )

    def _settle(
        self, entry: BulkEntry, row: RecipientRow, policy: UnknownOutcomePolicy, now: datetime
    ) -> bool:
        """Settles one open unknown; True when it was resent."""
        bulk = entry.bulk
        settlement = settlement_for(
            policy,
            bulk_status=bulk.status,
            stop_reason=bulk.stop_reason,
            resent_before=row.recipient.resent_at is not None,
            age=now - (row.call_started_at or row.claimed_at or now),
        )
        recipient = row.recipient
        if not settlement.resend:
            row.recipient = replace(recipient, failed_at=now, error_message=settlement.reason)
            return False
        row.recipient = replace(recipient, state="pending", resent_at=now, error_message=None)
        row.retry_at = None
        status = reopened_status(bulk.status)
        entry.bulk = replace(
            bulk,
            status=status,
            completed_at=None if status != bulk.status else bulk.completed_at,
            counters=bulk.counters.moved("unconfirmed", "pending"),
            resent_count=bulk.resent_count + 1,
        )
        entry.queue(row)
        return True

    def _heard_on(self, number: PhoneNumberRowId) -> Iterator[_Heard]:
        first_heard = self._tables.first_webhook_at
        for entry in self._tables.bulks.values():
            if entry.bulk.phone_number_row_id != number:
                continue
            for row in entry.rows:
                heard = first_heard.get(row.message_id)
                sent = row.call_started_at or row.recipient.sent_at
                if heard is not None and sent is not None:
                    yield sent, heard
        for message_id, message in self._tables.messages.items():
            heard = first_heard.get(message_id)
            if message.phone_number_row_id == number and heard and message.sent_at:
                yield message.sent_at, heard


def _open(row: RecipientRow) -> bool:
    return row.recipient.state == "unconfirmed" and row.recipient.failed_at is None


def _settled_by(row: RecipientRow, heard: list[_Heard], cutoff: datetime) -> bool:
    """Whether a message sent after the recipient's call was heard at or before ``cutoff``."""
    started = row.call_started_at or row.claimed_at
    if started is None:
        return False
    return any(sent > started and started < at <= cutoff for sent, at in heard)
