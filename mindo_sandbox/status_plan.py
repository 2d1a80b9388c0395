"""Which statuses an accepted message gets, when they happen, and when they are posted.

Decided once, when the send is accepted: the outcome (sent, delivered, read, or a configured
failure), the delay of each status, and whether the message's last two statuses are posted in
reverse order.
"""

from __future__ import annotations

import math
import random
from dataclasses import dataclass
from typing import Literal, NamedTuple

from mindo_sandbox.webhook_config import StatusShares, WebhookConfig

StatusName = Literal["sent", "delivered", "read", "failed"]
Outcome = Literal["sent", "delivered", "read"]


class PlannedStatus(NamedTuple):
    """One status of a message (a named tuple: several are built on every accepted send, and a
    frozen dataclass costs ten times more to build)."""

    status: StatusName
    happened_at: float  # Unix seconds: the status's ``timestamp``
    post_at: float  # Unix seconds: when it is due to be posted (later when reordered)


@dataclass(frozen=True, kw_only=True)
class MessagePlan:
    statuses: tuple[PlannedStatus, ...]  # in the order they are due to be posted
    failure_code: int | None = None
    reordered: bool = False


class OutcomeDeck:
    """Deals each message its last status so that the shares hold exactly, not on average.

    The deck holds the outcomes of the shortest run of messages in which every share is a whole
    number (shares count in thousandths: delivered 0.9 and read 0.6 make a deck of 10 with 6
    read, 3 delivered, 1 sent). It is shuffled with the seeded random, dealt, then dealt again.
    """

    _RESOLUTION = 1000

    def __init__(self, shares: StatusShares, rng: random.Random) -> None:
        read = round(shares.read * self._RESOLUTION)
        delivered = round(shares.delivered * self._RESOLUTION) - read
        sent = self._RESOLUTION - read - delivered
        step = math.gcd(read, delivered, sent)
        counts: dict[Outcome, int] = {"read": read, "delivered": delivered, "sent": sent}
        self._cards: list[Outcome] = [o for o, n in counts.items() for _ in range(n // step)]
        self._rng = rng
        self._deck: list[Outcome] = []

    @property
    def size(self) -> int:
        return len(self._cards)

    def deal(self) -> Outcome:
        if not self._deck:
            self._deck = list(self._cards)
            self._rng.shuffle(self._deck)
        return self._deck.pop()


class StatusPlanner:
    def __init__(self, config: WebhookConfig) -> None:
        self._config = config
        # One random per concern, so that enabling one does not shift another's sequence.
        self._deck = OutcomeDeck(config.shares, random.Random(f"{config.seed}:outcomes"))
        self._delays = random.Random(f"{config.seed}:delays")
        self._reorder = random.Random(f"{config.seed}:reorder")

    def plan(self, wa_id: str, accepted_at: float) -> MessagePlan:
        delays = self._config.delays_ms
        sent = accepted_at + self._draw(delays.sent)
        delivered = max(sent, accepted_at + self._draw(delays.delivered))
        read = max(delivered, accepted_at + self._draw(delays.read))
        code = self._config.failures.get(wa_id)
        if code is not None:
            failed = PlannedStatus("failed", delivered, delivered)
            return MessagePlan(statuses=(failed,), failure_code=code)
        outcome = self._deck.deal()
        happened: list[tuple[StatusName, float]] = [("sent", sent)]
        if outcome != "sent":
            happened.append(("delivered", delivered))
        if outcome == "read":
            happened.append(("read", read))
        return self._posting_order(happened)

    def _posting_order(self, happened: list[tuple[StatusName, float]]) -> MessagePlan:
        in_order = [PlannedStatus(s, t, t) for s, t in happened]
        rate = self._config.reorder_rate
        if len(in_order) < 2 or not rate or self._reorder.random() >= rate:
            return MessagePlan(statuses=tuple(in_order))
        # The last status is posted when the one before it happened, and that one after it.
        *first, before, last = in_order
        swapped = (
            last._replace(post_at=before.happened_at),
            before._replace(post_at=last.happened_at),
        )
        return MessagePlan(statuses=(*first, *swapped), reordered=True)

    def _draw(self, bounds: tuple[float, float]) -> float:
        low, high = bounds
        return (low if low == high else self._delays.uniform(low, high)) / 1000.0
