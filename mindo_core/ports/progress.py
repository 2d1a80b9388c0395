"""The progress bus: who changed a bulk tells everyone watching it.

The engine publishes a bulk's snapshot after every change it makes (claims that start it, each
batch of outcomes, finish, stop), and so do cancellations (and, later, webhooks). WatchBulk
subscribes. The port is small on purpose so that processes can share one bus: on PostgreSQL,
``adapters.sql.progress_bus`` carries publications across processes with LISTEN/NOTIFY; on
SQLite, ``InProcessProgressBus`` serves the one process that sends.

Delivery is "latest wins", never a queue: each subscription holds only the newest snapshot it
has not taken yet, in one slot with an event. Publishing is O(subscribers of that bulk), never
waits and never grows memory; a slow subscriber simply skips intermediate snapshots, and
counters are cumulative, so nothing a client needs is lost by skipping.
"""

from __future__ import annotations

from typing import Protocol

from mindo_core.bulks.model import Bulk, BulkId


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


class ProgressBus(Protocol):
    def publish(self, bulk_id: BulkId, snapshot: Bulk) -> None:
        """Never blocks."""
        ...

    def subscribe(self, bulk_id: BulkId) -> ProgressSubscription: ...
