"""Call starts and unknown outcomes: when a bulk recipient's call to Meta was about to start, so
that a crash settles as unknown only the recipients whose call had started; when an unknown one
was resent, and how many a bulk resent.

Revision ID: 0014
Revises: 0013
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0014"
down_revision: str | None = "0013"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("messages") as batch:
        # UTCDateTime in the models: timestamptz on PostgreSQL, naive UTC text on SQLite.
        batch.add_column(sa.Column("call_started_at", sa.DateTime(timezone=True), nullable=True))
        batch.add_column(sa.Column("resent_at", sa.DateTime(timezone=True), nullable=True))
    with op.batch_alter_table("bulks") as batch:
        batch.add_column(
            sa.Column("resent_count", sa.Integer(), nullable=False, server_default="0")
        )
    # Rows in flight or unconfirmed when this runs were claimed by an engine that marked no
    # call starts: they may have reached Meta, so they count as started at their claim.
    op.execute(
        "UPDATE messages SET call_started_at = claimed_at"
        " WHERE status IN ('in_flight', 'unconfirmed')"
    )
    _partial_index(
        "ix_messages_unconfirmed_call_started_at",
        ["call_started_at"],
        "status = 'unconfirmed'",
    )
    _partial_index(
        "ix_messages_phone_number_row_id_call_started_at",
        ["phone_number_row_id", "call_started_at"],
        "call_started_at IS NOT NULL",
    )


def _partial_index(name: str, columns: list[str], where: str) -> None:
    condition = sa.text(where)
    op.create_index(
        op.f(name), "messages", columns, sqlite_where=condition, postgresql_where=condition
    )


def downgrade() -> None:
    op.drop_index(op.f("ix_messages_phone_number_row_id_call_started_at"), "messages")
    op.drop_index(op.f("ix_messages_unconfirmed_call_started_at"), "messages")
    with op.batch_alter_table("bulks") as batch:
        batch.drop_column("resent_count")
    with op.batch_alter_table("messages") as batch:
        batch.drop_column("resent_at")
        batch.drop_column("call_started_at")
