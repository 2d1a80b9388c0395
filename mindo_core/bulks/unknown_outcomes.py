"""What an organisation does with a bulk recipient whose outcome stayed unknown: its policy, and
when the webhooks have said enough to settle it.

A recipient is ``unconfirmed`` when its call to Meta started and no answer came (a crash, a
timeout). Meta sends a status webhook for every message it accepted, so such a recipient's own
webhook may still confirm it. When it has not come, while the first webhook of a message sent
after it on the same number was heard ``window`` ago or more, Meta most likely never had it:
Meta answers a number's messages in order, seconds apart, so a window of minutes is a wide
margin. The organisation's ``UnknownOutcomePolicy`` then settles it:

    fail    (default) failed, with a reason saying why: no duplicate, at the risk of a missed one
    resend  pending again, sent once more by the engine (``resent_at``; at most once, and only
            within ``RESEND_WITHIN`` of its call): no missed one, at the risk of a duplicate
            when Meta's own webhook is later than the window

The window is bounded (``MIN_WINDOW`` to ``MAX_WINDOW``, 10 s to 24 h): a later message heard
proves webhooks flow, so even a short window does not settle anything during an outage of
Meta's webhooks, but under about a minute a webhook delayed on its own (Meta retries a post
that failed) may come after the recipient was resent or failed; beyond a day, what Meta has not
reported it never will.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Final, Literal, get_args

from mindo_core.bulks.model import BulkStatus
from mindo_core.domain.errors import InvalidRequest

__all__ = [
    "DEFAULT_WINDOW",
    "MAX_WINDOW",
    "MIN_WINDOW",
    "RESEND_WITHIN",
    "UNKNOWN_OUTCOME_ACTIONS",
    "UnknownOutcomeAction",
    "UnknownOutcomePolicy",
    "action_named",
    "heard_before",
    "settled_unknown_reason",
    "unknown_outcome_policy",
]

UnknownOutcomeAction = Literal["fail", "resend"]
UNKNOWN_OUTCOME_ACTIONS: tuple[UnknownOutcomeAction, ...] = get_args(UnknownOutcomeAction)

DEFAULT_WINDOW: Final = timedelta(minutes=10)
MIN_WINDOW: Final = timedelta(seconds=10)
MAX_WINDOW: Final = timedelta(hours=24)
# A message that would reach its recipient more than a day after it was sent is another message
# (a login code long expired, an offer long over): older unknowns are failed, not resent.
RESEND_WITHIN: Final = timedelta(hours=24)


@dataclass(frozen=True, kw_only=True)
class UnknownOutcomePolicy:
    action: UnknownOutcomeAction = "fail"
    window: timedelta = DEFAULT_WINDOW


def unknown_outcome_policy(*, action: str, window: timedelta) -> UnknownOutcomePolicy:
    """The policy, or ``InvalidRequest`` naming every field that is wrong (nothing half-set)."""
    problems: dict[str, list[str]] = {}
    chosen = action.strip().lower()
    if chosen not in UNKNOWN_OUTCOME_ACTIONS:
        problems["policy"] = [f"{action!r} is not one of {', '.join(UNKNOWN_OUTCOME_ACTIONS)}"]
    if not MIN_WINDOW <= window <= MAX_WINDOW:
        problems["window"] = [
            f"{spoken(window)} is outside {spoken(MIN_WINDOW)} to {spoken(MAX_WINDOW)}"
        ]
    if problems:
        text = "; ".join(f"{name}: {p[0]}" for name, p in problems.items())
        raise InvalidRequest(f"Unknown-outcome policy not changed: {text}", field_errors=problems)
    return UnknownOutcomePolicy(action=action_named(chosen), window=window)


def heard_before(now: datetime, policy: UnknownOutcomePolicy) -> datetime:
    """A later message's first webhook heard at or before this time settles the unknown."""
    return now - policy.window


def settled_unknown_reason(window: timedelta, *, not_resent_because: str | None = None) -> str:
    """The ``error_message`` of an unknown recipient settled as failed: by the policy ``fail``,
    or by ``resend`` when it could not be resent (``not_resent_because``)."""
    why = "to avoid a duplicate message" if not_resent_because is None else not_resent_because
    return (
        f"Outcome unknown: no status webhook within {spoken(window)} while later messages' "
        f"webhooks arrived; not resent {why}"
    )


@dataclass(frozen=True, kw_only=True)
class UnknownSettlement:
    """What becomes of one unknown recipient the webhooks have settled: ``resend`` (pending
    again), or failed with ``reason``."""

    resend: bool
    reason: str | None = None


_OVER_FOR_GOOD: Final = "CANCELLED"
_FINISHED: frozenset[BulkStatus] = frozenset({"COMPLETED", "PARTIAL", "FAILED"})


def settlement_for(
    policy: UnknownOutcomePolicy,
    *,
    bulk_status: BulkStatus,
    stop_reason: str | None,
    resent_before: bool,
    age: timedelta,
) -> UnknownSettlement:
    """``resend`` only when the policy says so, the recipient was never resent, its call
    started no more than ``RESEND_WITHIN`` ago (``age``), and its bulk may send again:
    running, paused, or finished by itself (``reopened_status``); a cancelled bulk, or one
    stopped for a reason (a token, a paused template), sends nothing more."""
    window = policy.window
    if policy.action == "fail":
        return UnknownSettlement(resend=False, reason=settled_unknown_reason(window))
    why: str | None = None
    if resent_before:
        why = "a second time: it was resent once already"
    elif age > RESEND_WITHIN:
        why = f"because it was first sent more than {spoken(RESEND_WITHIN)} ago"
    elif bulk_status == _OVER_FOR_GOOD:
        why = "because the bulk was cancelled"
    elif stop_reason is not None:
        why = "because the bulk was stopped"
    if why is None:
        return UnknownSettlement(resend=True)
    return UnknownSettlement(
        resend=False, reason=settled_unknown_reason(window, not_resent_because=why)
    )


def reopened_status(status: BulkStatus) -> BulkStatus:
    """Where a bulk goes when a recipient is resent: a finished one sends again (PROCESSING);
    one still running, paused or scheduled stays as it is."""
    return "PROCESSING" if status in _FINISHED else status


def action_named(text: str) -> UnknownOutcomeAction:
    """The action ``text`` names, as stored; ``ValueError`` for any other text."""
    for known in UNKNOWN_OUTCOME_ACTIONS:
        if text == known:
            return known
    raise ValueError(f"{text!r} is not an unknown-outcome action")


def spoken(window: timedelta) -> str:
    """``10 s``, ``10 min``, ``1.5 h``: a window as people say it."""
    seconds = window.total_seconds()
    if seconds < 60:
        return f"{seconds:g} s"
    if seconds < 3600:
        return f"{seconds / 60:g} min"
    return f"{seconds / 3600:g} h"
