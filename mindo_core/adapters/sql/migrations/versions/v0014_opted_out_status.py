"""Recipients skipped because they opted out get their own status and count.

Before, a bulk recipient on the suppression list was ``failed`` with an ``error_message``
starting ``opted_out:`` and no error code; now it is ``opted_out``, still counted in
``failed_count`` and also in the new ``opted_out_count``.

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

_WAS_OPTED_OUT = (
    "status = 'failed' AND bulk_id IS NOT NULL AND error_code IS NULL "
    "AND error_message LIKE 'opted_out:%'"
)


def upgrade() -> None:
    with op.batch_alter_table("bulks") as batch:
        batch.add_column(
            sa.Column("opted_out_count", sa.Integer(), nullable=False, server_default="0")
        )
    op.execute(f"UPDATE messages SET status = 'opted_out' WHERE {_WAS_OPTED_OUT}")
    op.execute(
        "UPDATE bulks SET opted_out_count = (SELECT COUNT(*) FROM messages AS m "
        "WHERE m.bulk_id = bulks.id AND m.status = 'opted_out')"
    )


def downgrade() -> None:
    op.execute("UPDATE messages SET status = 'failed' WHERE status = 'opted_out'")
    with op.batch_alter_table("bulks") as batch:
        batch.drop_column("opted_out_count")
