"""Which recipients of a finished bulk are worth sending again, and why the others are not.

One table decides (``RESENDABLE_CODES``): Meta's codes for a failure that says nothing against
the recipient, so the same message may go through later. These are the codes the engine itself
retries (``domain.meta_codes``: throttling, Meta's temporary errors) once its retries ran out,
plus Meta's per-user marketing limit (131049, "retry later" in Meta's words) and the errors that
stop a whole campaign while the account is being fixed (an expired token, a billing problem, a
template paused for quality). A recipient is taken when it:

* failed with one of those codes, or with no code at all (no answer from Meta: a timeout or a
  dropped connection after the engine's retries), or
* was skipped because the bulk stopped early (its template was paused, the token expired):
  nothing of it reached Meta.

Never taken: one that was sent, delivered or read (``succeeded``); one refused because it is on
the organisation's suppression list (``opted_out``); one whose call was interrupted by a crash
(``outcome_unknown``: it may have been delivered, and a duplicate is worse than a miss); one a
user cancelled (``cancelled``); one that failed for a reason about the recipient itself
(``permanent_error``, e.g. 131026 undeliverable). With the client's own ``error_codes``, only
the recipients that failed with one of them are taken, the rest are ``not_requested``.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Final, Literal, cast, get_args

from mindo_core.bulks.model import BulkRecipient, BulkStatus
from mindo_core.domain.meta_codes import META_CODE_POLICIES

__all__ = [
    "LEFT_REASONS",
    "RESENDABLE_CODES",
    "LeftReason",
    "ResendSelection",
    "TakenReason",
    "can_resend_from",
    "resend_verdict",
    "select_for_resend",
]

TakenReason = Literal["retryable_error", "stopped"]
LeftReason = Literal[
    "succeeded",
    "opted_out",
    "outcome_unknown",
    "cancelled",
    "permanent_error",
    "not_requested",
    "suppressed",
]
LEFT_REASONS: tuple[LeftReason, ...] = get_args(LeftReason)

# The engine's error message of a recipient refused because it opted out (engine.claiming).

_ACCOUNT_FIXABLE: Final = frozenset(
    {
        0,  # token invalidated
        190,  # access token expired
        131042,  # payment issue
        132015,  # template paused for low quality (3 h or 6 h)
    }
)
RESENDABLE_CODES: frozenset[int] = frozenset(
    {code for code, policy in META_CODE_POLICIES.items() if policy.retryable}
    | {131049}  # per-user marketing limit: Meta asks to retry later
    | _ACCOUNT_FIXABLE
)

_TAKEN: frozenset[str] = frozenset(get_args(TakenReason))
# A bulk whose sending is over: a resend can never race its own parent's sends.
_OVER: frozenset[BulkStatus] = frozenset({"COMPLETED", "PARTIAL", "FAILED", "CANCELLED"})


def can_resend_from(status: BulkStatus) -> bool:
    return status in _OVER


def resend_verdict(
    recipient: BulkRecipient, *, error_codes: frozenset[int] | None = None
) -> TakenReason | LeftReason:
    """Why ``recipient`` is taken into a resend, or why it is left."""
    state = recipient.state
    if state in ("sent", "delivered", "read"):
        return "succeeded"
    if state == "unconfirmed":
        return "outcome_unknown"
    if state == "cancelled":
        return "cancelled"
    if state == "opted_out":
        return "opted_out"
    if state == "skipped":
        return "stopped" if error_codes is None else "not_requested"
    if state != "failed":  # pending or in flight: only in a bulk that is not over
        return "not_requested"
    code = recipient.error_code
    if error_codes is not None:
        return "retryable_error" if code in error_codes else "not_requested"
    if code is None or code in RESENDABLE_CODES:
        return "retryable_error"
    return "permanent_error"


@dataclass(kw_only=True)
class ResendSelection:
    """The recipients taken (in the parent's order), and the count of those left by reason."""

    taken: list[BulkRecipient] = field(default_factory=list)
    left: dict[LeftReason, int] = field(default_factory=dict)

    def leave(self, reason: LeftReason, count: int = 1) -> None:
        self.left[reason] = self.left.get(reason, 0) + count

    @property
    def left_count(self) -> int:
        return sum(self.left.values())

    def left_by_reason(self) -> dict[str, int]:
        """Every reason with a count, in ``LEFT_REASONS`` order."""
        return {reason: self.left[reason] for reason in LEFT_REASONS if reason in self.left}


def select_for_resend(
    recipients: Iterable[BulkRecipient],
    *,
    error_codes: frozenset[int] | None = None,
    selection: ResendSelection | None = None,
) -> ResendSelection:
    """Adds ``recipients`` to ``selection`` (a new one when None): each taken or left."""
    selection = selection if selection is not None else ResendSelection()
    for recipient in recipients:
        verdict = resend_verdict(recipient, error_codes=error_codes)
        if verdict in _TAKEN:
            selection.taken.append(recipient)
        else:
            selection.leave(cast(LeftReason, verdict))
    return selection
