"""What one lane did lately, for its live estimate (``estimating``): when its recipients were
settled for good (the last window's worth) and which wait for a retry, until when."""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass, field

from mindo_core.domain.messages import MessageId
from mindo_core.throughput.live_estimate import LIVE_WINDOW_SECONDS

__all__ = ["LivePace"]


@dataclass(eq=False)
class LivePace:
    """What one lane did lately, in monotonic seconds."""

    sending_since: float
    settled_at: deque[float] = field(default_factory=deque)
    retries_at: dict[MessageId, float] = field(default_factory=dict)
    # The store's next due time while every pending recipient waits for quota; None: not.
    quota_due_at: float | None = None
    next_estimate_at: float = 0.0
    publishing: bool = False

    def settled(self, message_id: MessageId, now: float) -> None:
        self.retries_at.pop(message_id, None)
        self.settled_at.append(now)
        while self.settled_at and self.settled_at[0] < now - LIVE_WINDOW_SECONDS:
            self.settled_at.popleft()

    def waiting(self, message_id: MessageId, until: float) -> None:
        self.retries_at[message_id] = until
