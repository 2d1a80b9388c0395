"""Number ownership across workers: engine heartbeats and one lease per phone number.

Revision ID: 0010
Revises: 0009
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0010"
down_revision: str | None = "0009"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    # UTCDateTime in the models: timestamptz on PostgreSQL, naive UTC text on SQLite.
    op.create_table(
        "engine_workers",
        sa.Column("worker_id", sa.String(length=128), nullable=False),
        sa.Column("expires_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("worker_id", name=op.f("pk_engine_workers")),
    )
    op.create_table(
        "number_leases",
        sa.Column("phone_number_row_id", sa.BigInteger(), nullable=False),
        sa.Column("worker_id", sa.String(length=128), nullable=False),
        sa.Column("expires_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("acquired_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("phone_number_row_id", name=op.f("pk_number_leases")),
    )
    op.create_index(
        op.f("ix_number_leases_worker_id"), "number_leases", ["worker_id"], unique=False
    )


def downgrade() -> None:
    op.drop_index(op.f("ix_number_leases_worker_id"), table_name="number_leases")
    op.drop_table("number_leases")
    op.drop_table("engine_workers")
