"""A bulk's original estimate (the 202's, kept when re-planned) and its estimated completion,
re-planned while it sends.

Revision ID: 0015
Revises: 0014
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0015"
down_revision: str | None = "0014"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("bulks") as batch:
        batch.add_column(sa.Column("original_estimated_time_minutes", sa.Float(), nullable=True))
        batch.add_column(
            sa.Column("estimated_completion_at", sa.DateTime(timezone=True), nullable=True)
        )


def downgrade() -> None:
    with op.batch_alter_table("bulks") as batch:
        batch.drop_column("estimated_completion_at")
        batch.drop_column("original_estimated_time_minutes")
