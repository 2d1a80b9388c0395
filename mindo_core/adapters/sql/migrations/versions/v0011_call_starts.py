"""Call starts: when a bulk recipient's call to Meta was about to start, so that a crash settles
as unknown only the recipients whose call had started.

Revision ID: 0011
Revises: 0009
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0011"
down_revision: str | None = "0009"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("messages") as batch:
        # UTCDateTime in the models: timestamptz on PostgreSQL, naive UTC text on SQLite.
        batch.add_column(sa.Column("call_started_at", sa.DateTime(timezone=True), nullable=True))
    # Rows in flight when this runs were claimed by an engine that marked no call starts: they
    # may have reached Meta, so they count as started (settled as before).
    op.execute("UPDATE messages SET call_started_at = claimed_at WHERE status = 'in_flight'")


def downgrade() -> None:
    with op.batch_alter_table("messages") as batch:
        batch.drop_column("call_started_at")
