"""The organisation's business profile (GET /api/v1/business-info/), kept as one JSON value.

Revision ID: 0003
Revises: 0002
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0003"
down_revision: str | None = "0002"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

EMPTY_PROFILE = '{"timezone": "UTC"}'


def upgrade() -> None:
    with op.batch_alter_table("organisations") as batch:
        batch.add_column(
            sa.Column("profile", sa.JSON(), nullable=False, server_default=EMPTY_PROFILE)
        )
    # The default only fills existing rows; the models write the value themselves.
    with op.batch_alter_table("organisations") as batch:
        batch.alter_column("profile", server_default=None)


def downgrade() -> None:
    with op.batch_alter_table("organisations") as batch:
        batch.drop_column("profile")
