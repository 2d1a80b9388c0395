"""Meta's status webhooks applied to messages: what one status does to one message.

Meta posts statuses late, more than once and out of order. Each is applied with the recipient
state machine of ``bulks`` (single sends are stored as ``sent`` or ``failed``, which are states
of that machine too), so that:

* a repeated status changes nothing (``advance`` makes it a no-op);
* delivery only moves forward: a ``delivered`` after ``read`` is stale and ignored;
* a step skipped is implied: ``read`` with no ``delivered`` before it stamps ``delivered_at``
  (and ``sent_at``) with the read's own time, as Meta's ordering guarantees them; a late
  ``delivered`` then only corrects that time to its own, earlier one;
* ``failed`` and ``read`` are final; a status that cannot follow the current state (``sent``
  after ``failed``, anything for a recipient never sent) is ignored, never an error: the
  webhook is Meta's word, and refusing it would only make Meta retry it for a week.

Times are Meta's (``statuses[].timestamp``), not the time of arrival. ``errors[0]`` of a failed
status is kept as ``error_code`` and ``error_message`` = "title: details" (the title alone when
Meta gives no details, or the same text twice).

A status may name a message Mindo has not recorded yet: the webhook can beat the commit of our
own send. Bulk sends carry ``biz_opaque_callback_data`` (``bulk_messages.callback_data``) which
names the recipient, so such a status still finds it (in flight or unconfirmed) and settles it.
The same holds for a recipient pending again after an attempt: a call that timed out may
still have reached Meta, and its webhook proves it did, so the recipient is settled as sent
rather than sent a second time (``settles_as_attempted``). A status that finds nothing is
parked and applied when its message appears, if it is about one of Mindo's numbers.
"""

from __future__ import annotations

from dataclasses import dataclass, fields, replace
from datetime import datetime, timedelta
from typing import Final

from mindo_core.bulks.model import (
    Bulk,
    IllegalTransition,
    RecipientState,
    advance,
    webhook_event,
)
from mindo_core.delivery.webhook_payloads import StatusUpdate

__all__ = [
    "PARKED_STATUS_TTL",
    "DeliveryFields",
    "DeliveryReport",
    "apply_status",
    "apply_statuses",
    "error_text",
    "settles_as_attempted",
]

# Parking covers a race of milliseconds to seconds (Meta's webhook beating our own commit of the
# send). A status parked for longer names a message that will not appear: one whose recording
# was lost, or the first wamid of a recipient sent twice after a timeout. Statuses of numbers
# Mindo does not manage are never parked (Meta posts those too: another tool, the Business app).
PARKED_STATUS_TTL: Final = timedelta(hours=1)

_RANK: dict[RecipientState, int] = {"sent": 1, "delivered": 2, "read": 3}


@dataclass(frozen=True, kw_only=True, slots=True)
class DeliveryFields:
    """The part of a message (single send or bulk recipient) that statuses change."""

    state: RecipientState
    wamid: str | None = None
    sent_at: datetime | None = None
    delivered_at: datetime | None = None
    read_at: datetime | None = None
    failed_at: datetime | None = None
    error_code: int | None = None
    error_message: str | None = None

    @classmethod
    def of(cls, holder: object) -> DeliveryFields:
        """The fields of anything that has them by these names (a ``BulkRecipient``)."""
        return cls(**{name: getattr(holder, name) for name in _FIELD_NAMES})

    def as_changes(self) -> dict[str, object]:
        """For ``dataclasses.replace`` of such a holder."""
        return {name: getattr(self, name) for name in _FIELD_NAMES}


_FIELD_NAMES: Final = tuple(f.name for f in fields(DeliveryFields))


def settles_as_attempted(state: RecipientState) -> RecipientState:
    """The state a callback-named recipient is settled from: a pending one (it was attempted,
    the stores only name those) counts as in flight, since Meta has it after all."""
    return "in_flight" if state == "pending" else state


def error_text(update: StatusUpdate) -> str | None:
    title, details = update.error_title, update.error_details
    if title and details and details != title:
        return f"{title}: {details}"
    return title or details


def apply_status(fields: DeliveryFields, update: StatusUpdate) -> DeliveryFields:
    """``fields`` after ``update``; the very same object when it changes nothing."""
    try:
        state = advance(fields.state, webhook_event(update.status))
    except IllegalTransition:
        return fields
    if state == fields.state:
        return _with_earlier_time(fields, update)
    moved = replace(fields, state=state, wamid=fields.wamid or update.wamid)
    if state == "failed":
        return replace(
            moved,
            failed_at=update.at,
            error_code=update.error_code,
            error_message=error_text(update),
        )
    reached = _RANK[state]
    return replace(
        moved,
        sent_at=fields.sent_at or update.at,
        delivered_at=fields.delivered_at or (update.at if reached >= 2 else None),
        read_at=fields.read_at or (update.at if reached >= 3 else None),
        # A confirmed "unconfirmed" recipient loses its "outcome unknown" reason, and the
        # failure time the unknown-outcome policy "fail" gave it: Meta had it after all.
        failed_at=None,
        error_code=None,
        error_message=None,
    )


def _with_earlier_time(fields: DeliveryFields, update: StatusUpdate) -> DeliveryFields:
    """A stale status may still know better when its step happened: a ``delivered`` that
    arrives after ``read`` (which stamped ``delivered_at`` with the read's time) carries the
    true, earlier time. Keeping the earliest makes the times, not only the state, independent
    of the order the posts arrive in."""
    if fields.state not in _RANK or update.status not in ("delivered", "read"):
        return fields
    if update.status == "delivered":
        if fields.delivered_at is None or update.at >= fields.delivered_at:
            return fields
        return replace(fields, delivered_at=update.at)
    if fields.read_at is None or update.at >= fields.read_at:
        return fields
    return replace(fields, read_at=update.at)


def apply_statuses(fields: DeliveryFields, updates: list[StatusUpdate]) -> DeliveryFields:
    """Several statuses of one message, in the order they arrived."""
    for update in updates:
        fields = apply_status(fields, update)
    return fields


@dataclass(frozen=True, kw_only=True)
class DeliveryReport:
    """What applying a batch of statuses did."""

    applied: int = 0  # statuses that changed a message
    unchanged: int = 0  # repeats, stale or impossible statuses: no-ops
    parked: int = 0  # statuses whose message is not known (yet)
    bulks: tuple[Bulk, ...] = ()  # bulks whose counters or status changed, as they now are

    def __add__(self, other: DeliveryReport) -> DeliveryReport:
        bulks = {bulk.id: bulk for bulk in (*self.bulks, *other.bulks)}
        return DeliveryReport(
            applied=self.applied + other.applied,
            unchanged=self.unchanged + other.unchanged,
            parked=self.parked + other.parked,
            bulks=tuple(bulks.values()),
        )
