"""What one lane did lately, for its live estimate (``estimating``): when its recipients were
settled for good (the last window's worth), how many were, which wait for a retry until when,
and how long the retry chains of those that needed one took (first answer to settling)."""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass, field
from datetime import datetime

from mindo_core.domain.messages import MessageId
from mindo_core.throughput.live_estimate import LIVE_WINDOW_SECONDS

__all__ = ["LivePace"]


@dataclass(eq=False)
class LivePace:
    """Monotonic seconds throughout."""

    sending_since: float
    settled_at: deque[float] = field(default_factory=deque)
    settled_count: int = 0
    retries_at: dict[MessageId, float] = field(default_factory=dict)
    # When each recipient waiting for a retry first answered (its chain's start).
    first_answer_at: dict[MessageId, float] = field(default_factory=dict)
    retry_chains: list[float] = field(default_factory=list)
    # The store's next due time while every pending recipient waits for quota; None: not.
    quota_due_at: float | None = None
    # The plan's completion when the plan waits for quota (or a send window): the live
    # estimate is never earlier. None: not read yet for this lane (or the number changed).
    plan_floor: datetime | None = None
    floor_read: bool = False
    next_estimate_at: float = 0.0
    # A re-plan is scheduled or under way.
    publishing: bool = False
    # An answer came after the re-plan under way had read the pace: plan again after it.
    answered_since_plan: bool = False

    def settled(self, message_id: MessageId, now: float) -> None:
        self.retries_at.pop(message_id, None)
        first = self.first_answer_at.pop(message_id, None)
        if first is not None:
            self.retry_chains.append(now - first)
        self.settled_count += 1
        self.settled_at.append(now)
        while self.settled_at and self.settled_at[0] < now - LIVE_WINDOW_SECONDS:
            self.settled_at.popleft()

    def waiting(self, message_id: MessageId, until: float, now: float) -> None:
        self.retries_at[message_id] = until
        self.first_answer_at.setdefault(message_id, now)
