"""The engine's decisions, as pure functions over plain data: what an answer from Meta means
for its recipient and its bulk, what a lane with nothing ready to send does next, how much to
claim, and a bulk's own rate cap. The engine's pieces carry them out; nothing here waits,
reads a clock or touches a store.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Literal

from mindo_core.bulks.model import NO_ANSWER_REASON, Bulk
from mindo_core.domain.accounts import PhoneNumber
from mindo_core.throughput.pacing import bulk_rate_cap_for
from mindo_core.throughput.retry_policy import RetryDecision, SendOutcome

__all__ = [
    "EARLY_START_S",
    "DryStep",
    "OutcomeRecord",
    "RecordKind",
    "claim_size",
    "expected_turns",
    "fair_share",
    "needs_finishing",
    "rate_cap",
    "record_for",
    "step_when_dry",
    "stops_every_bulk_of_the_number",
]

# Timers fire up to a millisecond late (epoll counts whole milliseconds), and a late send would
# delay every later one (a number's gate keeps no tolerance). So a send may start up to this much
# before its slot: the slot is still recorded at its time, and every rate window already has
# margin_seconds (20 ms a second) of room.
EARLY_START_S = 0.001

# Codes that concern the template only: the other bulks of the number go on.
_TEMPLATE_STOP_CODES = frozenset({132015, 132016})
_RUNNING = frozenset({"QUEUED", "PROCESSING"})

RecordKind = Literal["accept", "refuse", "opt_out", "release", "unconfirm"]
DryStep = Literal["claim", "wait", "ask_store"]


@dataclass(frozen=True, kw_only=True)
class OutcomeRecord:
    """What is recorded for one recipient after Meta's answer: accepted; released to be retried
    in ``retry_in`` seconds; unconfirmed (no answer: perhaps sent, never retried); or refused
    with Meta's code and a message, which ``stops`` the bulk when the code says so."""

    kind: RecordKind
    retry_in: float | None = None
    error_code: int | None = None
    message: str | None = None
    stops: bool = False


def record_for(decision: RetryDecision, outcome: SendOutcome) -> OutcomeRecord:
    """The scheduler's ``decision`` on a send's ``outcome``, as what to record."""
    if decision.action == "done":
        return OutcomeRecord(kind="accept")
    if decision.action == "retry":
        return OutcomeRecord(kind="release", retry_in=decision.delay)
    if decision.action == "unknown":
        return OutcomeRecord(kind="unconfirm", message=NO_ANSWER_REASON)
    # Meta's own words for this recipient; the bulk's stop reason explains the rest.
    text = outcome.title or decision.reason
    message = decision.reason if decision.action == "give_up" else text
    return OutcomeRecord(
        kind="refuse",
        error_code=decision.meta_code,
        message=message,
        stops=decision.action == "stop",
    )


def stops_every_bulk_of_the_number(meta_code: int | None) -> bool:
    """A stopping code stops every bulk of the number (they share the number, its account and
    its token) unless it is about the template alone."""
    return meta_code not in _TEMPLATE_STOP_CODES


def step_when_dry(*, claiming: bool, drained: bool, in_flight: int, set_aside: bool) -> DryStep:
    """A lane with nothing ready to send: claim (or wait for the claim under way), wait for the
    answers and held-back recipients it has, or ask the store whether anything is still due
    (nothing: the bulk is finished)."""
    if claiming or not drained:
        return "claim"
    if in_flight or set_aside:
        return "wait"
    return "ask_store"


def needs_finishing(bulk: Bulk) -> bool:
    """A bulk with nothing left to send is finished in the store unless it is over already."""
    return bulk.status in _RUNNING


def claim_size(*, rate: float, cap: float | None, claim_seconds: float, max_claim: int) -> int:
    """Recipients to claim at once: ``claim_seconds`` of sending at the lane's rate (the
    number's current rate, or the bulk's cap if lower), 1 to ``max_claim``."""
    if cap is not None:
        rate = min(rate, cap)
    wanted = math.ceil(rate * claim_seconds)
    return max(1, min(max_claim, wanted))


def expected_turns(
    now: datetime, *, ahead: int, count: int, rate: float, cap: float | None
) -> list[datetime]:
    """When each of ``count`` recipients just claimed is expected to go, behind ``ahead``
    already queued, one send interval apart at the lane's rate (the number's, or the bulk's cap
    if lower). The first is counted one interval out: the gate may have just sent."""
    if cap is not None:
        rate = min(rate, cap)
    spacing = 1.0 / rate if rate > 0 else 0.0
    return [now + timedelta(seconds=(ahead + k + 1) * spacing) for k in range(count)]


def rate_cap(bulk: Bulk, number: PhoneNumber) -> float | None:
    """The bulk's own limit in messages/s on ``number`` (its pacing and the number's tier)."""
    return bulk_rate_cap_for(bulk.pacing, number.messaging_limit_tier)


def fair_share(numbers_with_work: int, live_workers: int) -> int:
    """How many of the numbers with work one of ``live_workers`` engines holds at most: all
    of them shared out evenly, the remainder one each to some (rounded up, so that none is
    left without an owner)."""
    return -(-numbers_with_work // max(1, live_workers))
