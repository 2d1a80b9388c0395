"""A bulk's counters, moved by how many recipients went from which state to which.

The counters live in the ``bulks`` row and change in the same transaction as the recipients,
by increments (``sent_count = sent_count + 3``): reading progress never counts rows, and
recording a batch never recounts the bulk. What a move does to the counters is the core's
rule (``BulkCounters``), applied here to a whole count of recipients at once.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncConnection
from sqlmodel import col

from mindo_core.adapters.sql.tables import BulkRow, metadata
from mindo_core.bulks.model import BulkCounters, BulkId, RecipientState

__all__ = ["CounterMoves"]

# Counter field -> column.
_COLUMNS: Mapping[str, str] = {
    "sent": "sent_count",
    "delivered": "delivered_count",
    "read": "read_count",
    "failed": "failed_count",
    "pending": "pending_count",
    "cancelled": "cancelled_count",
    "opted_out": "opted_out_count",
}


@dataclass
class CounterMoves:
    """Changes to the counters of several bulks, gathered over one transaction."""

    changes: dict[BulkId, dict[str, int]] = field(default_factory=dict)

    def move(
        self, bulk_id: BulkId, before: RecipientState, after: RecipientState, count: int = 1
    ) -> None:
        if count == 0 or before == after:
            return
        gained = BulkCounters.of_tally({after: count})
        lost = BulkCounters.of_tally({before: count})
        columns = self.changes.setdefault(bulk_id, {})
        for name, column in _COLUMNS.items():
            change = getattr(gained, name) - getattr(lost, name)
            if change:
                columns[column] = columns.get(column, 0) + change

    async def apply(self, connection: AsyncConnection) -> None:
        """One UPDATE per bulk whose counters changed, in id order (the order locks are taken)."""
        for bulk_id in sorted(self.changes):
            columns = {c: n for c, n in self.changes[bulk_id].items() if n}
            if not columns:
                continue
            table = metadata.tables[BulkRow.__tablename__]
            increments = {c: table.c[c] + n for c, n in columns.items()}
            statement = sa.update(BulkRow).where(col(BulkRow.id) == bulk_id).values(increments)
            await connection.execute(statement)
        self.changes.clear()
