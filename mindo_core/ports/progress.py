"""The progress bus: who changed a bulk tells everyone watching it.

The engine publishes a bulk's snapshot after every change it makes (claims that start it, each
batch of outcomes, finish, stop), and so do submissions, cancellations, pauses and status
webhooks. WatchBulk subscribes to one bulk; WatchBulks to every bulk of an organisation. The
port is small on purpose so that processes can share one bus: on PostgreSQL,
``adapters.sql.progress_bus`` carries publications across processes with LISTEN/NOTIFY; on
SQLite, ``InProcessProgressBus`` serves the one process that sends.

Delivery is "latest wins", never a queue: each subscription holds only the newest snapshot it
has not taken yet, in one slot with an event. Publishing is O(subscribers of that bulk), never
waits and never grows memory; a slow subscriber simply skips intermediate snapshots, and
counters are cumulative, so nothing a client needs is lost by skipping. An organisation's
subscription holds the newest snapshot of each of its bulks changed since the last take (one
per bulk, so its memory is bounded by the bulks changing between two takes).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Protocol

from mindo_core.bulks.model import Bulk, BulkId
from mindo_core.domain.accounts import OrganisationId


class ProgressSubscription(Protocol):
    async def next(self) -> Bulk:
        """Wait for a snapshot newer than the last one taken, and take the newest."""
        ...

    def poll(self) -> Bulk | None:
        """The newest snapshot not taken yet, without waiting; None when there is none."""
        ...

    def close(self) -> None:
        """Stop receiving; idempotent."""
        ...


class OrganisationSubscription(Protocol):
    async def next(self) -> Sequence[Bulk]:
        """Wait for a change; the newest snapshot of each bulk changed since the last take,
        in the order they first changed (never empty)."""
        ...

    def poll(self) -> Sequence[Bulk]:
        """The same without waiting; empty when nothing changed."""
        ...

    def close(self) -> None:
        """Stop receiving; idempotent."""
        ...


class ProgressBus(Protocol):
    def publish(self, bulk_id: BulkId, snapshot: Bulk) -> None:
        """Never blocks."""
        ...

    def subscribe(self, bulk_id: BulkId) -> ProgressSubscription: ...

    def subscribe_organisation(
        self, organisation_id: OrganisationId
    ) -> OrganisationSubscription: ...
