"""A bulk send and its recipients: their states, the moves between them, and their counters.

Bulk statuses (UPPERCASE everywhere, as the docs' tables and filters spell them; only the 202
answer to a submission says ``"queued"``, lowercase, see ``ACCEPTED_STATUS``)::

    QUEUED ──▶ PROCESSING ──▶ COMPLETED | PARTIAL | FAILED
     │ │            │
     │ └────────────┴──▶ CANCELLED
     └──▶ FAILED                          (stopped before its first send)

    SCHEDULED ──at send_at──▶ QUEUED;  SCHEDULED ──▶ CANCELLED (or how a stop ends it)

    SCHEDULED | QUEUED | PROCESSING ──pause──▶ PAUSED ──resume──▶ PROCESSING (it had sent)
                                                          | SCHEDULED (never started, send_at set)
                                                          | QUEUED (never started)
                                     └──▶ CANCELLED, or how a stop ends it  (cancelled, stopped)

A PAUSED bulk starts no send (those in flight finish and are recorded); its pending recipients
stay pending, and resuming sends them, each once. A bulk paused by the quality guard carries a
``pause_reason`` (a user's pause carries none); resuming clears it.

COMPLETED, PARTIAL and FAILED may still turn into one another: Meta's webhooks report failures
(and, for unconfirmed recipients, successes) after the last send. CANCELLED is final.

Recipient states::

    pending ──claim──▶ in_flight ──accept──▶ sent ─▶ delivered ─▶ read    (webhooks)
       ▲                  │ │ │                 └────────┴──▶ failed      (webhook)
       └─────release──────┘ │ └──refuse──▶ failed       in_flight ──opt_out──▶ opted_out
                            └──settle_unconfirmed──▶ unconfirmed ─▶ sent | delivered | read | failed
    pending ──cancel──▶ cancelled          pending ──skip──▶ skipped   (the bulk stopped early)

(A status webhook naming a recipient through its callback data also settles one that is in
flight, or pending again after an attempt that timed out: see ``delivery``.)

``opted_out`` is a recipient the engine did not send because they are on the organisation's
suppression list (they wrote STOP, or Meta said they stopped marketing messages): Meta never saw
it, by policy.

``unconfirmed`` settles a recipient whose call to Meta was in flight when its worker died, or
got no answer (a timeout, a connection dropped after the request left: ``NO_ANSWER_REASON``):
nobody knows whether Meta accepted it, and by default it is not resent, because a duplicate
message is worse than a missing one (``CrashPolicy``). A webhook may still confirm it.

Delivery only moves forward (sent < delivered < read); failed and read are final. A repeated
or stale event is a no-op, except ``claim``: claiming a recipient already in flight would send
it twice. A move that cannot happen raises ``IllegalTransition``.

Each state shows clients one of eight documented recipient statuses (``recipient_status``):
``pending``, ``sending`` (in flight), ``sent``, ``delivered``, ``read``, ``failed`` (unconfirmed
ones too, with their reason), ``opted_out`` (with its reason) and ``cancelled`` (skipped ones
too, with the bulk's stop_reason as their ``error_message``: nothing of them reached Meta).

Counters (the documented ``*_count`` fields) are cumulative as in the docs' example: ``sent``
counts every recipient Meta accepted that has not failed since, ``delivered`` includes the
read ones. ``failed`` also counts ``unconfirmed`` and ``opted_out`` recipients (as Twilio and
Meta count a message refused to an unsubscribed user; ``opted_out`` counts them alone),
``cancelled`` the ``skipped`` ones, and ``pending`` those in flight, so that
``total = sent + failed + pending + cancelled`` in every state a bulk can be in. ``total`` is
the unique recipients; ``Bulk.total_recipients`` is the list as submitted, duplicates
included. ``progress_percentage`` is processed / total, where processed = sent + failed +
cancelled: sending is over for them (delivery is not awaited).
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from typing import Final, Literal, NewType, get_args

from mindo_core.access.api_keys import ApiKeyId
from mindo_core.bulks.send_window import SendWindow
from mindo_core.domain.accounts import OrganisationId, PhoneNumberRowId
from mindo_core.domain.errors import FailedPrecondition, InvalidRequest
from mindo_core.domain.messages import DeliveryState, MessageId
from mindo_core.domain.templates import TemplateId

__all__ = [
    "ACCEPTED_STATUS",
    "BULK_STATUSES",
    "NO_ANSWER_REASON",
    "RECIPIENT_STATUSES",
    "UNCONFIRMED_REASON",
    "Bulk",
    "BulkCounters",
    "BulkId",
    "BulkRecipient",
    "BulkStatus",
    "CrashPolicy",
    "IllegalTransition",
    "RecipientEvent",
    "RecipientState",
    "RecipientStatus",
    "advance",
    "advance_bulk",
    "can_cancel",
    "can_pause",
    "final_status",
    "message_status",
    "parse_bulk_status",
    "planned_completion_at",
    "recipient_status",
    "record_event",
    "refresh_final_status",
    "resumed_status",
    "sends_remain",
    "settle_after_crash",
    "states_shown_as",
    "webhook_event",
]

BulkId = NewType("BulkId", str)

BulkStatus = Literal[
    "SCHEDULED", "QUEUED", "PROCESSING", "PAUSED", "COMPLETED", "PARTIAL", "FAILED", "CANCELLED"
]
BULK_STATUSES: tuple[BulkStatus, ...] = get_args(BulkStatus)
# The 202 answer to a submission spells its one status in lowercase (documented example).
ACCEPTED_STATUS: Final = "queued"

RecipientState = Literal[
    "pending",
    "in_flight",
    "sent",
    "delivered",
    "read",
    "failed",
    "cancelled",
    "skipped",
    "unconfirmed",
    "opted_out",
]
RecipientEvent = Literal[
    "claim",  # a worker takes the recipient to send it
    "release",  # a transient failure (or a crash, with CrashPolicy "resend"): send again later
    "accept",  # Meta answered with a wamid
    "refuse",  # Meta refused for good, or retries ran out
    "opt_out",  # not sent: the recipient is on the organisation's suppression list
    "settle_unconfirmed",  # the call was in flight when its worker died, or got no answer
    "cancel",  # the bulk was cancelled before this recipient was sent
    "skip",  # the bulk stopped early (stop_reason) before this recipient was sent
    "webhook_sent",
    "webhook_delivered",
    "webhook_read",
    "webhook_failed",
]
CrashPolicy = Literal["mark_unconfirmed", "resend"]
# What clients see of a recipient (lists, filters): documented, never null.
RecipientStatus = Literal[
    "pending", "sending", "sent", "delivered", "read", "failed", "opted_out", "cancelled"
]
RECIPIENT_STATUSES: tuple[RecipientStatus, ...] = get_args(RecipientStatus)

UNCONFIRMED_REASON: Final = (
    "Outcome unknown: the send was interrupted while Meta was being called, and it was not "
    "resent to avoid a duplicate message"
)

NO_ANSWER_REASON: Final = (
    "Outcome unknown: no answer from Meta (a timeout, or the connection dropped after the "
    "request left), and it was not resent to avoid a duplicate message"
)

_TERMINAL_OUTCOMES: frozenset[BulkStatus] = frozenset({"COMPLETED", "PARTIAL", "FAILED"})


class IllegalTransition(FailedPrecondition):
    """A bulk or a recipient was asked to move where it cannot (e.g. a failed message to sent)."""

    code = "illegal_transition"


# -- recipient state machine -----------------------------------------------------------------

_WEBHOOK_SOURCES: tuple[RecipientState, ...] = ("in_flight", "unconfirmed")

# event -> (moves: source -> target, states in which the event is a repeat or stale: no-op)
_MOVES: Mapping[
    RecipientEvent, tuple[Mapping[RecipientState, RecipientState], frozenset[RecipientState]]
] = {
    # Never a no-op: a second claim means a second worker, and only one may send.
    "claim": ({"pending": "in_flight"}, frozenset()),
    "release": ({"in_flight": "pending"}, frozenset({"pending"})),
    # A webhook can beat the response to our own call: what it said stands.
    "accept": ({"in_flight": "sent"}, frozenset({"sent", "delivered", "read", "failed"})),
    "refuse": ({"in_flight": "failed"}, frozenset({"failed"})),
    "opt_out": ({"in_flight": "opted_out"}, frozenset({"opted_out"})),
    "settle_unconfirmed": ({"in_flight": "unconfirmed"}, frozenset({"unconfirmed"})),
    "cancel": ({"pending": "cancelled"}, frozenset({"cancelled"})),
    "skip": ({"pending": "skipped"}, frozenset({"skipped"})),
    "webhook_sent": (
        dict.fromkeys(_WEBHOOK_SOURCES, "sent"),
        frozenset({"sent", "delivered", "read"}),
    ),
    "webhook_delivered": (
        dict.fromkeys((*_WEBHOOK_SOURCES, "sent"), "delivered"),
        frozenset({"delivered", "read"}),
    ),
    "webhook_read": (
        dict.fromkeys((*_WEBHOOK_SOURCES, "sent", "delivered"), "read"),
        frozenset({"read"}),
    ),
    "webhook_failed": (
        dict.fromkeys((*_WEBHOOK_SOURCES, "sent", "delivered"), "failed"),
        frozenset({"failed"}),
    ),
}


def advance(current: RecipientState, event: RecipientEvent) -> RecipientState:
    """The state after ``event``; the same state for a repeated or stale event."""
    moves, no_ops = _MOVES[event]
    if current in moves:
        return moves[current]
    if current in no_ops:
        return current
    raise IllegalTransition(f"a {current} recipient cannot take the event {event!r}")


def settle_after_crash(
    current: RecipientState, policy: CrashPolicy = "mark_unconfirmed"
) -> RecipientState:
    """A recipient found ``in_flight`` with no live worker; any other state is left alone."""
    if current != "in_flight":
        return current
    return advance(current, "settle_unconfirmed" if policy == "mark_unconfirmed" else "release")


_WEBHOOK_EVENTS: Mapping[DeliveryState, RecipientEvent] = {
    "sent": "webhook_sent",
    "delivered": "webhook_delivered",
    "read": "webhook_read",
    "failed": "webhook_failed",
}


def webhook_event(status: DeliveryState) -> RecipientEvent:
    return _WEBHOOK_EVENTS[status]


def message_status(state: RecipientState) -> DeliveryState | None:
    """The message-level status of a recipient that is a message (GetMessage, webhooks), or
    None for one not sent yet (pending, in flight) or never to be sent (cancelled, skipped,
    opted out)."""
    if state in ("sent", "delivered", "read", "failed"):
        return state
    if state == "unconfirmed":
        return "failed"
    return None


_SHOWN_AS: Mapping[RecipientState, RecipientStatus] = {
    "pending": "pending",
    "in_flight": "sending",
    "sent": "sent",
    "delivered": "delivered",
    "read": "read",
    "failed": "failed",
    "unconfirmed": "failed",
    "opted_out": "opted_out",
    "cancelled": "cancelled",
    "skipped": "cancelled",
}


def recipient_status(state: RecipientState) -> RecipientStatus:
    """The documented status a recipient's list shows and filters on."""
    return _SHOWN_AS[state]


def states_shown_as(status: RecipientStatus) -> tuple[RecipientState, ...]:
    """Every recipient state a status filter matches."""
    return tuple(state for state, shown in _SHOWN_AS.items() if shown == status)


@dataclass(frozen=True, kw_only=True)
class BulkRecipient:
    """One unique recipient of a bulk, ``position`` 0.. in the order of first submission."""

    bulk_id: BulkId
    position: int
    e164: str
    variables_used: Mapping[str, str]
    state: RecipientState = "pending"
    # The quota window has no room for this recipient before this time.
    not_before: datetime | None = None
    wamid: str | None = None
    attempts: int = 0
    sent_at: datetime | None = None
    delivered_at: datetime | None = None
    read_at: datetime | None = None
    failed_at: datetime | None = None
    error_code: int | None = None
    error_message: str | None = None
    # The row's id in the messages table, once stored (the documented per-message ``id``).
    message_id: MessageId | None = None
    # When the unknown-outcome policy "resend" made it pending again (at most once).
    resent_at: datetime | None = None

    @property
    def wa_id(self) -> str:
        return self.e164.removeprefix("+")


def record_event(
    recipient: BulkRecipient,
    event: RecipientEvent,
    *,
    at: datetime,
    wamid: str | None = None,
    error_code: int | None = None,
    error_message: str | None = None,
) -> BulkRecipient:
    """``recipient`` after ``event`` at ``at``, with its timestamps and error filled in.

    A no-op event returns ``recipient`` itself. A delivery event that skips a step (read with
    no delivered before it) also stamps the steps it implies, as Meta's order guarantees them.
    """
    state = advance(recipient.state, event)
    if state == recipient.state:
        return recipient
    changed = replace(recipient, state=state, wamid=wamid or recipient.wamid)
    if event == "claim":
        return replace(changed, attempts=recipient.attempts + 1)
    if state == "unconfirmed":  # a crash's, unless the event says why (``NO_ANSWER_REASON``)
        return replace(changed, error_message=error_message or UNCONFIRMED_REASON)
    if state == "skipped":  # the bulk's stop_reason
        return replace(changed, error_message=error_message)
    if state in ("failed", "opted_out"):
        return replace(changed, failed_at=at, error_code=error_code, error_message=error_message)
    if state in ("sent", "delivered", "read"):
        return _stamped(changed, state, at)
    return changed


def _stamped(recipient: BulkRecipient, state: RecipientState, at: datetime) -> BulkRecipient:
    reached = _RANK[state]
    return replace(
        recipient,
        sent_at=recipient.sent_at or at,
        delivered_at=recipient.delivered_at or (at if reached >= _RANK["delivered"] else None),
        read_at=recipient.read_at or (at if reached >= _RANK["read"] else None),
        # A webhook confirming an unconfirmed recipient clears the "outcome unknown" reason
        # (and the failure time the unknown-outcome policy "fail" gave it).
        error_message=None,
        failed_at=None,
    )


_RANK: Mapping[RecipientState, int] = {"sent": 1, "delivered": 2, "read": 3}


# -- counters --------------------------------------------------------------------------------


@dataclass(frozen=True, kw_only=True)
class BulkCounters:
    total: int
    sent: int = 0
    delivered: int = 0
    read: int = 0
    failed: int = 0
    pending: int = 0
    cancelled: int = 0
    opted_out: int = 0  # among the failed: not sent, on the suppression list

    @classmethod
    def of_states(cls, states: Iterable[RecipientState]) -> BulkCounters:
        tally: dict[RecipientState, int] = {}
        for state in states:
            tally[state] = tally.get(state, 0) + 1
        return cls.of_tally(tally)

    @classmethod
    def of_tally(cls, tally: Mapping[RecipientState, int]) -> BulkCounters:
        """From a count per state (what a ``GROUP BY state`` returns)."""
        counters = cls(total=sum(tally.values()))
        for state, count in tally.items():
            counters = counters._added(state, count)
        return counters

    def moved(self, before: RecipientState, after: RecipientState) -> BulkCounters:
        """The counters after one recipient went from ``before`` to ``after``."""
        return self._added(before, -1)._added(after, 1)

    @property
    def processed(self) -> int:
        """Recipients whose sending is over: sent, failed or cancelled (delivery not awaited)."""
        return self.total - self.pending

    @property
    def progress_percentage(self) -> float:
        """processed / total x 100, floored to one decimal: 100.0 only when none is pending."""
        if self.total == 0:
            return 100.0
        return math.floor(self.processed * 1000 / self.total) / 10

    def _added(self, state: RecipientState, count: int) -> BulkCounters:
        fields = _COUNTED_AS[state]
        return replace(self, **{name: getattr(self, name) + count for name in fields})


_COUNTED_AS: Mapping[RecipientState, tuple[str, ...]] = {
    "pending": ("pending",),
    "in_flight": ("pending",),
    "sent": ("sent",),
    "delivered": ("sent", "delivered"),
    "read": ("sent", "delivered", "read"),
    "failed": ("failed",),
    "skipped": ("cancelled",),
    "unconfirmed": ("failed",),
    "opted_out": ("failed", "opted_out"),
    "cancelled": ("cancelled",),
}


# -- bulk status -----------------------------------------------------------------------------

_BULK_MOVES: Mapping[BulkStatus, frozenset[BulkStatus]] = {
    # FAILED: stopped (a template paused) before its time; PAUSED: by a user or the quality guard.
    "SCHEDULED": frozenset({"QUEUED", "PAUSED", "FAILED", "CANCELLED"}),
    "QUEUED": frozenset({"PROCESSING", "PAUSED", "FAILED", "CANCELLED"}),
    "PROCESSING": frozenset({"PAUSED", "COMPLETED", "PARTIAL", "FAILED", "CANCELLED"}),
    "PAUSED": frozenset(
        {"SCHEDULED", "QUEUED", "PROCESSING", "COMPLETED", "PARTIAL", "FAILED", "CANCELLED"}
    ),
    "COMPLETED": frozenset({"PARTIAL", "FAILED"}),
    "PARTIAL": frozenset({"COMPLETED", "FAILED"}),
    "FAILED": frozenset({"COMPLETED", "PARTIAL"}),
    "CANCELLED": frozenset(),
}


def advance_bulk(current: BulkStatus, target: BulkStatus) -> BulkStatus:
    """``target`` if a bulk may move there from ``current`` (staying put is always allowed)."""
    if target == current or target in _BULK_MOVES[current]:
        return target
    raise IllegalTransition(f"a {current} bulk cannot become {target}")


def can_cancel(status: BulkStatus) -> bool:
    return "CANCELLED" in _BULK_MOVES[status]


def can_pause(status: BulkStatus) -> bool:
    return "PAUSED" in _BULK_MOVES[status]


def resumed_status(*, started_at: datetime | None, send_at: datetime | None) -> BulkStatus:
    """Where a PAUSED bulk goes back to: PROCESSING once it has sent; else SCHEDULED when it has
    a ``send_at`` (started at once if that has passed), else QUEUED."""
    if started_at is not None:
        return "PROCESSING"
    return "QUEUED" if send_at is None else "SCHEDULED"


def final_status(
    counters: BulkCounters, *, cancelled: bool, stopped_reason: str | None
) -> BulkStatus:
    """How a bulk ends: CANCELLED if it was cancelled; else COMPLETED when none failed,
    FAILED when none succeeded, PARTIAL otherwise.

    Without ``stopped_reason`` every recipient must have been processed. With it (the bulk
    stopped early, e.g. the template was paused), recipients still pending and those skipped
    (counted as cancelled) count as failures.
    """
    if cancelled:
        return "CANCELLED"
    if sends_remain(counters, stopped_reason=stopped_reason):
        raise ValueError(f"{counters.pending} recipients are still pending; the bulk is not over")
    failures = counters.failed + counters.pending + counters.cancelled
    if failures == 0:
        return "COMPLETED"
    return "FAILED" if counters.sent == 0 else "PARTIAL"


def sends_remain(counters: BulkCounters, *, stopped_reason: str | None) -> bool:
    """Recipients still to send in a bulk not stopped: it is not over."""
    return counters.pending > 0 and stopped_reason is None


def refresh_final_status(
    current: BulkStatus, counters: BulkCounters, *, stopped_reason: str | None
) -> BulkStatus:
    """A finished bulk's status once webhooks changed its counters; others are left alone."""
    if current not in _TERMINAL_OUTCOMES:
        return current
    target = final_status(counters, cancelled=False, stopped_reason=stopped_reason)
    return advance_bulk(current, target)


def parse_bulk_status(text: str) -> BulkStatus:
    """A status filter as clients write it, in any case ("queued" as the 202 shows it)."""
    status = text.strip().upper()
    for known in BULK_STATUSES:
        if status == known:
            return known
    listing = ", ".join(BULK_STATUSES)
    raise InvalidRequest.for_field("status", f"{text!r} is not one of {listing}")


@dataclass(frozen=True, kw_only=True)
class Bulk:
    id: BulkId
    task_id: str
    organisation_id: OrganisationId
    phone_number_row_id: PhoneNumberRowId
    template_id: TemplateId
    template_name: str
    language: str
    status: BulkStatus
    # One per unique recipient; ``total_recipients`` is the list as submitted (duplicates
    # included), so total_recipients = counters.total + duplicates_removed.
    counters: BulkCounters
    total_recipients: int
    estimated_time_minutes: float
    created_at: datetime
    created_by: ApiKeyId | None = None
    started_at: datetime | None = None
    completed_at: datetime | None = None
    # Why the bulk stopped before every recipient was tried, when it did.
    stop_reason: str | None = None
    # "max", "tier" or a messages-per-second cap (pacing.parse_pacing reads it).
    pacing: str = "max"
    # When a SCHEDULED bulk starts (None: at once).
    send_at: datetime | None = None
    # Why the quality guard paused it (None: not paused, or paused by a user).
    pause_reason: str | None = None
    # The bulk this one resends the failed recipients of (``resend``).
    parent_bulk_id: BulkId | None = None
    # The 202's estimate, kept when the estimate is planned again (None: a bulk stored before
    # it was kept; ``original_estimate_minutes`` then reads ``estimated_time_minutes``).
    original_estimated_time_minutes: float | None = None
    # When the bulk is expected to be complete: the plan's time at submission, then re-planned
    # from what is happening while it sends (``throughput.live_estimate``).
    estimated_completion_at: datetime | None = None
    # The hours each recipient may be sent to, in its own local time (None: any time).
    send_window: SendWindow | None = None
    # Recipients sent again by the unknown-outcome policy "resend" (``bulks.unknown_outcomes``).
    resent_count: int = 0

    @property
    def duplicates_removed(self) -> int:
        return self.total_recipients - self.counters.total

    @property
    def expected_completion_at(self) -> datetime | None:
        """The estimated completion while the bulk is to send (SCHEDULED, QUEUED, PROCESSING);
        None while it is paused (no time can be promised) or over (``completed_at`` says)."""
        if self.status in ("SCHEDULED", "QUEUED", "PROCESSING"):
            return self.estimated_completion_at
        return None

    @property
    def original_estimate_minutes(self) -> float:
        """The estimate the 202 answered, whatever was planned since."""
        if self.original_estimated_time_minutes is None:
            return self.estimated_time_minutes
        return self.original_estimated_time_minutes


def planned_completion_at(start: datetime, minutes: float) -> datetime:
    """When a bulk planned to take ``minutes`` from ``start`` (acceptance, ``send_at``, or the
    moment of a re-plan) is expected to be complete."""
    return start + timedelta(minutes=minutes)
