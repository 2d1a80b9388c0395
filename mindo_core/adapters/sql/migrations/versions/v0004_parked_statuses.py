"""Status webhooks that arrived before their message was recorded (``delivery``).

Revision ID: 0004
Revises: 0003
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0004"
down_revision: str | None = "0003"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "parked_statuses",
        sa.Column(
            "id",
            sa.BigInteger().with_variant(sa.Integer(), "sqlite"),
            nullable=False,
        ),
        sa.Column("wamid", sa.String(length=128), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        # UTCDateTime in the models: timestamptz on PostgreSQL, naive UTC text on SQLite.
        sa.Column("at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("recipient_id", sa.String(length=32), nullable=False),
        sa.Column("phone_number_id", sa.String(length=64), nullable=False),
        sa.Column("callback_data", sa.Text(), nullable=True),
        sa.Column("error_code", sa.Integer(), nullable=True),
        sa.Column("error_title", sa.Text(), nullable=True),
        sa.Column("error_details", sa.Text(), nullable=True),
        sa.Column("received_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_parked_statuses")),
    )
    op.create_index(op.f("ix_parked_statuses_wamid"), "parked_statuses", ["wamid"])
    op.create_index(op.f("ix_parked_statuses_received_at"), "parked_statuses", ["received_at"])


def downgrade() -> None:
    op.drop_index(op.f("ix_parked_statuses_received_at"), table_name="parked_statuses")
    op.drop_index(op.f("ix_parked_statuses_wamid"), table_name="parked_statuses")
    op.drop_table("parked_statuses")
