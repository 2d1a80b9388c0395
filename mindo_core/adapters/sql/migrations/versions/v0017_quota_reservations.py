"""Quota reservations every process sees: a slot held for a single send in flight, until it
expires.

Revision ID: 0017
Revises: 0016
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0017"
down_revision: str | None = "0016"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    # UTCDateTime in the models: timestamptz on PostgreSQL, naive UTC text on SQLite.
    op.create_table(
        "quota_reservations",
        sa.Column("id", sa.String(length=32), nullable=False),
        sa.Column("organisation_id", sa.BigInteger(), nullable=False),
        sa.Column("wa_id", sa.String(length=32), nullable=False),
        sa.Column("expires_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_quota_reservations")),
    )
    op.create_index(
        op.f("ix_quota_reservations_organisation_id"),
        "quota_reservations",
        ["organisation_id"],
        unique=False,
    )


def downgrade() -> None:
    op.drop_index(op.f("ix_quota_reservations_organisation_id"), table_name="quota_reservations")
    op.drop_table("quota_reservations")
