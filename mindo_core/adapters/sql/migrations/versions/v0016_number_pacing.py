"""Until when a phone number's slots are taken by senders other than its owner (single sends
from processes that do not hold it, the owner before a handover): ``number_leases.paced_until``.

Revision ID: 0016
Revises: 0015
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0016"
down_revision: str | None = "0015"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("number_leases") as batch:
        batch.add_column(sa.Column("paced_until", sa.DateTime(timezone=True), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("number_leases") as batch:
        batch.drop_column("paced_until")
