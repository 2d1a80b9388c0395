"""Status webhooks are posted in rounds: everything due is gathered, then posted at once.

Posts of one round go concurrently and rounds go one after another, so a round takes at most one
status per message: the others wait for the next round, and a message's statuses reach the
receiver in their posting order (unless a retry or a configured reordering says otherwise).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, NamedTuple

from mindo_sandbox.accepted import AcceptedMessage
from mindo_sandbox.status_plan import MessagePlan, PlannedStatus
from mindo_sandbox.webhook_payloads import status_object


class MessageTrack:
    """One message's plan, and whether a delivered or read has carried its pricing yet.

    Shared by the message's scheduled statuses; gone with the last of them.
    """

    __slots__ = ("delivery_priced", "message", "plan")

    def __init__(self, message: AcceptedMessage, plan: MessagePlan) -> None:
        self.message = message
        self.plan = plan
        self.delivery_priced = False

    def status_object(self, planned: PlannedStatus) -> dict[str, Any]:
        """Pricing goes with ``sent`` and with whichever of delivered/read is posted first."""
        priced = planned.status == "sent"
        if planned.status in ("delivered", "read"):
            priced = not self.delivery_priced
            self.delivery_priced = True
        return status_object(
            self.message,
            planned.status,
            planned.happened_at,
            priced=priced,
            failure_code=self.plan.failure_code,
        )


class Scheduled(NamedTuple):
    """A status waiting in the sender's heap, ordered by when it is due (a named tuple: the heap
    compares them, and one is built per status on the send path)."""

    post_at: float
    seq: int  # breaks ties between statuses due at the same time: first scheduled, first posted
    track: MessageTrack
    planned: PlannedStatus


def select_round(due: Sequence[Scheduled]) -> tuple[list[Scheduled], list[Scheduled]]:
    """Split the statuses due (in posting order) into those posted now and those put off.

    Meta's rule, read implies delivered: a delivered whose read is due in the same round is
    dropped (not for a reordered message, whose late delivered is the point).
    """
    read_due = {s.track for s in due if s.planned.status == "read" and not s.track.plan.reordered}
    posted: list[Scheduled] = []
    put_off: list[Scheduled] = []
    seen: set[MessageTrack] = set()
    for item in due:
        if item.planned.status == "delivered" and item.track in read_due:
            continue
        if item.track in seen:
            put_off.append(item)
            continue
        seen.add(item.track)
        posted.append(item)
    return posted, put_off
