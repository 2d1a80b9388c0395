"""Meta's status webhooks applied to the stored messages (``delivery`` holds the rules)."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Protocol

from mindo_core.delivery.status_rules import DeliveryReport
from mindo_core.delivery.webhook_payloads import StatusUpdate


class DeliveryStore(Protocol):
    """Meta's status webhooks applied to messages (``delivery`` holds the rules)."""

    async def apply_statuses(
        self, updates: Sequence[StatusUpdate], *, received_at: datetime
    ) -> DeliveryReport:
        """One transaction for the batch. Each status moves the message with its wamid, or,
        when no message has that wamid yet, the bulk recipient its callback data names (in
        flight or unconfirmed: the wamid is recorded with it). Bulk counters follow, and
        finished bulks refresh their final status. A status that finds no message is parked
        (``received_at``) for ``apply_parked`` when its ``phone_number_id`` is one of the
        store's numbers, and ignored (unchanged) otherwise."""
        ...

    async def apply_parked(self, *, now: datetime) -> DeliveryReport:
        """Applies, then forgets, the parked statuses whose message now exists; forgets those
        parked more than ``PARKED_STATUS_TTL`` before ``now`` (counted as unchanged). Reads
        first: it writes only when there is something to apply or forget."""
        ...

    async def parked_count(self) -> int: ...
