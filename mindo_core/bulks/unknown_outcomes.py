"""Settling "outcome unknown" recipients by what the webhooks say about the number.

A recipient whose call to Meta had started when its worker died is ``unconfirmed``: Meta may
have accepted it or never seen it. If Meta accepted it, its status webhook (``sent``,
``delivered``, …, carrying its callback data) confirms it. If Meta never saw it, no webhook will
ever come; what tells the two apart is the messages sent after it from the same number: Meta
posts statuses roughly in sending order, so once theirs have come and the unknown one's has
not, for ``window`` (the organisation's, 10 minutes by default), Meta most likely never received
it. The organisation's policy then settles it: ``fail`` (the default: failed, with
``NOT_AT_META_REASON``) or ``resend`` (pending again, sent once more, marked resent; a
recipient is resent at most once, and never for a bulk cancelled or stopped).

The residual risk is Meta's lateness: a webhook can come later than the window (Meta retries
undelivered webhooks for days, and an outage of our webhook endpoint delays them all). With
``resend``, such a recipient gets the message twice; with ``fail``, it is reported failed and a
late webhook still moves it to what Meta says. A longer window trades that risk for a later
settlement.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Final, Literal

from mindo_core.bulks.model import BulkId
from mindo_core.domain.accounts import OrganisationId, UnknownOutcomePolicy
from mindo_core.domain.messages import MessageId

__all__ = [
    "LATER_CALLS",
    "NOT_AT_META_REASON",
    "SweepAction",
    "UnknownRecipient",
    "sweep_action",
]

NOT_AT_META_REASON: Final = (
    "Outcome unknown, settled as failed: no status webhook came for this message while those of "
    "messages sent after it from the same number did, so Meta most likely never received it"
)

SweepAction = Literal["wait", "fail", "resend"]

# The evidence of one recipient: the webhooks of the next this many calls its number started
# after it (bounded, so that reading it costs the same whatever the number sent since).
LATER_CALLS: Final = 50


@dataclass(frozen=True, kw_only=True, slots=True)
class UnknownRecipient:
    """An ``unconfirmed`` recipient and what the store knows around it."""

    message_id: MessageId
    bulk_id: BulkId
    organisation_id: OrganisationId
    call_started_at: datetime
    # The earliest status webhook (its time) of a message sent after it from the same number;
    # None: none came yet.
    later_webhook_at: datetime | None
    # It was resent once already (then it is never resent again).
    resent: bool
    # Its bulk may send again: not cancelled, not stopped early.
    may_resend: bool


def sweep_action(
    recipient: UnknownRecipient,
    *,
    policy: UnknownOutcomePolicy,
    window: timedelta,
    now: datetime,
) -> SweepAction:
    """``wait`` until the webhooks of later messages have come for ``window`` without its
    own; then the policy: ``resend`` once, if its bulk may send, else ``fail``."""
    seen = recipient.later_webhook_at
    if seen is None or now - seen < window:
        return "wait"
    if policy == "resend" and not recipient.resent and recipient.may_resend:
        return "resend"
    return "fail"
