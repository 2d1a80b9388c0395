"""Campaign control: a bulk's pause_reason (the quality guard's), parent_bulk_id (a resend of
another's failed recipients) and send_window (its recipients' local hours); an organisation's
quality_policy.

Revision ID: 0013
Revises: 0012
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0013"
down_revision: str | None = "0012"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("bulks") as batch:
        batch.add_column(sa.Column("pause_reason", sa.Text(), nullable=True))
        batch.add_column(sa.Column("parent_bulk_id", sa.String(36), nullable=True))
        batch.add_column(sa.Column("send_window", sa.String(80), nullable=True))
    with op.batch_alter_table("organisations") as batch:
        batch.add_column(
            sa.Column("quality_policy", sa.String(16), nullable=False, server_default="pause")
        )


def downgrade() -> None:
    with op.batch_alter_table("organisations") as batch:
        batch.drop_column("quality_policy")
    with op.batch_alter_table("bulks") as batch:
        batch.drop_column("send_window")
        batch.drop_column("parent_bulk_id")
        batch.drop_column("pause_reason")
