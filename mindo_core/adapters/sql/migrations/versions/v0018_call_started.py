"""When a claimed bulk recipient's call to Meta started: ``messages.call_started_at``. In flight
and NULL, the call never started, and a crash releases the recipient instead of settling it as
unknown.

Revision ID: 0018
Revises: 0017
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0018"
down_revision: str | None = "0017"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("messages") as batch:
        batch.add_column(sa.Column("call_started_at", sa.DateTime(timezone=True), nullable=True))
    # In flight before this revision: the claim was the only mark, so a crash left them unknown.
    # Counted as started, they stay so.
    op.execute("UPDATE messages SET call_started_at = claimed_at WHERE status = 'in_flight'")


def downgrade() -> None:
    with op.batch_alter_table("messages") as batch:
        batch.drop_column("call_started_at")
