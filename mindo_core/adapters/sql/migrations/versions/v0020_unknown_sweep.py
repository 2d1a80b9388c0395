"""What the sweep of unknown outcomes reads and writes: when a message's first status webhook
was heard (``messages.first_webhook_at``), when a bulk recipient was resent by the policy
``resend`` (``messages.resent_at``, at most once) and how many were (``bulks.resent_count``);
indexed so that a pass costs little with 100,000-recipient bulks.

Revision ID: 0020
Revises: 0019
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0020"
down_revision: str | None = "0019"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

# The open unknowns (the sweep's candidates), and the webhooks heard per number and time.
_OPEN_UNKNOWN = "status = 'unconfirmed' AND failed_at IS NULL"
_HEARD = "first_webhook_at IS NOT NULL"


def upgrade() -> None:
    with op.batch_alter_table("messages") as batch:
        batch.add_column(sa.Column("first_webhook_at", sa.DateTime(timezone=True), nullable=True))
        batch.add_column(sa.Column("resent_at", sa.DateTime(timezone=True), nullable=True))
    with op.batch_alter_table("bulks") as batch:
        batch.add_column(
            sa.Column("resent_count", sa.Integer(), nullable=False, server_default="0")
        )
    _partial_index("ix_messages_open_unknown", ["organisation_id"], _OPEN_UNKNOWN)
    _partial_index(
        "ix_messages_phone_number_row_id_first_webhook_at",
        ["phone_number_row_id", "first_webhook_at"],
        _HEARD,
    )


def downgrade() -> None:
    op.drop_index(op.f("ix_messages_phone_number_row_id_first_webhook_at"), table_name="messages")
    op.drop_index(op.f("ix_messages_open_unknown"), table_name="messages")
    with op.batch_alter_table("bulks") as batch:
        batch.drop_column("resent_count")
    with op.batch_alter_table("messages") as batch:
        batch.drop_column("resent_at")
        batch.drop_column("first_webhook_at")


def _partial_index(name: str, columns: list[str], where: str) -> None:
    condition = sa.text(where)
    op.create_index(
        op.f(name),
        "messages",
        columns,
        sqlite_where=condition,
        postgresql_where=condition,
    )
