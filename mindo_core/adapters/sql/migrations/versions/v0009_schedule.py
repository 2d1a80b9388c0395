"""Campaign control: an accepted bulk's answer kept with its idempotency key; a bulk's send_at.

Revision ID: 0009
Revises: 0008
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0009"
down_revision: str | None = "0008"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("idempotency_keys") as batch:
        batch.add_column(sa.Column("answer", sa.Text(), nullable=True))
    with op.batch_alter_table("bulks") as batch:
        # UTCDateTime in the models: timestamptz on PostgreSQL, naive UTC text on SQLite.
        batch.add_column(sa.Column("send_at", sa.DateTime(timezone=True), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("bulks") as batch:
        batch.drop_column("send_at")
    with op.batch_alter_table("idempotency_keys") as batch:
        batch.drop_column("answer")
