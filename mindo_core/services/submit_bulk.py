"""Accept a bulk send: validate everything, plan it against the quota, store it whole, wake the
engine. Nothing is sent here; the bulk engine sends.

Checks, in order (the first failure is the answer, and nothing is stored):

1. the phone number belongs to the caller's organisation (``PhoneNumberNotFound``);
2. the template exists in that language (``TemplateNotFound``) and is approved
   (``TemplateNotApproved``);
3. the recipients (``bulk_submission.prepare_recipients``): not empty (``EmptyRecipients``), at
   most 100,000 (``TooManyRecipients``), every one valid for the template, or the whole request
   is refused listing the first 100 problems (``InvalidRecipients``); duplicates after
   normalisation are dropped, the first occurrence wins;
4. the pacing ("max", "tier" or a cap from 0.01 messages/s to the number's throughput;
   ``InvalidRequest`` on ``pacing``, naming the range).

Schedule. With ``send_at`` (``bulks.schedule``: now to 30 days ahead) the bulk is stored
SCHEDULED and the engine starts it then (``BulkStore.start_scheduled``). Its quota is planned
and its estimate counted from ``send_at``: the window as it will be then (entries expired by
then are not counted; messages sent meanwhile cannot be foreseen), and ``estimated_time_minutes``
is the time from ``send_at`` until the bulk is complete.

Send window. With ``send_window`` (``bulks.send_window``) each recipient waits for its window's
opening in its own local time, as it waits for quota room (whichever is later), and the
estimate is the longer of the plan below and the window's plan (``windowed_seconds``).

Quota. The portfolio's rolling 24 h window (every message of the organisation, single and bulk)
and what is owed (running bulks' pending recipients, single sends in flight) are read once,
under the organisation's quota hold (``QuotaLedger.holding``: no other decision on it, in any
process, until the bulk is stored); ``quota.plan_quota`` says how many new recipients fit now,
the owed ones counted as sent at acceptance. A bulk that does not
fit is still accepted (``can_send`` false): the recipients beyond the room get ``not_before``,
the time the window frees a slot for them, and the engine sends them then. The estimate
(``pacing.estimate_seconds``) includes those waits.

Idempotency. With an idempotency key, the same request again within 24 hours answers the first
202 and makes no second bulk (``idempotent_submits``). The request's fingerprint is the edge's
digest of its canonical form: the gRPC edge hashes the request's deterministic wire bytes, about
50 ms for 100,000 recipients with three variables each, where reading them field by field in
Python takes seconds.

Estimate. ``estimated_time_minutes`` is the time from acceptance until the bulk is complete:
its sends spaced at the rate the engine achieves (``pacing.SendTiming``: the number's
throughput or the bulk's pacing, stretched by the engine's margin and, for the number's gate,
by how late sends start), plus the fixed cost of starting and finishing, plus quota waits.
Bulks already queued or sending on the same number share its throughput
(``pacing.shared_seconds``): the estimate counts what they still have to send then. Bulks
submitted later are not foreseen. When a bulk both waits for quota and shares its number, the
estimate is the longer of the two: quota waits are hours, sharing is seconds or minutes, and
which one bounds the last send is not modelled further.
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Callable, Container, Iterator, Mapping, Sequence
from dataclasses import asdict, dataclass, replace
from datetime import datetime
from typing import Any, Protocol

from mindo_core.bulks.model import Bulk, BulkId
from mindo_core.bulks.schedule import parse_send_at
from mindo_core.bulks.send_window import SendWindow, openings, windowed_seconds
from mindo_core.bulks.submission import PreparedBulk, SubmittedRecipient, prepare_recipients
from mindo_core.domain.accounts import (
    BusinessAccountId,
    OrganisationId,
    PhoneNumber,
    PhoneNumberRowId,
)
from mindo_core.domain.clock import Clock
from mindo_core.domain.errors import BulkNotFound, PhoneNumberNotFound
from mindo_core.domain.tiers import QUOTA_WINDOW, tier_or_default
from mindo_core.phones.timezones import ZoneLookup
from mindo_core.ports.accounts import AccountStore
from mindo_core.ports.bulks import BulkStore, NewBulk, NewRecipientChunk
from mindo_core.ports.idempotency import IdempotencyStore
from mindo_core.ports.progress import ProgressBus
from mindo_core.ports.quota import QuotaBook, QuotaLedger
from mindo_core.ports.templates import TemplateStore
from mindo_core.quota.window import QuotaPlan, plan_quota
from mindo_core.services.approved_template import DEFAULT_LANGUAGE, approved_template
from mindo_core.services.authenticate import Principal
from mindo_core.services.idempotent_sends import KeyedRequest
from mindo_core.services.idempotent_submits import IdempotentSubmits, Submitting
from mindo_core.templating.model import parse_template
from mindo_core.throughput.pacing import (
    Pacing,
    SendTiming,
    Sharer,
    bulk_rate_cap,
    bulk_rate_cap_for,
    check_cap,
    estimate_seconds,
    parse_pacing,
    shared_seconds,
)

__all__ = [
    "BulkIdempotency",
    "BulkWaker",
    "QuotaInfo",
    "SubmitBulk",
    "SubmitBulkCommand",
    "SubmittedBulk",
    "kept_answer",
]

# Recipients handed to the store at a time: its memory per streamed bulk, not a unit it keeps.
RECIPIENT_CHUNK = 1_000


@dataclass(frozen=True, kw_only=True)
class SubmitBulkCommand:
    phone_number_id: str
    template_name: str
    # ``RecipientInput``s, or the edge's own messages (see ``bulk_submission``).
    recipients: Sequence[SubmittedRecipient]
    language: str = DEFAULT_LANGUAGE
    pacing: str | None = None
    idempotency: BulkIdempotency | None = None
    # ISO 8601 with a UTC offset: when the bulk starts (None: at once).
    send_at: str | None = None
    # Set by ``resend_failed``: the bulk whose failed recipients this one sends again.
    parent_bulk_id: BulkId | None = None
    # (start, end) as HH:MM: each recipient only inside these hours of its local time.
    send_window: tuple[str, str] | None = None


@dataclass(frozen=True, kw_only=True)
class BulkIdempotency:
    """The client's idempotency key, and the edge's digest of the whole request in a canonical
    form (equal for equal requests: see the module)."""

    key: str
    request_fingerprint: str


@dataclass(frozen=True, kw_only=True)
class QuotaInfo:
    """The 202's ``quota_info``; None for "unlimited", which edges show as -1."""

    tier: str
    quota_needed: int
    quota_available: int | None
    quota_total: int | None
    can_send: bool

    @classmethod
    def of(cls, plan: QuotaPlan) -> QuotaInfo:
        return cls(
            tier=plan.tier,
            quota_needed=plan.quota_needed,
            quota_available=plan.quota_available,
            quota_total=plan.quota_total,
            can_send=plan.can_send,
        )


@dataclass(frozen=True, kw_only=True)
class SubmittedBulk:
    """The 202's content: the stored bulk (QUEUED), its number as it was, and the quota plan."""

    bulk: Bulk
    phone_number: PhoneNumber
    unique_recipients: int
    quota: QuotaInfo


class BulkWaker(Protocol):
    """The bulk engine, as the use cases see it: told when there is new work or less of it."""

    def wake(self) -> None:
        """A bulk was submitted."""
        ...

    def drop(self, bulk_id: BulkId) -> None:
        """A bulk was cancelled or paused: send nothing more of it (until it is resumed)."""
        ...


class _Asleep:
    def wake(self) -> None:
        return None

    def drop(self, bulk_id: BulkId) -> None:
        return None


class SubmitBulk:
    def __init__(
        self,
        *,
        accounts: AccountStore,
        templates: TemplateStore,
        bulks: BulkStore,
        quota: QuotaLedger,
        idempotency: IdempotencyStore,
        clock: Clock,
        waker: BulkWaker | None = None,
        new_id: Callable[[], str] = lambda: str(uuid.uuid4()),
        timing: SendTiming | None = None,
        progress: ProgressBus | None = None,
    ) -> None:
        self._accounts = accounts
        self._templates = templates
        self._bulks = bulks
        self._quota = quota
        self._keyed = IdempotentSubmits(keys=idempotency, clock=clock)
        self._clock = clock
        self._waker = waker or _Asleep()
        self._new_id = new_id
        self._timing = timing or SendTiming()
        self._progress = progress

    async def __call__(self, principal: Principal, command: SubmitBulkCommand) -> SubmittedBulk:
        if command.idempotency is None:
            return await self._submit(principal, command)
        organisation_id = principal.organisation.id
        keyed = KeyedRequest.fingerprinted(
            organisation_id, command.idempotency.key, command.idempotency.request_fingerprint
        )
        return await self._keyed.run(
            keyed,
            Submitting(
                submit=lambda: self._submit(principal, command),
                kept=lambda submitted: json.dumps(kept_answer(submitted)),
                replay=lambda answer: self.replay(organisation_id, json.loads(answer)),
            ),
        )

    async def replay(
        self, organisation_id: OrganisationId, kept: Mapping[str, Any]
    ) -> SubmittedBulk:
        """The first 202 again, from what its idempotency key kept (``kept_answer``)."""
        bulk = await self._bulks.get_bulk(BulkId(kept["bulk_id"]), organisation_id)
        if bulk is None:
            raise BulkNotFound(kept["bulk_id"])
        number = kept["phone_number"]
        return SubmittedBulk(
            bulk=bulk,
            phone_number=PhoneNumber(
                **{
                    **number,
                    "id": PhoneNumberRowId(number["id"]),
                    "business_account_id": BusinessAccountId(number["business_account_id"]),
                }
            ),
            unique_recipients=kept["unique_recipients"],
            quota=QuotaInfo(**kept["quota"]),
        )

    async def _submit(self, principal: Principal, command: SubmitBulkCommand) -> SubmittedBulk:
        organisation_id = principal.organisation.id
        found = await self._accounts.find_sender(organisation_id, command.phone_number_id)
        if found is None:
            raise PhoneNumberNotFound(command.phone_number_id)
        number, account, _ = found
        template = await approved_template(
            self._templates, account.id, command.template_name, command.language
        )
        prepared = prepare_recipients(parse_template(template), command.recipients)
        throughput = self._timing.throughput(number.throughput_level)
        pacing = check_cap(parse_pacing(command.pacing), throughput=throughput)
        window = None
        if command.send_window is not None:
            timezone = principal.organisation.profile.timezone
            window = SendWindow.parse(*command.send_window, fallback_zone=timezone)
        now = self._clock.now()
        send_at = None if command.send_at is None else parse_send_at(command.send_at, now=now)
        # A scheduled bulk is planned as the quota and the estimate will be when it starts.
        start = now if send_at is None else send_at
        waits = zone_sets = None
        if window is not None:
            lookup = ZoneLookup()
            waits = openings(window, prepared.e164s, start, lookup)
            zone_sets = [lookup.zones_of(e164) for e164 in prepared.e164s]
        # The plan and the stored bulk under the organisation's quota hold: no single send or
        # bulk is decided between this reading and the bulk's recipients being stored.
        async with self._quota.holding(organisation_id, since=start - QUOTA_WINDOW) as book:
            plan, taken = _quota_plan(number, prepared, book, start)
            estimate = estimate_minutes(
                number,
                pacing,
                plan,
                prepared,
                start,
                timing=self._timing,
                sharers=await self._sharers(number),
            )
            if window is not None and zone_sets is not None:
                rate = send_rate(number, pacing, plan, timing=self._timing)
                waited = windowed_seconds(zone_sets, window, rate=rate, start=start)
                estimate = max(estimate, (waited + self._timing.overhead_seconds) / 60.0)
            new_bulk = NewBulk(
                id=BulkId(self._new_id()),
                task_id=self._new_id(),
                organisation_id=organisation_id,
                phone_number_row_id=number.id,
                template_id=template.id,
                pacing=str(pacing),
                total_recipients=prepared.total_recipients,
                estimated_time_minutes=estimate,
                created_at=now,
                created_by=principal.api_key.id,
                send_at=send_at,
                parent_bulk_id=command.parent_bulk_id,
                send_window=window,
            )
            # Streamed into the store: the rows are made as they are written.
            bulk = await self._bulks.create_bulk(
                new_bulk, _chunks(prepared, plan, taken, openings=waits)
            )
        self._waker.wake()
        if self._progress is not None:  # WatchBulks shows a new bulk at once
            self._progress.publish(bulk.id, bulk)
        return SubmittedBulk(
            bulk=bulk,
            phone_number=number,
            unique_recipients=prepared.unique_recipients,
            quota=QuotaInfo.of(plan),
        )

    async def _sharers(self, number: PhoneNumber) -> list[Sharer]:
        """The bulks queued or sending on ``number``: what each still has to send, at what cap."""
        running = await self._bulks.bulks_to_run(number.id)
        return [
            Sharer(
                remaining=bulk.counters.pending,
                max_rate=bulk_rate_cap_for(bulk.pacing, number.messaging_limit_tier),
            )
            for bulk in running
        ]


def _quota_plan(
    number: PhoneNumber, prepared: PreparedBulk, book: QuotaBook, start: datetime
) -> tuple[QuotaPlan, Container[str]]:
    """The bulk's plan against the book, and the recipients that cost it nothing: those in the
    window, and those owed a slot already (another bulk's, a single send's in flight)."""
    taken = book.window.keys() | book.owed
    plan = plan_quota(
        tier_or_default(number.messaging_limit_tier),
        already_messaged=taken,
        window_entries=list(book.window.values()),
        candidates=prepared.wa_ids(),
        now=start,
        owed=len(book.owed_outside_window()),
    )
    return plan, taken


def kept_answer(submitted: SubmittedBulk) -> dict[str, Any]:
    """What the key keeps to answer the 202 again: ids and figures of the business's own."""
    return {
        "bulk_id": submitted.bulk.id,
        "unique_recipients": submitted.unique_recipients,
        "quota": asdict(submitted.quota),
        "phone_number": asdict(submitted.phone_number),
    }


def estimate_minutes(
    number: PhoneNumber,
    pacing: Pacing,
    plan: QuotaPlan,
    prepared: PreparedBulk,
    now: datetime,
    *,
    timing: SendTiming | None = None,
    sharers: Sequence[Sharer] = (),
) -> float:
    """Minutes from now until the bulk is complete: quota waits, the number shared with
    ``sharers`` (bulks already on it) and the engine's ``timing`` included."""
    timing = timing or SendTiming()
    throughput = timing.number_rate(timing.throughput(number.throughput_level))
    own_cap = timing.bulk_rate(bulk_rate_cap(pacing, plan.tier))
    rate = send_rate(number, pacing, plan, timing=timing)
    unique = prepared.unique_recipients
    available = unique if plan.quota_available is None else plan.sendable_now
    with_quota = estimate_seconds(
        unique, rate, quota_available=available, quota_refills=plan.refill_offsets(now)
    )
    sharing = shared_seconds(
        unique,
        throughput=throughput,
        max_rate=own_cap,
        others=[replace(s, max_rate=timing.bulk_rate(s.max_rate)) for s in sharers],
    )
    return (max(with_quota, sharing) + timing.overhead_seconds) / 60.0


def send_rate(number: PhoneNumber, pacing: Pacing, plan: QuotaPlan, *, timing: SendTiming) -> float:
    """Messages/s the engine achieves for this bulk alone: the number's or the bulk's cap."""
    throughput = timing.number_rate(timing.throughput(number.throughput_level))
    own_cap = timing.bulk_rate(bulk_rate_cap(pacing, plan.tier))
    return throughput if own_cap is None else min(throughput, own_cap)


def _chunks(
    prepared: PreparedBulk,
    plan: QuotaPlan,
    window: Container[str],
    size: int = RECIPIENT_CHUNK,
    *,
    openings: Sequence[datetime | None] | None = None,
) -> Iterator[NewRecipientChunk]:
    """The recipients in submission order, ``size`` at a time, sliced off the prepared columns;
    the k-th recipient new to the window beyond the room now waits for the k-th refill, and
    each waits for its send window's opening (``openings``), whichever is later."""
    e164s, used = prepared.e164s, prepared.variables_used
    nobody_waits = not plan.refill_times and openings is None
    new = 0
    fits_now, refill_times = plan.fits_now, plan.refill_times
    for start in range(0, len(e164s), size):
        numbers = e164s[start : start + size]
        not_before: list[datetime | None] | None = None
        if not nobody_waits:
            not_before = []
            for k, e164 in enumerate(numbers):
                wait = None
                if e164[1:] not in window and refill_times:
                    if new >= fits_now:
                        wait = refill_times[new - fits_now]
                    new += 1
                opening = None if openings is None else openings[start + k]
                if opening is not None:
                    wait = opening if wait is None else max(wait, opening)
                not_before.append(wait)
        yield NewRecipientChunk(
            first_position=start,
            e164s=numbers,
            variables_used=used[start : start + size],
            not_before=not_before,
        )
