"""Bulk sends: acceptance, claims, outcomes, and what the quota window reads.

A bulk's recipients are rows of the messages table (``bulk_id`` set), so a bulk message is a
message like any other: GetMessage, webhooks and the quota window see it."""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Mapping, Sequence
from collections.abc import Set as AbstractSet
from dataclasses import dataclass
from datetime import date, datetime
from itertools import islice
from typing import Generic, Literal, Protocol, TypeVar

from mindo_core.access.api_keys import ApiKeyId
from mindo_core.bulks.model import (
    Bulk,
    BulkId,
    BulkRecipient,
    BulkStatus,
    CrashPolicy,
    RecipientStatus,
)
from mindo_core.bulks.send_window import SendWindow
from mindo_core.bulks.timeline import RecipientTimes
from mindo_core.bulks.unknown_outcomes import UnknownOutcomePolicy
from mindo_core.domain.accounts import (
    OrganisationId,
    PhoneNumberRowId,
)
from mindo_core.domain.messages import MessageId
from mindo_core.domain.templates import TemplateId


@dataclass(frozen=True, kw_only=True)
class NewBulk:
    id: BulkId
    task_id: str
    organisation_id: OrganisationId
    phone_number_row_id: PhoneNumberRowId
    template_id: TemplateId
    pacing: str
    total_recipients: int
    estimated_time_minutes: float
    created_at: datetime
    created_by: ApiKeyId | None = None
    # Set: the bulk is SCHEDULED until then (``start_scheduled``); None: QUEUED at once.
    send_at: datetime | None = None
    # The bulk whose failed recipients this one sends again (``ResendFailed``).
    parent_bulk_id: BulkId | None = None
    # Each recipient only inside these hours of its local time (None: any time).
    send_window: SendWindow | None = None


@dataclass(frozen=True, kw_only=True, slots=True)
class NewBulkRecipient:
    position: int
    e164: str
    variables_used: Mapping[str, str]
    # The quota window has no room for this recipient before this time (None: now).
    not_before: datetime | None = None


@dataclass(frozen=True, kw_only=True, slots=True)
class NewRecipientChunk:
    """Consecutive recipients of a new bulk as columns of equal length: the one at position
    ``first_position + k`` is ``e164s[k]``, with ``variables_used[k]``, and waits for quota until
    ``not_before[k]`` (``not_before`` None: none of them waits).

    Columns, not one value per recipient: a 100,000-recipient request is accepted in well under
    a second, and building 100,000 frozen values alone would take a fifth of it."""

    first_position: int
    e164s: Sequence[str]
    variables_used: Sequence[Mapping[str, str]]
    not_before: Sequence[datetime | None] | None = None

    def __len__(self) -> int:
        return len(self.e164s)

    def check(self, expected_position: int) -> None:
        """``ValueError`` unless the chunk starts at ``expected_position`` with equal columns."""
        if self.first_position != expected_position:
            raise ValueError(
                f"recipient positions must be 0..n-1 in order: a chunk starting at "
                f"{self.first_position} came where {expected_position} was due"
            )
        lengths = {len(self.e164s), len(self.variables_used)}
        if self.not_before is not None:
            lengths.add(len(self.not_before))
        if len(lengths) != 1:
            raise ValueError(f"a chunk's columns must be of equal length, not {sorted(lengths)}")

    def recipients(self) -> Iterator[NewBulkRecipient]:
        waits: Iterable[datetime | None] = self.not_before or (None,) * len(self.e164s)
        columns = zip(self.e164s, self.variables_used, waits, strict=True)
        for k, (e164, used, not_before) in enumerate(columns):
            yield NewBulkRecipient(
                position=self.first_position + k,
                e164=e164,
                variables_used=used,
                not_before=not_before,
            )


def in_chunks(
    recipients: Iterable[NewBulkRecipient], size: int = 1_000
) -> Iterator[NewRecipientChunk]:
    """Recipients (positions 0, 1, 2, …) as the chunks ``create_bulk`` takes; read lazily."""
    ordered = iter(recipients)
    while chunk := list(islice(ordered, size)):
        first = chunk[0].position
        for k, recipient in enumerate(chunk):
            if recipient.position != first + k:
                raise ValueError(
                    f"recipient positions must be 0..n-1 in order: {recipient.position} "
                    f"came where {first + k} was due"
                )
        waits = [r.not_before for r in chunk]
        yield NewRecipientChunk(
            first_position=first,
            e164s=[r.e164 for r in chunk],
            variables_used=[r.variables_used for r in chunk],
            not_before=waits if any(w is not None for w in waits) else None,
        )


@dataclass(frozen=True, kw_only=True)
class BulkFilter:
    status: BulkStatus | None = None
    template_id: TemplateId | None = None
    created_after: date | None = None  # inclusive, UTC day
    created_before: date | None = None  # inclusive, UTC day


T = TypeVar("T")


@dataclass(frozen=True, kw_only=True)
class Page(Generic[T]):
    count: int
    items: Sequence[T]


@dataclass(frozen=True, kw_only=True, slots=True)
class ClaimedRecipient:
    message_id: MessageId
    bulk_id: BulkId
    position: int
    e164: str
    variables_used: Mapping[str, str]
    attempts: int  # including this one


@dataclass(frozen=True, kw_only=True, slots=True)
class PendingRecipient:
    """A recipient not sent yet, and the time the quota window lets it go (None: now)."""

    position: int
    e164: str
    not_before: datetime | None


RecipientOutcomeKind = Literal["accept", "refuse", "opt_out", "release", "unconfirm"]


@dataclass(frozen=True, kw_only=True, slots=True)
class RecipientOutcome:
    """What became of one claimed recipient: Meta accepted it (``wamid``), refused it for good
    (``error_code``/``error_message``), its call got no answer ("unconfirm": unconfirmed, with
    ``error_message`` saying why), or it goes back to pending until ``retry_at``."""

    message_id: MessageId
    bulk_id: BulkId
    kind: RecipientOutcomeKind
    at: datetime
    wamid: str | None = None
    error_code: int | None = None
    error_message: str | None = None
    retry_at: datetime | None = None
    # A release of a recipient whose call was never made: its claim's attempt is undone.
    unsent: bool = False


class BulkStore(Protocol):
    async def create_bulk(self, bulk: NewBulk, recipients: Iterable[NewRecipientChunk]) -> Bulk:
        """One transaction: the bulk and all its recipients, or nothing.

        ``recipients`` come in chunks in position order, positions 0, 1, 2, … (else
        ``ValueError``), read once, as they are written: a generator streams a bulk of any size
        through the one transaction, holding one chunk at a time (``in_chunks`` makes chunks of
        single recipients)."""
        ...

    async def get_bulk(
        self, bulk_id: BulkId, organisation_id: OrganisationId | None = None
    ) -> Bulk | None:
        """Scoped when ``organisation_id`` is given (clients); unscoped for the engine."""
        ...

    async def list_bulks(
        self, organisation_id: OrganisationId, filters: BulkFilter, *, offset: int, limit: int
    ) -> Page[Bulk]:
        """Newest first."""
        ...

    async def list_bulk_recipients(
        self,
        organisation_id: OrganisationId,
        bulk_id: BulkId,
        *,
        status: RecipientStatus | None,
        offset: int,
        limit: int,
    ) -> Page[BulkRecipient]:
        """In position order; ``status`` filters on the documented ``recipient_status``."""
        ...

    async def recipient_times(
        self, organisation_id: OrganisationId, bulk_id: BulkId
    ) -> RecipientTimes:
        """When each recipient of the organisation's bulk was sent, delivered, read or failed
        (the moments only, for ``bulks.timeline``); empty for an unknown bulk."""
        ...

    async def bulks_to_run(self, number: PhoneNumberRowId | None = None) -> Sequence[Bulk]:
        """QUEUED and PROCESSING bulks of every organisation, oldest first; only those on
        ``number`` when given."""
        ...

    async def start_scheduled(self, now: datetime) -> datetime | None:
        """SCHEDULED bulks whose ``send_at`` is at or before ``now`` become QUEUED (every
        organisation's; atomic, so several engines may ask). Returns the earliest ``send_at``
        of those still SCHEDULED: when to ask again (None: none waits)."""
        ...

    async def claim_recipients(
        self, bulk_id: BulkId, *, worker: str, limit: int, now: datetime
    ) -> Sequence[ClaimedRecipient]:
        """Up to ``limit`` due pending recipients (not_before and retry time passed), in
        position order, made ``in_flight`` durably (claimed, their calls not started) before
        any is sent; the bulk becomes PROCESSING (``started_at``) on its first claim. Nothing
        for a bulk not QUEUED or PROCESSING."""
        ...

    async def mark_calls_started(
        self, message_ids: Sequence[MessageId], *, worker: str, at: datetime
    ) -> AbstractSet[MessageId]:
        """The recipients among ``message_ids`` still in flight under ``worker``'s claim are
        durably marked as having their call to Meta started (one transaction); returns those
        marked. A call starts only once its mark is durable: after a crash, a recipient in
        flight and not marked was never sent (``settle_in_flight`` releases it)."""
        ...

    async def record_outcomes(
        self, outcomes: Sequence[RecipientOutcome], *, worker: str | None = None
    ) -> Sequence[Bulk]:
        """One transaction for the batch; counters follow; returns the bulks it changed.
        ``worker``: only recipients in flight under that worker's claim move (a worker that
        lost a number never writes over what the new owner claimed); None: any in flight."""
        ...

    async def next_due_at(self, bulk_id: BulkId) -> datetime | None:
        """When the bulk's earliest pending recipient becomes due; None when none is pending."""
        ...

    async def finish_bulk(
        self, bulk_id: BulkId, now: datetime, *, worker: str | None = None
    ) -> Bulk:
        """Gives a bulk with nothing pending or in flight its final status (``final_status``).
        Returned unchanged while another worker holds the lease of the bulk's number
        (``worker``, ``ports.ownership``), or while recipients are pending again (the sweep
        of unknown outcomes resent one since the engine found none due): its engine sends
        them."""
        ...

    async def stop_bulk(
        self, bulk_id: BulkId, *, now: datetime, reason: str | None, cancelled: bool
    ) -> Bulk:
        """Cancels (``cancelled``) or stops (``reason``) a bulk, running or paused: its pending
        recipients become
        cancelled or skipped (with ``reason`` as their error) at once; in-flight ones finish
        and are recorded."""
        ...

    async def pause_bulk(self, bulk_id: BulkId, *, reason: str | None = None) -> Bulk:
        """A SCHEDULED, QUEUED or PROCESSING bulk becomes PAUSED (a PAUSED one stays so, its
        ``pause_reason`` kept): claims find nothing; its pending recipients stay pending, and
        recipients released meanwhile become pending again. ``reason`` is its ``pause_reason``
        (the quality guard's; None for a user's pause). ``IllegalTransition`` for a bulk that
        is over."""
        ...

    async def resume_bulk(self, bulk_id: BulkId) -> Bulk:
        """A PAUSED bulk goes back to where ``resumed_status`` says, its ``pause_reason``
        cleared; ``IllegalTransition`` for a bulk that is not PAUSED."""
        ...

    async def settle_in_flight(
        self,
        *,
        policy: CrashPolicy,
        now: datetime,
        number: PhoneNumberRowId | None = None,
        owner: str | None = None,
    ) -> int:
        """After a crash: every in-flight recipient whose call had started
        (``mark_calls_started``) becomes unconfirmed (or pending again with policy "resend");
        those claimed whose call had not started go back to pending, their claim's attempt
        undone (or cancelled/skipped as their siblings, in a bulk that is over). Returns how many
        were settled.

        Scoped for a worker taking a number over: ``number``, only the recipients of bulks on
        that number; ``owner``, only those claimed by another worker, and nothing at all
        while another worker than ``owner`` holds the number's lease (``ports.ownership``).
        Unscoped (both None) only where one engine runs alone, at its start."""
        ...

    async def numbers_in_flight(self) -> AbstractSet[PhoneNumberRowId]:
        """The numbers of the bulks with recipients in flight, whoever claimed them: where a
        worker that died may have left some behind in a bulk that is over meanwhile."""
        ...

    async def pending_recipients(self, bulk_id: BulkId) -> Sequence[PendingRecipient]:
        """The bulk's pending recipients in position order; none for a bulk that is over."""
        ...

    async def replan_waits(
        self,
        bulk_id: BulkId,
        waits: Mapping[int, datetime | None],
        *,
        estimated_time_minutes: float,
    ) -> Bulk:
        """A running bulk's recipients at these positions wait for quota until the time given
        (None: not at all), those still pending; its estimate becomes
        ``estimated_time_minutes``. A bulk that is over is returned unchanged."""
        ...

    async def set_estimated_completion(self, bulk_id: BulkId, at: datetime) -> Bulk | None:
        """A running (QUEUED or PROCESSING) bulk is now expected to be complete ``at``; the bulk
        as it is then (unchanged when it is not running), None when there is no such bulk."""
        ...

    async def recipient_window(
        self, organisation_id: OrganisationId, since: datetime
    ) -> Mapping[str, datetime]:
        """wa_id → first time it was sent to after ``since``, over every message of the
        organisation (single and bulk): the portfolio's rolling quota window."""
        ...

    async def promised_recipients(self, organisation_id: OrganisationId) -> AbstractSet[str]:
        """The wa_ids the organisation's running (QUEUED or PROCESSING) bulks still have to
        send: their pending recipients, staged ones included. Those not in the window hold
        quota room (``quota.window``)."""
        ...


class UnknownOutcomePolicies(Protocol):
    """Each organisation's unknown-outcome policy; one that set none has
    ``UnknownOutcomePolicy()`` (fail, 10 minutes)."""

    async def unknown_outcome_policy(
        self, organisation_id: OrganisationId
    ) -> UnknownOutcomePolicy: ...

    async def set_unknown_outcome_policy(
        self,
        organisation_id: OrganisationId,
        policy: UnknownOutcomePolicy | None,
        *,
        at: datetime,
    ) -> None:
        """``None`` puts the organisation back on the default."""
        ...


@dataclass(frozen=True, kw_only=True)
class UnknownSettled:
    """What one pass of the sweep did for one organisation: how many unknown recipients it
    failed and resent, and the bulks it changed, as they now are."""

    failed: int = 0
    resent: int = 0
    bulks: Sequence[Bulk] = ()


class UnknownRecipients(Protocol):
    """Bulk recipients whose outcome is unknown (``unconfirmed``), settled once the webhooks of
    later messages on their number have come (``bulks.unknown_outcomes``)."""

    async def organisations_with_unknown(self) -> AbstractSet[OrganisationId]:
        """The organisations with unknown recipients their policy has not settled yet. Cheap
        when there are none (an index of those alone)."""
        ...

    async def settle_unknown(
        self, organisation_id: OrganisationId, policy: UnknownOutcomePolicy, *, now: datetime
    ) -> UnknownSettled:
        """Each unknown recipient r of the organisation, on number N, whose call started at t
        (else its claim), such that some message on N sent after t had its first status webhook
        heard at or before ``now - policy.window``, is settled as ``settlement_for`` says:
        failed (``failed_at``, a reason; still ``unconfirmed`` inside, so that a late webhook
        corrects it), or pending again (``resent_at``, the bulk's ``resent_count``, a finished
        bulk back to PROCESSING). Each move is conditional on the recipient being still
        unsettled: several workers may sweep at once and each recipient moves once."""
        ...
